#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/e2e/smuggle.py - SMTP smuggling probes for t_smuggle_lf/t_smuggle_cr.

Each probe opens a session, starts a transaction and sends, in one write,
message content in which a non-standard end-of-data sequence (or a bare LF
or CR) is followed by a complete smuggled transaction, and finally the real
<CRLF>.<CRLF>. A server that honours the odd sequence answers the outer
message early and then runs the smuggled MAIL/RCPT/DATA: several replies and
two messages. A correct server sees one message with a bare LF/CR in it and
rejects it: exactly one 5xx reply and nothing queued. After that the session
is either closed or still in sync (a control message is accepted and is the
only thing in the spool).

    python3 smuggle.py lf|cr     (SMTP_ADDR, SMTP_PORT, SPOOL from the environment)
"""

import os
import sys

import smtpclient as sc
import spool

SMUGGLED = (b"MAIL FROM:<smuggled@evil.test>\r\n"
            b"RCPT TO:<victim@example.test>\r\n"
            b"DATA\r\n"
            b"From: <ceo@client.test>\r\nSubject: smuggled\r\n\r\nSMUGGLED-BODY\r\n")

PROBES = {
	"lf": [
		("<LF>.<LF>", b"\n.\n"),
		("<LF>.<CRLF>", b"\n.\r\n"),
		("<CRLF>.<LF>", b"\r\n.\n"),
		("bare LF in a line", b"\r\nfoo\nbar\r\n"),
		("bare LF line end", b"\r\nline ends in LF\n"),
	],
	"cr": [
		("<CR>.<CR>", b"\r.\r"),
		("<CR>.<CRLF>", b"\r.\r\n"),
		("<CRLF>.<CR>", b"\r\n.\r"),
		("bare CR in a line", b"\r\nfoo\rbar\r\n"),
		("bare CR line end", b"\r\nline ends in CR\r"),
	],
}


def probe(name, seq, n):
	A, P, SP = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["SPOOL"]
	c = sc.Client(A, P, greet=True)
	c.ehlo("client.test")
	c.cmd("MAIL FROM:<outer@client.test>", 250)
	c.cmd("RCPT TO:<r@example.test>", 250)
	c.cmd("DATA", 354)
	outer = (b"From: <outer@client.test>\r\nSubject: outer %d\r\n\r\nOUTER-BODY" % n)
	c.send(outer + seq + SMUGGLED + b".\r\n")
	r = c.reply()
	if r.code == 250:
		raise sc.Failure("%s: accepted (%r): the message had a bare CR/LF" % (name, r))
	if not 500 <= r.code < 600:
		raise sc.Failure("%s: want a 5xx rejection, got %r" % (name, r))
	extra = c.pending(0.5)
	closed = c.eof
	if extra:
		raise sc.Failure("%s: more replies than one for the DATA content: %r "
		                 "(smuggled commands were run)" % (name, extra))
	# In sync, or closed: either is acceptable, a desync is not.
	ctl = None
	try:
		if closed:
			raise sc.Closed("closed after the rejection")
		c.line("NOOP")
		c.expect(250)
		m = sc.make_content("control %d" % n, ["control after %s" % name])
		r2 = c.send_message("control@client.test", ["r@example.test"], m)
		if r2.code != 250:
			raise sc.Failure("%s: control message refused: %r" % (name, r2))
		ctl = (sc.queue_id_from(r2.text), m)
		c.cmd("QUIT", 221)
	except (sc.Closed, ConnectionError):
		closed = True
	c.close()
	print("ok: %s: rejected with %r%s" % (name, r, ", connection closed" if closed else ", session in sync"))
	return ctl


def main():
	kind = sys.argv[1]
	SP = os.environ["SPOOL"]
	controls = []
	for n, (name, seq) in enumerate(PROBES[kind]):
		ctl = probe(name, seq, n)
		if ctl:
			controls.append(ctl)
	ids = spool.messages(SP)
	want = sorted(q for q, _ in controls)
	if sorted(ids) != want:
		raise sc.Failure("spool holds %r, want only the control messages %r" % (ids, want))
	for q, m in controls:
		spool.check(SP, q, m, "control@client.test", ["r@example.test"])
	for q in ids:
		body = spool.load(SP, q)["content"]
		if b"SMUGGLED" in body or b"OUTER-BODY" in body:
			raise sc.Failure("%s holds smuggled or rejected content" % q)
	print("ok: nothing smuggled or rejected is queued (%d control messages)" % len(controls))


if __name__ == "__main__":
	sc.run_main(main)
