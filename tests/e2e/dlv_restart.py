#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/dlv_restart.py - bookkeeping for t_dlv_restart.

    dlv_restart.py snap SPOOL OUT SINKDIR...
        after the relay stopped: writes OUT (JSON) with, per queue id still
        in the spool, the recipients the journal records as delivered, and
        the sinks' delivery counts per (queue id, recipient) so far.
    dlv_restart.py verify SNAP IDS RCPTS SINKDIR...
        after the restarted relay emptied its spool: every (id, rcpt) of
        the ids in file IDS x the recipients RCPTS (comma separated) was
        delivered at least once; none that the snapshot shows recorded
        (delivered in the journal, or its message already removed) was
        delivered again after the restart. Prints the figures.
"""
import json
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import spool  # noqa: E402

RID = re.compile(rb"^Received: [^\n]*(?:\n[ \t][^\n]*)*?\bby relay\.test \(danerelay\) with E?SMTPS?A? id ([A-Za-z0-9]+)", re.M)


def tally(dirs):
	n = {}
	for d in dirs:
		if not os.path.isdir(d):
			continue
		for f in os.listdir(d):
			if not f.endswith(".msg"):
				continue
			data = open(os.path.join(d, f), "rb").read()
			head, _, content = data.partition(b"\n\n")
			m = RID.match(content)
			if not m:
				continue
			q = m.group(1).decode()
			for ln in head.split(b"\n"):
				if ln.startswith(b"rcpt to: <"):
					r = ln[10:].split(b">")[0].decode().lower()
					k = q + " " + r
					n[k] = n.get(k, 0) + 1
	return n


def snap(sp, out, dirs):
	left = {}
	for q in spool.messages(sp):
		m = spool.load(sp, q)
		left[q] = [r["addr"].lower() for r in m["rcpts"] if r["state"] == "delivered"]
	json.dump({"left": left, "count": tally(dirs)}, open(out, "w"))
	print("snapshot: %d messages left in the spool, %d recipients of them recorded delivered, %d deliveries so far"
	      % (len(left), sum(len(v) for v in left.values()), sum(tally(dirs).values())))


def verify(snapf, idsf, rcpts, dirs):
	s = json.load(open(snapf))
	ids = [l.strip() for l in open(idsf) if l.strip()]
	rcpts = [r.lower() for r in rcpts.split(",")]
	now = tally(dirs)
	bad = []
	dup_unrec = 0
	recorded = 0
	for q in ids:
		for r in rcpts:
			k = q + " " + r
			c = now.get(k, 0)
			before = s["count"].get(k, 0)
			if c == 0:
				bad.append("%s never delivered" % k)
				continue
			rec = q not in s["left"] or r in s["left"][q]
			if rec:
				recorded += 1
				if c != before:
					bad.append("%s recorded delivered before the stop (%d copies then), %d copies now" % (k, before, c))
			elif c > 1:
				dup_unrec += 1
	print("%d messages x %d recipients: %d recorded delivered at the stop, %d unrecorded ones delivered twice (allowed: their 250 was not recorded)"
	      % (len(ids), len(rcpts), recorded, dup_unrec))
	if bad:
		print("FAIL: " + "\nFAIL: ".join(bad[:20]))
		sys.exit(1)


if __name__ == "__main__":
	if sys.argv[1] == "snap":
		snap(sys.argv[2], sys.argv[3], sys.argv[4:])
	else:
		verify(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
