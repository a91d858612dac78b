#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/soak.py - the crash-cycle soak (t_crash_soak.sh, scripts/soak).

    soak.py --bin BIN --conf CONF --log LOG --spool SPOOL --addr A --port P
            --sink DIR [--sink DIR ...] --rcpts R,R,... --pidfile FILE
            [--cycles N] [--clients N] [--seed S] [--drain SECS]

Runs the daemon BIN -c CONF itself and, for N cycles, kills it with SIGKILL
at a random moment (0.2 to 1.5 s after it logged "started") while CLIENTS
connections send mail back to back, then restarts it on the same spool.
Mail is accepted (inbound, fsync before 250) and delivered (to the test
sinks writing into the --sink directories) the whole time, so the kills
land in every phase: mid-DATA, between the 250 and the journal, mid-
delivery, between a remote 250 and its journal record. After the last
cycle the load stops, the daemon drains its spool (SIGUSR1 now and then
so no backoff delays it), and stops on SIGTERM (exit status 0: ASan clean).

Each message carries its own Subject (soak-sSEED-cCLIENT-nN) and its own
recipients; what the client knows of it:
  acked    250 after the final "."        -> every recipient delivered
  doubt    "." sent, no reply (crash)     -> may be delivered, or not
  partial  "." never sent                 -> never delivered
Then the sinks' files are read (each must hold our Received: header and
the content as sent) and counted per (message, recipient). Printed:
acknowledged, lost (acked but a recipient never delivered: must be 0),
delivered more than once (at-least-once allows it after a crash), and the
exit status is 1 on any loss, phantom (partial delivered), damaged copy,
unexpected bounce, or a daemon that did not restart, drain or stop.

The current daemon's pid is kept in --pidfile (emptied once reaped), so
the calling script can stop it by its pid if this program is killed.
Every wait is bounded.
"""

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtpclient as sc  # noqa: E402

SUBJECT = re.compile(rb"(?m)^Subject: (soak-[-a-z0-9]+)$")


class Soak:
	def __init__(self, a):
		self.a = a
		self.rnd = random.Random(a.seed)
		self.lock = threading.Lock()
		self.records = {}	# message id -> dict
		self.stop = threading.Event()
		self.proc = None
		self.logpos = 0
		self.errors = []

	# --- the daemon ---

	def start(self):
		pos = os.path.getsize(self.a.log) if os.path.exists(self.a.log) else 0
		err = open(self.a.stderr, "ab")
		self.proc = subprocess.Popen([self.a.bin, "-c", self.a.conf],
		                             stdout=err, stderr=err, stdin=subprocess.DEVNULL)
		err.close()
		with open(self.a.pidfile, "w") as f:
			f.write("%d\n" % self.proc.pid)
		want = ("danerelay[%d]: started" % self.proc.pid).encode()
		deadline = time.monotonic() + 30
		while time.monotonic() < deadline:
			if self.proc.poll() is not None:
				raise SystemExit("FAIL: daemon exited at start with status %d" % self.proc.returncode)
			try:
				with open(self.a.log, "rb") as f:
					f.seek(pos)
					if want in f.read():
						return
			except FileNotFoundError:
				pass
			time.sleep(0.05)
		raise SystemExit("FAIL: daemon pid %d did not log 'started' within 30 s" % self.proc.pid)

	def reaped(self):
		with open(self.a.pidfile, "w"):
			pass

	def kill9(self):
		self.proc.send_signal(signal.SIGKILL)
		self.proc.wait(timeout=30)
		self.reaped()

	def term(self):
		self.proc.send_signal(signal.SIGTERM)
		try:
			st = self.proc.wait(timeout=30)
		except subprocess.TimeoutExpired:
			self.kill9()
			raise SystemExit("FAIL: daemon did not stop within 30 s of SIGTERM")
		self.reaped()
		return st

	# --- the load ---

	def new_record(self, client, n):
		mid = "soak-s%d-c%d-n%d" % (self.a.seed, client, n)
		rcpts = self.a.rcpts
		k = 1 + (client + n) % min(3, len(rcpts))
		first = (client * 7 + n) % len(rcpts)
		rec = {"id": mid, "client": client, "n": n,
		       "size": (300, 1500, 6000, 30000)[(client + n) % 4],
		       "rcpts": [rcpts[(first + i) % len(rcpts)].replace("@", "-%d-%d@" % (client, n), 1)
		                 for i in range(k)],
		       "state": "partial", "qid": None}
		with self.lock:
			self.records[mid] = rec
		return rec

	def content(self, rec):
		return sc.make_content(rec["id"], size=rec["size"], seed=rec["client"] * 100000 + rec["n"])

	def client(self, client):
		n = 0
		while not self.stop.is_set():
			try:
				c = sc.Client(self.a.addr, self.a.port, greet=True, timeout=15)
				c.ehlo("c%d.soak.test" % client)
			except (sc.Failure, OSError):
				time.sleep(0.05)	# the daemon is restarting
				continue
			try:
				while not self.stop.is_set():
					rec = self.new_record(client, n)
					n += 1
					m = self.content(rec)
					c.send(("MAIL FROM:<c%d@soak.test>\r\n" % client +
					        "".join("RCPT TO:<%s>\r\n" % r for r in rec["rcpts"]) +
					        "DATA\r\n").encode())
					for _ in range(1 + len(rec["rcpts"])):
						c.expect(250)
					c.expect(354)
					block = sc.data_block(m)
					c.send(block[:-3])
					with self.lock:	# before the ".": a crash now is doubt
						rec["state"] = "doubt"
					c.send(block[-3:])
					r = c.reply()
					with self.lock:
						if r.code == 250:
							rec["state"] = "acked"
							rec["qid"] = sc.queue_id_from(r.text)
						else:
							rec["state"] = "refused %d" % r.code
			except (sc.Failure, OSError):
				pass
			try:
				c.close()
			except Exception:
				pass

	# --- the run ---

	def spool_left(self):
		d = os.path.join(self.a.spool, "msg")
		try:
			return [f for f in os.listdir(d) if "." not in f]
		except FileNotFoundError:
			return []

	def run(self):
		a = self.a
		t0 = time.monotonic()
		self.start()
		threads = [threading.Thread(target=self.client, args=(i,), daemon=True)
		           for i in range(a.clients)]
		for t in threads:
			t.start()
		for cycle in range(1, a.cycles + 1):
			alive = self.rnd.uniform(0.2, 1.5)
			time.sleep(alive)
			self.kill9()
			with self.lock:
				acked = sum(1 for r in self.records.values() if r["state"] == "acked")
			print("cycle %d: killed -9 after %.2f s, %d acknowledged so far, %d in the spool" %
			      (cycle, alive, acked, len(self.spool_left())), flush=True)
			self.start()
		self.stop.set()
		for t in threads:
			t.join(30)
			if t.is_alive():
				raise SystemExit("FAIL: a load client did not stop within 30 s")
		# drain: everything acknowledged must leave the spool, delivered
		deadline = time.monotonic() + a.drain
		last_flush = 0
		while self.spool_left():
			if time.monotonic() > deadline:
				self.term()
				raise SystemExit("FAIL: %d messages still in the spool %d s after the load stopped: %s"
				                 % (len(self.spool_left()), a.drain, " ".join(self.spool_left()[:10])))
			if time.monotonic() - last_flush > 2:
				self.proc.send_signal(signal.SIGUSR1)
				last_flush = time.monotonic()
			time.sleep(0.2)
		st = self.term()
		if st != 0:
			raise SystemExit("FAIL: daemon exited with status %d on SIGTERM after the drain" % st)
		return time.monotonic() - t0

	# --- the count ---

	def tally(self):
		count = {}	# (id, rcpt) -> copies
		damaged, strays = [], []
		for d in self.a.sinks:
			if not os.path.isdir(d):
				continue
			for f in sorted(os.listdir(d)):
				if not f.endswith(".msg"):
					continue
				path = os.path.join(d, f)
				data = open(path, "rb").read()
				head, _, content = data.partition(b"\n\n")
				m = SUBJECT.search(content)
				rec = self.records.get(m.group(1).decode()) if m else None
				if rec is None:
					strays.append(path)	# e.g. a bounce: none expected
					continue
				env = [ln[len(b"rcpt to: <"):].split(b">")[0].decode().lower()
				       for ln in head.split(b"\n") if ln.startswith(b"rcpt to: <")]
				hdr = re.match(rb"Received: [^\n]*\n(?:[ \t][^\n]*\n)*", content)
				if not hdr or b"(danerelay)" not in hdr.group(0) or \
				   content[hdr.end():] != self.content(rec).replace(b"\r\n", b"\n"):
					damaged.append(path)
				for r in env:
					count[(rec["id"], r)] = count.get((rec["id"], r), 0) + 1
		return count, damaged, strays


def main():
	p = argparse.ArgumentParser()
	p.add_argument("--bin", required=True)
	p.add_argument("--conf", required=True)
	p.add_argument("--log", required=True)
	p.add_argument("--stderr", required=True)
	p.add_argument("--spool", required=True)
	p.add_argument("--addr", required=True)
	p.add_argument("--port", required=True)
	p.add_argument("--sink", dest="sinks", action="append", required=True)
	p.add_argument("--rcpts", required=True)
	p.add_argument("--pidfile", required=True)
	p.add_argument("--cycles", type=int, default=100)
	p.add_argument("--clients", type=int, default=6)
	p.add_argument("--seed", type=int, default=int(time.time()) % 100000)
	p.add_argument("--drain", type=int, default=120)
	a = p.parse_args()
	a.rcpts = a.rcpts.split(",")
	print("soak: %d cycles, %d clients, seed %d" % (a.cycles, a.clients, a.seed), flush=True)
	s = Soak(a)
	# stopped from outside (a time bound): still stop the daemon by its pid
	signal.signal(signal.SIGTERM, lambda *_: sys.exit("FAIL: stopped by SIGTERM"))
	try:
		secs = s.run()
	finally:
		if s.proc is not None and s.proc.poll() is None:
			s.proc.kill()
			s.proc.wait()
			s.reaped()
	count, damaged, strays = s.tally()
	acked = [r for r in s.records.values() if r["state"] == "acked"]
	doubt = [r for r in s.records.values() if r["state"] == "doubt"]
	partial = [r for r in s.records.values() if r["state"] == "partial"]
	lost = [(r["id"], x) for r in acked for x in r["rcpts"] if count.get((r["id"], x.lower()), 0) == 0]
	dups = {k: v for k, v in count.items() if v > 1}
	phantom = [r["id"] for r in partial if any(count.get((r["id"], x.lower()), 0) for x in r["rcpts"])]
	doubt_dlv = sum(1 for r in doubt if any(count.get((r["id"], x.lower()), 0) for x in r["rcpts"]))
	print("soak: %d cycles in %.0f s" % (a.cycles, secs))
	print("acknowledged: %d messages (%d recipients)" % (len(acked), sum(len(r["rcpts"]) for r in acked)))
	print("lost: %d recipients of %d messages" % (len(lost), len({i for i, _ in lost})))
	print("delivered more than once: %d recipients (%d extra copies)" %
	      (len(dups), sum(v - 1 for v in dups.values())))
	print("in doubt (\".\" sent, no reply before a kill): %d messages, %d of them delivered" % (len(doubt), doubt_dlv))
	print("never completed by the client: %d messages, %d of them delivered" % (len(partial), len(phantom)))
	print("damaged copies: %d; unexpected messages at the sinks: %d" % (len(damaged), len(strays)))
	bad = False
	for i, x in lost[:20]:
		print("LOST: %s to <%s> (queue id %s)" % (i, x, s.records[i]["qid"]))
		bad = True
	for i in phantom[:20]:
		print("PHANTOM: %s delivered though its \".\" was never sent" % i)
		bad = True
	for f in (damaged + strays)[:20]:
		print("BAD COPY: %s" % f)
		bad = True
	if not acked:
		print("FAIL: nothing was acknowledged: the soak proves nothing")
		bad = True
	if s.records and len(acked) < a.cycles:
		print("FAIL: only %d messages acknowledged in %d cycles: the load did not run" % (len(acked), a.cycles))
		bad = True
	sys.exit(1 if bad else 0)


if __name__ == "__main__":
	main()
