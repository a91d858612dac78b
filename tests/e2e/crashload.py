#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/crashload.py - the load and the checks of t_crash_kill9.

    crashload.py load ROUND PID    run concurrent clients against the relay,
                                   kill -9 PID in the middle, record outcomes
    crashload.py verify            compare the spool with the outcomes

load: SENDERS clients send messages back to back on their own sessions
(sizes from 300 octets to 300 KB); STUCK clients each start a message and
stop halfway through its content. Once every stuck client is mid-DATA and
enough messages got 250, the relay is killed at a moment when some sender
has handed its final "." to the kernel and waits for the reply. Every
message is recorded in STATE (JSON, appended across rounds) as one of:
  acked     got 250 (with the queue id in it)    -> must be in the spool, intact
  doubt     "." sent, no reply before the crash  -> may be there; if so, intact
  partial   "." never sent                       -> must not be there
The state "doubt" is set before the final "." is written, so that a crash
between the write and the bookkeeping never passes for "partial".
"""

import json
import os
import signal
import sys
import threading
import time

import smtpclient as sc
import spool

A, P = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"]
SP, T = os.environ["SPOOL"], os.environ["T"]
STATE = T + "/crash.json"
SENDERS = int(os.environ.get("CRASH_SENDERS", "16"))
STUCK = int(os.environ.get("CRASH_STUCK", "6"))
ACKED_BEFORE_KILL = int(os.environ.get("CRASH_ACKED", "40"))

lock = threading.Lock()
records = []		# dicts: round, client, n, subject, size, seed, rcpts, state, qid
stuck_ready = threading.Semaphore(0)
stop = threading.Event()


def content_of(rec):
	return sc.make_content(rec["subject"], size=rec["size"], seed=rec["seed"])


def new_record(rnd, client, n, size):
	rec = {"round": rnd, "client": client, "n": n, "size": size,
	       "seed": rnd * 100000 + client * 1000 + n,
	       "subject": "crash r%d c%d n%d" % (rnd, client, n),
	       "sender": "c%d@client.test" % client,
	       "rcpts": ["r%d@dest%d.example" % (k, (client + k) % 4) for k in range(1 + n % 3)],
	       "state": "partial", "qid": None}
	with lock:
		records.append(rec)
	return rec


def sender(rnd, client):
	n = 0
	try:
		c = sc.Client(A, P, greet=True, timeout=60)
		c.ehlo("c%d.client.test" % client)
		while not stop.is_set():
			size = (300, 2000, 20000, 120000, 300000)[(client + n) % 5]
			rec = new_record(rnd, client, n, size)
			n += 1
			m = content_of(rec)
			c.send(("MAIL FROM:<%s>\r\n" % rec["sender"] +
			        "".join("RCPT TO:<%s>\r\n" % r for r in rec["rcpts"]) +
			        "DATA\r\n").encode())
			for _ in range(1 + len(rec["rcpts"])):
				c.expect(250)
			c.expect(354)
			block = sc.data_block(m)
			c.send(block[:-3])
			with lock:
				rec["state"] = "doubt"
			c.send(block[-3:])
			r = c.expect(250)
			with lock:
				rec["state"] = "acked"
				rec["qid"] = sc.queue_id_from(r.text)
	except (sc.Failure, OSError):
		pass		# the crash; whatever was in flight keeps its state


def stuck(rnd, client):
	rec = new_record(rnd, client, 0, 50000)
	try:
		c = sc.Client(A, P, greet=True, timeout=60)
		c.ehlo("stuck%d.client.test" % client)
		c.cmd("MAIL FROM:<%s>" % rec["sender"], 250)
		for r in rec["rcpts"]:
			c.cmd("RCPT TO:<%s>" % r, 250)
		c.cmd("DATA", 354)
		block = sc.data_block(content_of(rec))
		c.send(block[:len(block) // 2])
		stuck_ready.release()
		stop.wait(120)
		c.pending(2)
	except (sc.Failure, OSError) as e:
		print("stuck client %d: %s" % (client, e))
		stuck_ready.release()


def load(rnd, pid):
	threads = [threading.Thread(target=stuck, args=(rnd, 100 + i)) for i in range(STUCK)]
	threads += [threading.Thread(target=sender, args=(rnd, i)) for i in range(SENDERS)]
	for t in threads:
		t.start()
	for _ in range(STUCK):
		if not stuck_ready.acquire(timeout=60):
			raise sc.Failure("stuck clients did not get to the middle of DATA")
	deadline = time.monotonic() + 120
	while True:
		with lock:
			acked = sum(r["state"] == "acked" for r in records if r["round"] == rnd)
		if acked >= ACKED_BEFORE_KILL:
			break
		if time.monotonic() > deadline:
			raise sc.Failure("only %d messages acked in 120 s" % acked)
		time.sleep(0.01)
	# Kill while some sender waits for its 250 (bounded search for the moment).
	deadline = time.monotonic() + 10
	while time.monotonic() < deadline:
		with lock:
			waiting = sum(r["state"] == "doubt" for r in records)
			if waiting:
				os.kill(pid, signal.SIGKILL)
				break
		time.sleep(0.0005)
	else:
		os.kill(pid, signal.SIGKILL)
	stop.set()
	for t in threads:
		t.join(150)
	with lock:
		mine = [r for r in records if r["round"] == rnd]
	by = {s: sum(r["state"] == s for r in mine) for s in ("acked", "doubt", "partial")}
	print("round %d: killed with %d client(s) waiting for their 250; outcomes %r" %
	      (rnd, waiting, by))
	if by["partial"] < STUCK:
		raise sc.Failure("fewer partial messages than stuck clients")
	old = json.load(open(STATE)) if os.path.exists(STATE) else []
	json.dump(old + mine, open(STATE, "w"))


def verify():
	recs = json.load(open(STATE))
	bymid = {}
	for r in recs:
		bymid["<%d.%s@client.test>" % (r["seed"], r["subject"].replace(" ", "-"))] = r
	ids = spool.messages(SP)
	found = {}
	for q in ids:
		m = spool.load(SP, q)
		_, rest = spool.split_received(m["content"])
		hdr = rest.split(b"\r\n\r\n", 1)[0]
		mid = [l.split(b":", 1)[1].strip().decode() for l in hdr.split(b"\r\n")
		       if l.lower().startswith(b"message-id:")]
		if len(mid) != 1 or mid[0] not in bymid:
			raise sc.Failure("%s: a message nobody sent (or mangled): %r" % (q, hdr[:200]))
		r = bymid[mid[0]]
		if r["state"] == "partial":
			raise sc.Failure("%s: %s never sent its final '.', yet it is in the spool" % (q, r["subject"]))
		if mid[0] in found:
			raise sc.Failure("%s: %s is in the spool twice" % (q, r["subject"]))
		found[mid[0]] = q
		spool.check(SP, q, content_of(r), r["sender"], r["rcpts"])
	acked = [r for r in recs if r["state"] == "acked"]
	for r in acked:
		mid = "<%d.%s@client.test>" % (r["seed"], r["subject"].replace(" ", "-"))
		if mid not in found:
			raise sc.Failure("%s got 250 (%s) and is not in the spool" % (r["subject"], r["qid"]))
		if found[mid] != r["qid"]:
			raise sc.Failure("%s got 250 as %s but is spooled as %s" % (r["subject"], r["qid"], found[mid]))
	doubt = [r for r in recs if r["state"] == "doubt"]
	doubt_in = sum(1 for r in doubt if "<%d.%s@client.test>" % (r["seed"], r["subject"].replace(" ", "-")) in found)
	partial = sum(r["state"] == "partial" for r in recs)
	print("ok: %d acked messages all in the spool intact; %d partial ones absent; "
	      "%d of %d in doubt (\".\" sent, no reply) present, intact" %
	      (len(acked), partial, doubt_in, len(doubt)))
	print(len(ids))


if __name__ == "__main__":
	if sys.argv[1] == "load":
		sc.run_main(lambda: load(int(sys.argv[2]), int(sys.argv[3])))
	else:
		sc.run_main(verify)
