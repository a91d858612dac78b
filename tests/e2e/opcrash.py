#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/opcrash.py - the spool checks of t_crash_domain_ops: a kill -9
of the daemon while `queue delete|hold|release @DOMAIN` has changes in
flight. Reads the spool from the outside (spool.py), byte for byte.

    opcrash.py snap SPOOL OUT
        every message's files as they are: OUT (JSON) holds, per queue id,
        msg/ID and msg/ID.st (hex; null: no journal) and its envelope.
    opcrash.py killon PID SPOOL EVENT N SECONDS READY
        watches SPOOL/msg with inotify(7), then creates the file READY; at
        the N-th EVENT there, SIGKILL to PID at once. EVENT "unlink": a
        message file (msg/ID) removed; "append": a journal (msg/ID.st)
        written to. Prints what it saw; exit 1 (no kill) if the N-th event
        does not come within SECONDS. (The log cannot time the kill: its
        lines are written once per loop turn, and a whole domain's changes
        take a few tens of milliseconds.)
    opcrash.py after SPOOL SNAP SENTDIR VERB AIDS BIDS LOG OFFSET
        the spool after the crash (daemon down), against SNAP. AIDS, BIDS:
        files of queue ids (DOMAIN_A's, the others'). BIDS: both files
        exactly as in SNAP. AIDS, VERB delete: msg/ID either gone or
        exactly as in SNAP and intact against SENTDIR/ID.eml (its journal
        as in SNAP too); VERB hold (release): msg/ID exactly as in SNAP,
        msg/ID.st as in SNAP or SNAP plus one "H 1" ("H 0") record, and
        every id LOG names "held (released) by the operator" after OFFSET
        carries it. Nothing in corrupt/. Prints "KEY=VALUE" lines: msgs
        (msg/ files), gone, orphans (msg/ID.st without msg/ID), present,
        logged, inflight (logged, not yet removed), changed (A with the
        new record).
    opcrash.py listed LIST SPOOL SNAP BIDS
        `queue list --json` (LIST) of the restarted daemon against the
        disk: the same ids as msg/ holds, each held exactly when its last
        H record says so, and every BIDS message's recipients (address,
        state, attempts, next attempt, reason) as in SNAP.
    opcrash.py delivered SENTDIR SNAP IDS NEVER SINKDIR...
        each id of the file IDS delivered to each of its recipients (as in
        SNAP) exactly once over all SINKDIRs, intact (our Received: header
        + SENTDIR/ID.eml); no id of the file NEVER delivered at all.
"""

import json
import os
import re
import signal
import sys
import time
import zlib

import dlv
import spool

HOLD_RE = re.compile(rb"H ([01]) [0-9a-f]{8}\n")


def read(path):
	try:
		with open(path, "rb") as f:
			return f.read()
	except FileNotFoundError:
		return None


def ids_of(path):
	with open(path) as f:
		return [ln.strip() for ln in f if ln.strip()]


def hold_record(held):
	"""The journal's hold record (queue/envelope.c): "H 1 CRC" LF."""
	r = b"H %d" % held
	return r + b" %08x\n" % zlib.crc32(r)


def last_hold(st):
	"""The state of the last valid H record of journal bytes st."""
	held = False
	for m in HOLD_RE.finditer(st or b""):
		if (m.start() == 0 or st[m.start() - 1:m.start()] == b"\n") and \
		    m.group(0) == hold_record(int(m.group(1))):
			held = m.group(1) == b"1"
	return held


def cmd_snap(sp, out):
	snap = {}
	for qid in spool.messages(sp):
		d = os.path.join(sp, "msg", qid)
		st = read(d + ".st")
		m = spool.load(sp, qid)
		snap[qid] = {"msg": read(d).hex(), "st": None if st is None else st.hex(),
		             "rcpts": m["rcpts"], "sender": m["sender"]}
	with open(out, "w") as f:
		json.dump(snap, f)
	print("snapshot: %d messages" % len(snap))


IN_MODIFY, IN_DELETE = 0x2, 0x200


def cmd_killon(pid, sp, event, n, seconds, ready):
	import ctypes
	import select
	import struct
	libc = ctypes.CDLL(None, use_errno=True)
	fd = libc.inotify_init1(os.O_CLOEXEC)
	mask = IN_DELETE if event == "unlink" else IN_MODIFY
	if fd < 0 or libc.inotify_add_watch(fd, os.path.join(sp, "msg").encode(), mask) < 0:
		raise OSError(ctypes.get_errno(), "inotify")
	open(ready, "w").write("watching\n")
	deadline = time.monotonic() + seconds
	seen = 0
	while seen < n:
		left = deadline - time.monotonic()
		if left <= 0 or not select.select([fd], [], [], left)[0]:
			print("only %d %s events in %ds" % (seen, event, seconds))
			return 1
		buf, off = os.read(fd, 65536), 0
		while off < len(buf):
			_, m, _, ln = struct.unpack_from("iIII", buf, off)
			name = buf[off + 16:off + 16 + ln].rstrip(b"\0")
			off += 16 + ln
			seen += m & mask != 0 and name.endswith(b".st") == (event == "append")
	os.kill(pid, signal.SIGKILL)
	print("killed after %d events (%s) in msg/" % (seen, event))
	return 0


def fail(msg):
	raise spool.SpoolError(msg)


def cmd_after(sp, snapf, sent, verb, aids, bids, log, offset):
	with open(snapf) as f:
		snap = json.load(f)
	aids, bids = ids_of(aids), ids_of(bids)
	msgdir = os.path.join(sp, "msg")
	names = os.listdir(msgdir)
	corrupt = os.listdir(os.path.join(sp, "corrupt"))
	if corrupt:
		fail("corrupt/ holds %s" % corrupt)
	with open(log, "rb") as f:
		f.seek(offset)
		text = f.read().decode("utf-8", "replace")
	done = {"hold": "held", "release": "released", "delete": "deleted"}[verb]
	logged = set(re.findall(r"([0-9A-Z]{15}): %s by the operator" % done, text))
	for qid in bids:
		want = snap[qid]
		got_msg, got_st = read(os.path.join(msgdir, qid)), read(os.path.join(msgdir, qid + ".st"))
		if got_msg is None or got_msg.hex() != want["msg"]:
			fail("%s (not in the domain): msg/%s changed or gone" % (qid, qid))
		if (None if got_st is None else got_st.hex()) != want["st"]:
			fail("%s (not in the domain): msg/%s.st changed: %r" % (qid, qid, got_st))
	c = {"msgs": sum(1 for n in names if not n.endswith(".st")), "gone": 0,
	     "orphans": 0, "present": 0, "logged": len(logged & set(aids)),
	     "inflight": 0, "changed": 0}
	for qid in aids:
		want = snap[qid]
		got_msg, got_st = read(os.path.join(msgdir, qid)), read(os.path.join(msgdir, qid + ".st"))
		before_st = None if want["st"] is None else bytes.fromhex(want["st"])
		if got_msg is None:
			if verb != "delete":
				fail("%s: msg/%s gone after %s" % (qid, qid, verb))
			c["gone"] += 1
			if got_st is not None:
				# a crash between the two unlinks: recovery removes it
				c["orphans"] += 1
			continue
		c["present"] += 1
		if got_msg.hex() != want["msg"]:
			fail("%s: msg/%s changed" % (qid, qid))
		with open(os.path.join(sent, qid + ".eml"), "rb") as f:
			spool.check(sp, qid, f.read(), want["sender"], [r["addr"] for r in want["rcpts"]])
		if verb == "delete":
			if got_st != before_st:
				fail("%s: msg/%s.st changed by delete: %r" % (qid, qid, got_st))
			c["inflight"] += qid in logged
			continue
		if got_st == before_st:
			if qid in logged:
				fail("%s: logged as %s, no record in msg/%s.st: %r" % (qid, done, qid, got_st))
			continue
		if got_st != (before_st or b"") + hold_record(verb == "hold"):
			fail("%s: msg/%s.st is not the journal before plus one %s record: %r" %
			     (qid, qid, hold_record(verb == "hold")[:3], got_st))
		c["changed"] += 1
	for k in ("msgs", "gone", "orphans", "present", "logged", "inflight", "changed"):
		print("%s=%d" % (k, c[k]))


def cmd_listed(lst, sp, snapf, bids):
	with open(snapf) as f:
		snap = json.load(f)
	with open(lst) as f:
		msgs = {j["queue_id"]: j for j in map(json.loads, f)}
	disk = set(spool.messages(sp))
	if set(msgs) != disk:
		fail("listed %d, on disk %d: only listed %s, only on disk %s" %
		     (len(msgs), len(disk), sorted(set(msgs) - disk)[:5], sorted(disk - set(msgs))[:5]))
	for qid, j in msgs.items():
		if j["held"] != last_hold(read(os.path.join(sp, "msg", qid + ".st"))):
			fail("%s: listed held=%s, its journal says otherwise" % (qid, j["held"]))
	for qid in ids_of(bids):
		want = [(r["addr"], r["state"], r["attempts"], r["next_attempt"], r["error"] or "")
		        for r in snap[qid]["rcpts"]]
		got = [(r["address"], r["state"], r["attempts"], r["next_attempt"], r["delay_reason"])
		       for r in msgs[qid]["recipients"]]
		if got != want:
			fail("%s: recipients after the restart %r, before %r" % (qid, got, want))
	print("listed: %d messages, as on disk" % len(msgs))


def cmd_delivered(sent, snapf, idsf, neverf, sinks):
	with open(snapf) as f:
		snap = json.load(f)
	files = {}
	for d in sinks:
		for p in dlv.sink_files(d):
			env, content = dlv.read_sink(p)
			files.setdefault(dlv.qid_of(content), []).append((p, env, content))
	ids = ids_of(idsf)
	for qid in ids:
		got = files.get(qid, [])
		with open(os.path.join(sent, qid + ".eml"), "rb") as f:
			want = f.read().replace(b"\r\n", b"\n")
		rcpts = []
		for p, env, content in got:
			end = re.match(rb"Received: [^\n]*\n(?:[ \t][^\n]*\n)*", content).end()
			if content[end:] != want:
				fail("%s: %s differs from what was sent" % (qid, p))
			rcpts += [dlv.addr_of(r) for r in env["rcpt to"]]
		if sorted(rcpts) != sorted(r["addr"] for r in snap[qid]["rcpts"]):
			fail("%s: delivered %d times, to %s" % (qid, len(got), rcpts))
	for qid in ids_of(neverf):
		if qid in files:
			fail("%s was delivered: %s" % (qid, files[qid][0][0]))
	print("delivered: %d messages, each recipient once, intact; %d never" %
	      (len(ids), len(ids_of(neverf))))


def main(a):
	if a[1] == "snap":
		cmd_snap(a[2], a[3])
	elif a[1] == "killon":
		return cmd_killon(int(a[2]), a[3], a[4], int(a[5]), float(a[6]), a[7])
	elif a[1] == "after":
		cmd_after(a[2], a[3], a[4], a[5], a[6], a[7], a[8], int(a[9]))
	elif a[1] == "listed":
		cmd_listed(a[2], a[3], a[4], a[5])
	elif a[1] == "delivered":
		cmd_delivered(a[2], a[3], a[4], a[5], a[6:])
	else:
		sys.stderr.write(__doc__)
		return 2
	return 0


if __name__ == "__main__":
	try:
		sys.exit(main(sys.argv))
	except (spool.SpoolError, OSError, ValueError, KeyError) as e:
		print("FAIL: %s" % e)
		sys.exit(1)
