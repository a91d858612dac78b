#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_long_lines: RFC 5321 4.5.3.1. A command line of 512 octets (with CRLF)
# is served, one of 513 or far more gets 500 5.5.2 and exactly one reply
# (never truncated or split into two commands), and the session stays in
# sync. A text line of 1000 octets (with CRLF) is stored intact; a message
# with a longer line gets 500 5.5.2 after its end of data, is not stored,
# and the next transaction works.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
conf_set "$T/relay.conf" max_errors 100
relay_start "$T/relay.conf"

py <<'EOF2'
import os, smtpclient as sc, spool

A, P, SP = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["SPOOL"]

def in_sync(c, what):
	extra = c.pending(0.3)
	assert extra == b"" and not c.eof, "%s: extra replies or close: %r" % (what, extra)
	c.cmd("NOOP", 250)

def main():
	c = sc.Client(A, P, greet=True)
	c.ehlo("client.test")
	ok512 = b"NOOP " + b"x" * (512 - 5 - 2)
	assert len(ok512 + b"\r\n") == 512
	c.send(ok512 + b"\r\n"); c.expect(250)
	for n in (513, 600, 5000, 200000):
		# a line that would be a valid command if the server cut it
		line = b"NOOP " + b"y" * (n - 5 - 2)
		c.send(line + b"\r\n")
		r = c.expect(500, r"^5\.5\.2")
		in_sync(c, "%d-octet command" % n)
	# A MAIL that would start a transaction if truncated to 512 octets.
	c.send(b"MAIL FROM:<" + b"a" * 600 + b"@client.test>\r\n")
	c.expect(500, r"^5\.5\.2")
	c.cmd("RCPT TO:<r@example.test>", 503)     # no transaction was started
	# "RSET" hidden at octet 512 of a long line must not run as a command
	c.send(b"NOOP " + b"z" * (512 - 5) + b"RSET\r\n")
	c.expect(500, r"^5\.5\.2")
	in_sync(c, "split probe")
	print("ok: command line limits")

	# Text lines: 1000 octets with CRLF is legal and kept.
	m_ok = sc.make_content("line 1000", [b"L" * 998, b"short", b"M" * 998])
	r = c.send_message("long@client.test", ["r@example.test"], m_ok)
	assert r.code == 250, "1000-octet text line refused: %r" % r
	q = sc.queue_id_from(r.text)
	for n, tag in ((1001, b"T1"), (1200, b"T2"), (300000, b"T3")):
		m_bad = sc.make_content("line %d" % n, [b"before", tag + b"X" * (n - 2 - len(tag)), b"after"])
		r = c.send_message("long@client.test", ["r@example.test"], m_bad)
		assert r.code == 500 and r.text.startswith("5.5.2"), \
		    "%d-octet text line: want 500 5.5.2, got %r" % (n, r)
		in_sync(c, "%d-octet text line" % n)
	# and the session still carries mail
	m2 = sc.make_content("after", ["after the long lines"])
	r = c.send_message("long@client.test", ["r2@example.test"], m2)
	assert r.code == 250, r
	q2 = sc.queue_id_from(r.text)
	c.cmd("QUIT", 221)
	assert sorted(spool.messages(SP)) == sorted([q, q2]), spool.messages(SP)
	spool.check(SP, q, m_ok, "long@client.test", ["r@example.test"])
	spool.check(SP, q2, m2, "long@client.test", ["r2@example.test"])
	print("ok: text line limits; only the two good messages are queued")

sc.run_main(main)
EOF2
assert_log ': 500 5\.5\.2 .*command line too long'
assert_log 'end of data: 500 5\.5\.2 .*text line too long'
relay_stop
assert_spool_count 2
assert_no_leftovers
