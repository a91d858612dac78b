#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/dlv.py - helpers for the delivery scenarios (t_dlv_*.sh):
inject mail into the relay, and read what the test sink (tests/sink) wrote.

    dlv.py inject --from S --to R [--to R ...] [--n N] [--tag TAG] [--size N] --out DIR
        N messages (default 1; about N octets each with --size) on one SMTP connection to $SMTP_ADDR:$SMTP_PORT;
        prints each queue id and keeps each message's content as DIR/QID.eml.
    dlv.py find SINKDIR QID
        the sink files (one per line) holding the message with queue id QID
        (our Received: header names it).
    dlv.py check SINKFILE SENT QID --from S --rcpt R [--rcpt R ...]
        the envelope is exactly S and R..., the content is our one Received:
        header naming QID followed by SENT byte for byte (LF line ends).
    dlv.py count SINKDIR
        "QID N" per queue id found in the sink files.
    dlv.py dsn SINKFILE --to S --rcpt R --status X.Y.Z --diag TEXT [--rcpt ...]
        a DSN (RFC 3464) from <> to S: multipart/report with a
        message/delivery-status part naming each R with Action: failed, a
        Status of class X, and a Diagnostic-Code containing TEXT.
Exit status 1 with "FAIL: ..." on a mismatch.
"""

import argparse
import email
import email.policy
import os
import re
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtpclient as sc  # noqa: E402


def fail(msg):
	print("FAIL: " + msg)
	sys.exit(1)


def read_sink(path):
	"""(envelope dict, content bytes) of a sink message file."""
	data = open(path, "rb").read()
	head, sep, content = data.partition(b"\n\n")
	if not sep:
		fail("%s: no envelope/content separator" % path)
	env = {"rcpt to": []}
	for ln in head.decode("utf-8", "replace").split("\n"):
		k, _, v = ln.partition(": ")
		if k == "rcpt to":
			env[k].append(v)
		else:
			env[k] = v
	return env, content


def addr_of(v):
	m = re.match(r"<([^>]*)>", v or "")
	return m.group(1) if m else None


RECEIVED_ID = re.compile(rb"^Received: [^\n]*(?:\n[ \t][^\n]*)*?\bby relay\.test \(danerelay\) with E?SMTPS?A? id ([A-Za-z0-9]+)", re.M)


def qid_of(content):
	m = RECEIVED_ID.match(content)
	return m.group(1).decode() if m else None


def cmd_inject(a):
	host = os.environ.get("SMTP_ADDR", "127.0.0.1")
	port = int(os.environ.get("SMTP_PORT", "10025"))
	c = sc.Client(host, port, greet=True)
	c.ehlo("client.test")
	os.makedirs(a.out, exist_ok=True)
	for i in range(a.n):
		content = sc.make_content("%s %d" % (a.tag, i),
		    ["message %d of %s" % (i, a.tag), ".a line with a leading dot",
		     "", "last line"], seed=i, size=a.size)
		content = content.replace(b"Message-ID: <%d." % i, b"Message-ID: <%s.%d." % (a.tag.encode(), i), 1)
		r = c.send_message(a.sender, a.rcpts, content)
		if r.code != 250:
			fail("message %d not accepted: %r" % (i, r))
		q = sc.queue_id_from(r.text)
		with open(os.path.join(a.out, q + ".eml"), "wb") as f:
			f.write(content)
		print(q, flush=True)
	c.cmd("QUIT", 221)


def sink_files(d):
	if not os.path.isdir(d):
		return []
	return sorted(os.path.join(d, n) for n in os.listdir(d) if n.endswith(".msg"))


def cmd_find(a):
	for p in sink_files(a.dir):
		if qid_of(read_sink(p)[1]) == a.qid:
			print(p)


def cmd_count(a):
	n = {}
	for p in sink_files(a.dir):
		q = qid_of(read_sink(p)[1]) or "?"
		n[q] = n.get(q, 0) + 1
	for q in sorted(n):
		print(q, n[q])


def cmd_check(a):
	env, content = read_sink(a.file)
	if addr_of(env.get("mail from")) != a.sender:
		fail("%s: mail from %r, want <%s>" % (a.file, env.get("mail from"), a.sender))
	got = sorted(addr_of(r) for r in env["rcpt to"])
	if got != sorted(a.rcpts):
		fail("%s: recipients %r, want %r" % (a.file, got, sorted(a.rcpts)))
	m = RECEIVED_ID.match(content)
	if not m or m.group(1).decode() != a.qid:
		fail("%s: content does not start with our Received: header for %s: %r" % (a.file, a.qid, content[:300]))
	# the whole Received: header (folded lines), then the message as sent
	end = re.match(rb"Received: [^\n]*\n(?:[ \t][^\n]*\n)*", content).end()
	rest = content[end:]
	sent = open(a.sent, "rb").read().replace(b"\r\n", b"\n")
	if rest != sent:
		fail("%s: content after Received: differs from what was sent:\n%r\n%r" % (a.file, rest[:400], sent[:400]))
	nrec = lambda b: len(re.findall(rb"(?m)^Received:", b))
	if nrec(content) != nrec(sent) + 1:
		fail("%s: %d Received: headers, want %d" % (a.file, nrec(content), nrec(sent) + 1))
	print("ok: %s holds %s from <%s> to %s intact, with our Received: header" % (os.path.basename(a.file), a.qid, a.sender, ", ".join(a.rcpts)))


def cmd_dsn(a):
	env, content = read_sink(a.file)
	if addr_of(env.get("mail from")) != "":
		fail("%s: DSN envelope sender %r, want <>" % (a.file, env.get("mail from")))
	got = [addr_of(r) for r in env["rcpt to"]]
	if got != [a.to]:
		fail("%s: DSN to %r, want [%r]" % (a.file, got, a.to))
	msg = email.message_from_bytes(content, policy=email.policy.compat32)
	if msg.get_content_type() != "multipart/report":
		fail("%s: DSN is %s, not multipart/report" % (a.file, msg.get_content_type()))
	if (msg.get_param("report-type") or "").lower() != "delivery-status":
		fail("%s: report-type %r" % (a.file, msg.get_param("report-type")))
	parts = msg.get_payload()
	if not isinstance(parts, list) or len(parts) < 2:
		fail("%s: multipart/report with fewer than 2 parts" % a.file)
	ds = [p for p in parts if p.get_content_type() == "message/delivery-status"]
	if len(ds) != 1:
		fail("%s: %d message/delivery-status parts" % (a.file, len(ds)))
	# the delivery-status body: per-message fields, then per-recipient groups
	p = ds[0]
	raw = p.get_payload()
	if isinstance(raw, list):	# the email package parses it as header blocks
		blocks = [dict((k.lower(), v) for k, v in b.items()) for b in raw]
	else:
		blocks = []
		for chunk in re.split(r"\r?\n\r?\n", raw.strip()):
			d = {}
			for ln in re.sub(r"\r?\n[ \t]+", " ", chunk).splitlines():
				k, _, v = ln.partition(":")
				d[k.strip().lower()] = v.strip()
			blocks.append(d)
	per_rcpt = {}
	for b in blocks:
		fr = b.get("final-recipient")
		if fr:
			per_rcpt[fr.split(";", 1)[-1].strip().strip("<>").lower()] = b
	for r in a.rcpts:
		b = per_rcpt.get(r.lower())
		if b is None:
			fail("%s: no Final-Recipient for %s (have %r)" % (a.file, r, list(per_rcpt)))
		if b.get("action", "").lower() != "failed":
			fail("%s: %s Action %r" % (a.file, r, b.get("action")))
		st = b.get("status", "")
		if a.status and not st.startswith(a.status):
			fail("%s: %s Status %r, want %s" % (a.file, r, st, a.status))
		diag = re.sub(r"\s+", " ", b.get("diagnostic-code", ""))
		if a.diag and a.diag not in diag:
			fail("%s: %s Diagnostic-Code %r lacks %r" % (a.file, r, diag, a.diag))
	if a.absent:
		for r in a.absent:
			if r.lower() in per_rcpt:
				fail("%s: DSN names %s, which did not fail" % (a.file, r))
	if a.orig and a.orig.encode() not in content:
		fail("%s: DSN does not carry the original message (%r)" % (a.file, a.orig))
	print("ok: %s is a DSN to <%s> naming %s (%s)" % (os.path.basename(a.file), a.to, ", ".join(a.rcpts), a.diag))


def main():
	ap = argparse.ArgumentParser()
	sub = ap.add_subparsers(dest="cmd", required=True)
	p = sub.add_parser("inject")
	p.add_argument("--from", dest="sender", required=True)
	p.add_argument("--to", dest="rcpts", action="append", required=True)
	p.add_argument("--n", type=int, default=1)
	p.add_argument("--tag", default="dlv")
	p.add_argument("--size", type=int, default=None)
	p.add_argument("--out", required=True)
	p = sub.add_parser("find")
	p.add_argument("dir")
	p.add_argument("qid")
	p = sub.add_parser("count")
	p.add_argument("dir")
	p = sub.add_parser("check")
	p.add_argument("file")
	p.add_argument("sent")
	p.add_argument("qid")
	p.add_argument("--from", dest="sender", required=True)
	p.add_argument("--rcpt", dest="rcpts", action="append", required=True)
	p = sub.add_parser("dsn")
	p.add_argument("file")
	p.add_argument("--to", required=True)
	p.add_argument("--rcpt", dest="rcpts", action="append", required=True)
	p.add_argument("--absent", action="append")
	p.add_argument("--status", default="")
	p.add_argument("--diag", default="")
	p.add_argument("--orig", default="")
	a = ap.parse_args()
	try:
		{"inject": cmd_inject, "find": cmd_find, "count": cmd_count,
		 "check": cmd_check, "dsn": cmd_dsn}[a.cmd](a)
	except sc.Failure as e:
		fail(str(e))


if __name__ == "__main__":
	main()
