#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_bad_commands: malformed MAIL/RCPT get 501 (555 for an unknown
# parameter), an unknown command 500, commands out of order 503, and the
# session stays usable; max_errors bad commands get 421 and a close;
# RCPTs past max_recipients get 452 4.5.3 while the message still goes
# out to the first max_recipients. The ordinary commands answer as RFC
# 5321 says (VRFY 252, HELP 214, RSET/NOOP 250, QUIT 221).
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
conf_set "$T/relay.conf" max_errors 25
conf_set "$T/relay.conf" max_recipients 5
relay_start "$T/relay.conf"

py <<'EOF'
import os, smtpclient as sc, spool

A, P, NET, SP = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["NET"], os.environ["SPOOL"]

def step(c, cmd, codes, pattern=None):
	c.line(cmd)
	r = c.reply()
	assert r.code in codes, "%r: want %s, got %r" % (cmd, codes, r)
	if pattern:
		import re
		assert re.search(pattern, r.text), "%r: reply %r lacks /%s/" % (cmd, r, pattern)
	return r

def main():
	c = sc.Client(A, P, greet=True)
	step(c, "MAIL FROM:<early@client.test>", (503,), r"^5\.5\.1")   # before EHLO/HELO
	step(c, "FOOBAR baz", (500,), r"^5\.5\.[12]")
	step(c, "HELO client.test", (250,))
	step(c, "NOOP", (250,))
	step(c, "VRFY postmaster", (252,))
	step(c, "HELP", (211, 214))
	step(c, "RCPT TO:<r@example.test>", (503,), r"^5\.5\.1")       # before MAIL
	step(c, "DATA", (503,), r"^5\.5\.1")                            # before MAIL
	for bad in ("MAIL FROM:a@client.test", "MAIL FROM:<a@client.test", "MAIL FROM <a@client.test>",
	            "MAIL TO:<a@client.test>", "MAIL", "MAIL FROM:<a@client.test> SIZE=abc",
	            "MAIL FROM:<a@client.test> BODY=9BITMIME", "MAIL FROM:<a b@client.test>"):
		step(c, bad, (501, 555), r"^5\.")
	step(c, "MAIL FROM:<a@cli\x00ent.test>", (500, 501), r"^5\.")         # NUL in a command
	step(c, "MAIL FROM:<a@client.test> FOO=BAR", (555,), r"^5\.5\.4")
	step(c, "mail from:<>", (250,))                                  # null sender, lower case
	step(c, "MAIL FROM:<b@client.test>", (503,), r"^5\.5\.1")       # nested MAIL
	step(c, "DATA", (503, 554))                                     # no recipient yet
	for bad in ("RCPT TO:r@example.test", "RCPT TO:<r@example.test", "RCPT TO:", "RCPT",
	            "RCPT TO:<>", "RCPT TO:<r@example.test> FOO=BAR"):
		step(c, bad, (501, 553, 555, 550), r"^5\.")
	step(c, "rcpt to:<r@example.test>", (250,))
	step(c, "RSET", (250,))
	step(c, "RCPT TO:<r@example.test>", (503,))                     # RSET ended the transaction
	# the session still carries mail
	m = sc.make_content("after errors", ["still in sync"])
	r = c.send_message("ok@client.test", ["r@example.test"], m)
	assert r.code == 250, r
	q1 = sc.queue_id_from(r.text)
	step(c, "QUIT", (221,))
	c.expect_closed()
	print("ok: syntax and sequence errors answered, session kept in sync")

	# Recipient cap: 5.
	c = sc.Client(A, P, greet=True)
	c.ehlo("client.test")
	c.cmd("MAIL FROM:<cap@client.test>", 250)
	rcpts = ["r%d@example.test" % i for i in range(8)]
	for i, rc in enumerate(rcpts):
		r = c.cmd("RCPT TO:<%s>" % rc, "")
		if i < 5:
			assert r.code == 250, "RCPT %d: %r" % (i + 1, r)
		else:
			assert r.code == 452 and r.text.startswith("4.5.3"), "RCPT %d past the cap: %r" % (i + 1, r)
	c.cmd("DATA", 354)
	m2 = sc.make_content("capped", ["five recipients"])
	c.send(sc.data_block(m2))
	q2 = sc.queue_id_from(c.expect(250).text)
	c.cmd("QUIT", 221)
	print("ok: RCPT 6..8 got 452 4.5.3")

	# Too many errors: 421 and a close, within max_errors (25) + 1 commands.
	c = sc.Client(A, P, src=NET + ".7", greet=True)
	c.ehlo("client.test")
	got = None
	for i in range(1, 60):
		c.line("BOGUS%d" % i)
		try:
			r = c.reply()
		except sc.Closed:
			raise sc.Failure("closed without a 421 after %d errors" % i)
		if r.code == 421:
			got = i
			break
		assert r.code == 500, r
	assert got is not None, "no 421 after 59 errors"
	assert 25 <= got <= 26, "421 after %d errors, max_errors is 25" % got
	assert r.text.startswith("4."), r
	c.expect_closed()
	print("ok: 421 after %d bad commands, connection closed" % got)
	# the client may come back
	c = sc.Client(A, P, src=NET + ".7", greet=True)
	c.ehlo("client.test")
	c.cmd("QUIT", 221)

	assert sorted(spool.messages(SP)) == sorted([q1, q2]), spool.messages(SP)
	spool.check(SP, q1, m, "ok@client.test", ["r@example.test"])
	spool.check(SP, q2, m2, "cap@client.test", rcpts[:5])
	print("ok: only the two good messages are queued; the capped one has 5 recipients")

sc.run_main(main)
EOF
assert_log ': from=<cap@client.test>, size=[0-9]+, nrcpt=5'
assert_log "reject from \[$NET\.7\]:[0-9]+: error limit: 421 4\.7\.0 .*too many errors"
relay_stop
assert_spool_count 2
