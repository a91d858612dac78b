#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/hostile_mx.py - a scripted, misbehaving receiving SMTP server
for the t_hostile_*.sh scenarios (asyncio, plaintext, no STARTTLS).

    hostile_mx.py ADDR PORT DIR MODE[,MODE...] [--interval SECS]

Connection N (counting from 1) plays the N-th MODE; the last one repeats.
    ok                an ordinary ESMTP server (PIPELINING, 8BITMIME,
                      SMTPUTF8) that accepts every message
    trickle-greeting  sends its 220 greeting one byte every INTERVAL s
    trickle-dot       takes the message (into DIR/unacked/), then sends
                      the reply to the final "." one byte every INTERVAL s
    slow              every reply complete, each after INTERVAL s
    drop-data         closes the connection after the first line of
                      content that follows its 354
    drop-dot          reads the whole message and the ".", then closes
                      without a reply (the copy goes to DIR/unacked/)
    drop-reuse        accepts the first message of the connection, then
                      closes without a word when the next command comes
                      (a cached connection that died)
    reject-long       refuses every RCPT with a multi-line 550 reply of
                      more than 600 octets
Accepted messages go to DIR/NNNNNNNN.msg in tests/sink's format (envelope
lines "mail from: <A> PARAMS", "rcpt to: <A> PARAMS", an empty line, the
dot-unstuffed content with LF line ends), so dlv.py find/check read them.
DIR/events gets one line per event ("conn N MODE", "accepted N",
"dropped mid-DATA", "dropped after dot", "client left while trickling",
"rcpt refused long"); DIR/ready is written once it listens. It exits on
SIGTERM, or by itself after 10 minutes.
"""

import asyncio
import os
import signal
import sys

LONG_REPLY = ["550-5.1.1 " + ("the mailbox you asked for is not here and this "
    "line is long on purpose %d " % i) * 2 for i in range(8)] + \
    ["550 5.1.1 end of the long refusal"]


class Server:
	def __init__(self, d, modes, interval):
		self.dir = d
		self.modes = modes
		self.interval = interval
		self.conns = 0
		self.seq = 0
		os.makedirs(os.path.join(d, "unacked"), exist_ok=True)

	def event(self, text):
		with open(os.path.join(self.dir, "events"), "a") as f:
			f.write(text + "\n")

	def store(self, sub, env, content):
		self.seq += 1
		d = os.path.join(self.dir, sub) if sub else self.dir
		path = os.path.join(d, "%08d.msg" % self.seq)
		tmp = os.path.join(d, ".%08d.tmp" % self.seq)
		with open(tmp, "wb") as f:
			f.write(("\n".join(env) + "\n\n").encode())
			f.write(content)
		os.rename(tmp, path)
		return path

	async def handle(self, r, w):
		self.conns += 1
		n = self.conns
		mode = self.modes[min(n, len(self.modes)) - 1]
		self.event("conn %d %s" % (n, mode))
		try:
			await self.session(r, w, mode, n)
		except (ConnectionError, asyncio.IncompleteReadError):
			if mode.startswith("trickle"):
				self.event("client left while trickling")
		finally:
			try:
				w.close()
			except Exception:
				pass

	async def send(self, w, text, trickle=False, slow=False):
		data = (text + "\r\n").encode()
		if slow:
			await asyncio.sleep(self.interval)
		if not trickle:
			w.write(data)
			await w.drain()
			return
		for i in range(len(data)):
			w.write(data[i:i + 1])
			await w.drain()
			await asyncio.sleep(self.interval)

	async def session(self, r, w, mode, n):
		slow = mode == "slow"
		await self.send(w, "220 hostile.test ESMTP %s" % mode,
		    trickle=mode == "trickle-greeting", slow=slow)
		env = None
		nmsg = 0
		while True:
			line = await r.readline()
			if not line:
				return
			cmd = line.decode("utf-8", "replace").rstrip("\r\n")
			verb = cmd.split(" ", 1)[0].upper()
			if mode == "drop-reuse" and nmsg >= 1:
				self.event("dropped reused connection at %s" % verb)
				return			# no reply: the connection is dead
			if verb in ("EHLO", "HELO"):
				await self.send(w, "250-hostile.test\r\n250-PIPELINING\r\n"
				    "250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 100000000",
				    slow=slow)
			elif verb == "MAIL":
				env = ["mail from: " + cmd[10:].strip()]
				await self.send(w, "250 2.1.0 Ok", slow=slow)
			elif verb == "RCPT":
				if mode == "reject-long":
					self.event("rcpt refused long")
					await self.send(w, "\r\n".join(LONG_REPLY))
					continue
				env.append("rcpt to: " + cmd[8:].strip())
				await self.send(w, "250 2.1.5 Ok", slow=slow)
			elif verb == "DATA":
				if env is None or len(env) < 2:
					await self.send(w, "554 5.5.1 no valid recipients")
					continue
				await self.send(w, "354 go ahead", slow=slow)
				parts = []
				while True:
					l = await r.readline()
					if not l:
						return
					if mode == "drop-data":
						self.event("dropped mid-DATA")
						return
					if l == b".\r\n":
						break
					if l.startswith(b"."):
						l = l[1:]
					parts.append(l.replace(b"\r\n", b"\n"))
				content = b"".join(parts)
				nmsg += 1
				if mode == "drop-dot":
					self.store("unacked", env, content)
					self.event("dropped after dot")
					return
				# a trickled reply never completes: unacknowledged
				self.store("unacked" if mode == "trickle-dot" else "",
				    env, content)
				self.event("accepted %d" % n)
				await self.send(w, "250 2.0.0 Ok: queued as H%d" % self.seq,
				    trickle=mode == "trickle-dot", slow=slow)
				env = None
			elif verb == "RSET":
				env = None
				await self.send(w, "250 2.0.0 Ok", slow=slow)
			elif verb == "NOOP":
				await self.send(w, "250 2.0.0 Ok", slow=slow)
			elif verb == "QUIT":
				await self.send(w, "221 2.0.0 Bye")
				return
			else:
				await self.send(w, "500 5.5.2 what?")


async def main():
	if len(sys.argv) < 5:
		sys.exit(__doc__)
	addr, port, d, modes = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
	interval = 1.0
	if "--interval" in sys.argv:
		interval = float(sys.argv[sys.argv.index("--interval") + 1])
	os.makedirs(d, exist_ok=True)
	s = Server(d, modes.split(","), interval)
	srv = await asyncio.start_server(s.handle, addr, port, reuse_address=True)
	with open(os.path.join(d, "ready"), "w") as f:
		f.write("%d\n" % os.getpid())
	stop = asyncio.Event()
	asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
	try:
		await asyncio.wait_for(stop.wait(), 600)
	except asyncio.TimeoutError:
		pass
	srv.close()


if __name__ == "__main__":
	asyncio.run(main())
