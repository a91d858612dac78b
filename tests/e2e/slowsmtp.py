#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/slowsmtp.py - an SMTP server (plaintext, no STARTTLS) that
holds the reply to the final "." until the test says so, to act on a
message while its delivery is in flight.

    slowsmtp.py ADDR PORT DIR

For each message: after the "." it creates DIR/dot.N (N = 1, 2 ...), then
waits (at most 60 s) for DIR/go.N; if DIR/go.N holds a reply line, that
is the answer (e.g. "451 4.3.0 try later"), else "250 2.0.0 Ok". Writes
DIR/pid once listening. Stops on SIGTERM.
"""
import os
import signal
import socket
import sys
import threading
import time

addr, port, d = sys.argv[1], int(sys.argv[2]), sys.argv[3]
count = [0]
lock = threading.Lock()


def serve(c):
	f = c.makefile("rb")
	def send(s):
		c.sendall(s.encode() + b"\r\n")
	send("220 slow.test ESMTP")
	try:
		while True:
			ln = f.readline()
			if not ln:
				return
			cmd = ln.strip().upper()
			if cmd.startswith(b"EHLO"):
				send("250-slow.test\r\n250 8BITMIME")
			elif cmd.startswith(b"HELO"):
				send("250 slow.test")
			elif cmd == b"DATA":
				send("354 go ahead")
				while True:
					ln = f.readline()
					if not ln or ln in (b".\r\n", b".\n"):
						break
				with lock:
					count[0] += 1
					n = count[0]
				open(os.path.join(d, "dot.%d" % n), "w").close()
				go = os.path.join(d, "go.%d" % n)
				t0 = time.time()
				while not os.path.exists(go) and time.time() - t0 < 60:
					time.sleep(0.05)
				r = open(go).read().strip() if os.path.exists(go) else ""
				send(r or "250 2.0.0 Ok")
			elif cmd == b"QUIT":
				send("221 bye")
				return
			elif cmd == b"RSET" or cmd == b"NOOP":
				send("250 Ok")
			else:
				send("250 Ok")
	except OSError:
		return
	finally:
		c.close()


s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, port))
s.listen(16)
signal.signal(signal.SIGTERM, lambda *a: os._exit(0))
with open(os.path.join(d, "pid"), "w") as p:
	p.write("%d\n" % os.getpid())
while True:
	c, _ = s.accept()
	threading.Thread(target=serve, args=(c,), daemon=True).start()
