#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/spool.py - read danerelay's spool from the outside, for tests
and the demo. Knows the on-disk layout documented in queue/queue.c and
nothing else of the daemon: tests compare what it finds with what they sent.

    spool.py list DIR            ids of complete messages, one per line
    spool.py show DIR ID [N]     envelope, then the first N (10) content lines
    spool.py content DIR ID      the message content, raw, to stdout
    spool.py envelope DIR ID     the envelope as JSON
    spool.py leftovers DIR       partly written files (should be none)
    spool.py check DIR ID FILE [--from S] [--to R ...]
                                 content == one Received: header + FILE

As a module: messages(), load(), leftovers(), check().
"""

import json
import os
import re
import sys

# --- the layout (queue/queue.c) ---
#	tmp/ID		being received (never complete)
#	msg/ID		"danerelay-queue 1" envelope lines ... "end" LF, then content
#	msg/ID.st	recipient journal: "R IDX STATE ATTEMPTS NEXT ERROR CRC"

FLAGS = {0x01: "8BITMIME", 0x02: "SMTPUTF8", 0x04: "DSN"}
ID_RE = re.compile(r"^[0-9A-Z]{8,23}$")


def unescape(v):
	"""Envelope value: %HH escapes, "-" for the empty string."""
	if v == b"-":
		return ""
	out = re.sub(rb"%([0-9A-F]{2})", lambda m: bytes([int(m.group(1), 16)]), v)
	return out.decode("utf-8", "surrogateescape")


def messages(spool):
	"""Ids of the complete messages (msg/ID), sorted (ids sort by time)."""
	d = os.path.join(spool, "msg")
	if not os.path.isdir(d):
		return []
	return sorted(n for n in os.listdir(d) if not n.endswith(".st"))


def leftovers(spool):
	"""Partly written messages: anything in tmp/."""
	d = os.path.join(spool, "tmp")
	if not os.path.isdir(d):
		return []
	return sorted(os.path.join(d, n) for n in os.listdir(d))


def wait_no_leftovers(spool, seconds=10):
	"""tmp/ empties: an aborted message's file is unlinked by a queue worker,
	shortly after the reply. Returns what is left after a bounded wait."""
	import time
	deadline = time.monotonic() + seconds
	while leftovers(spool) and time.monotonic() < deadline:
		time.sleep(0.05)
	return leftovers(spool)


def load(spool, qid):
	"""A dict: id, arrival, sender, flags (names), size, client, helo,
	rcpts (list of {addr, state, attempts, next_attempt, error}), content."""
	with open(os.path.join(spool, "msg", qid), "rb") as f:
		data = f.read()
	i = data.find(b"\nend\n")
	if not data.startswith(b"danerelay-queue 1\n") or i < 0:
		raise SpoolError("%s: not a version 1 message file: %r" % (qid, data[:60]))
	head, content = data[:i + 1], data[i + 5:]
	m = {"id": None, "arrival": None, "sender": None, "flags": [], "size": None,
	     "client": None, "helo": None, "rcpts": []}
	for ln in head.split(b"\n")[1:-1]:
		k, _, v = ln.partition(b" ")
		k = k.decode()
		if k == "rcpt":
			m["rcpts"].append({"addr": unescape(v), "state": "pending",
			                   "attempts": 0, "next_attempt": 0, "error": None})
		elif k in ("arrival", "size"):
			m[k] = int(v)
		elif k == "flags":
			bits = int(v)
			m["flags"] = [n for b, n in sorted(FLAGS.items()) if bits & b]
			m["flag_bits"] = bits
		elif k in ("id", "sender", "client", "helo"):
			m[k] = unescape(v)
		else:
			raise SpoolError("%s: unknown envelope line %r" % (qid, ln))
	if m["id"] != qid:
		raise SpoolError("%s: file holds id %r" % (qid, m["id"]))
	if m["size"] != len(content):
		raise SpoolError("%s: size line %s, %d content octets" % (qid, m["size"], len(content)))
	st = os.path.join(spool, "msg", qid + ".st")
	if os.path.exists(st):
		with open(st, "rb") as f:
			for ln in f.read().split(b"\n"):
				p = ln.split(b" ")
				if len(p) != 7 or p[0] != b"R":
					continue
				r = m["rcpts"][int(p[1])]
				r.update(state=p[2].decode(), attempts=int(p[3]),
				         next_attempt=int(p[4]), error=unescape(p[5]) or None)
	m["content"] = content
	return m


# --- checks, independent of the layout ---

class SpoolError(AssertionError):
	pass


def split_received(content):
	"""(received_header, rest): the first header field of content, which must
	be a Received: field (with its folded continuation lines)."""
	if not content[:9].lower() == b"received:":
		raise SpoolError("content does not start with Received: %r" % content[:80])
	i = 0
	while True:
		j = content.find(b"\r\n", i)
		if j < 0:
			raise SpoolError("unterminated Received: header")
		i = j + 2
		if content[i:i + 1] not in (b" ", b"\t"):
			return content[:i], content[i:]


def check(spool, qid, sent, sender=None, rcpts=None):
	"""The message qid must hold exactly `sent` preceded by one Received:
	header, and (if given) the envelope sender and the recipient list.
	Returns the loaded message."""
	m = load(spool, qid)
	rec, rest = split_received(m["content"])
	if rest != sent:
		n = next((k for k in range(min(len(rest), len(sent))) if rest[k] != sent[k]),
		         min(len(rest), len(sent)))
		raise SpoolError("%s: content differs from what was sent at octet %d "
		                 "(spooled %d, sent %d): spooled %r, sent %r" %
		                 (qid, n, len(rest), len(sent), rest[max(0, n - 20):n + 40],
		                  sent[max(0, n - 20):n + 40]))
	if not re.match(rb"(?i)received: from ", rec):
		raise SpoolError("%s: odd Received: header %r" % (qid, rec))
	if m["size"] is not None and m["size"] != len(m["content"]):
		raise SpoolError("%s: envelope size %d, content %d octets" %
		                 (qid, m["size"], len(m["content"])))
	if sender is not None and m["sender"] != sender:
		raise SpoolError("%s: sender %r, want %r" % (qid, m["sender"], sender))
	if rcpts is not None and [r["addr"] for r in m["rcpts"]] != list(rcpts):
		raise SpoolError("%s: recipients %r, want %r" %
		                 (qid, [r["addr"] for r in m["rcpts"]], list(rcpts)))
	return m


def by_message_id(spool):
	"""{Message-ID header value: queue id} over the whole spool."""
	out = {}
	for qid in messages(spool):
		c = load(spool, qid)["content"]
		h = c.split(b"\r\n\r\n", 1)[0]
		mm = re.search(rb"(?im)^message-id:\s*(\S+)", h)
		if mm:
			out.setdefault(mm.group(1).decode("latin-1"), []).append(qid)
	return out


def show(spool, qid, nlines=10):
	m = load(spool, qid)
	print("== %s  from=<%s>  size=%s  flags=%s" % (qid, m["sender"], m["size"],
	                                                ",".join(m["flags"]) or "-"))
	for r in m["rcpts"]:
		print("   to=<%s>  %s" % (r["addr"], r.get("state", "")))
	lines = m["content"].split(b"\r\n")
	for ln in lines[:nlines]:
		print("   | " + ln.decode("utf-8", "replace"))
	if len(lines) > nlines + 1:
		print("   | ... (%d more lines)" % (len(lines) - nlines - 1))


def main(argv):
	if len(argv) < 3:
		sys.stderr.write(__doc__)
		return 2
	op, spool = argv[1], argv[2]
	if op == "list":
		for qid in messages(spool):
			print(qid)
	elif op == "leftovers":
		for p in leftovers(spool):
			print(p)
	elif op == "show":
		show(spool, argv[3], int(argv[4]) if len(argv) > 4 else 10)
	elif op == "content":
		sys.stdout.buffer.write(load(spool, argv[3])["content"])
	elif op == "envelope":
		m = dict(load(spool, argv[3]))
		del m["content"]
		print(json.dumps(m, indent=1))
	elif op == "check":
		qid, f = argv[3], argv[4]
		sender, rcpts, rest = None, None, argv[5:]
		while rest:
			if rest[0] == "--from":
				sender, rest = rest[1], rest[2:]
			elif rest[0] == "--to":
				rcpts, rest = (rcpts or []) + [rest[1]], rest[2:]
			else:
				sys.stderr.write("bad argument %s\n" % rest[0])
				return 2
		with open(f, "rb") as fp:
			check(spool, qid, fp.read(), sender, rcpts)
		print("ok: %s holds the sent message plus one Received: header" % qid)
	else:
		sys.stderr.write(__doc__)
		return 2
	return 0


if __name__ == "__main__":
	try:
		sys.exit(main(sys.argv))
	except (SpoolError, OSError, ValueError) as e:
		print("FAIL: spool: %s" % e)
		sys.exit(1)
