#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_oversize: max_message_size = 100K. EHLO advertises SIZE 102400; MAIL
# with SIZE= over it gets 552 5.3.4; a message whose content grows over it
# (no SIZE=, or a SIZE= that lies) gets 552 5.3.4 after its end of data and
# is not stored; the session stays usable and a message under the limit is
# accepted.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
conf_set "$T/relay.conf" max_message_size 100K
relay_start "$T/relay.conf"

py <<'EOF'
import os, smtpclient as sc, spool

A, P, SP = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["SPOOL"]

def main():
	c = sc.Client(A, P, greet=True)
	ext = c.ehlo("client.test")
	assert "SIZE 102400" in ext, "EHLO does not advertise SIZE 102400: %r" % ext
	c.cmd("MAIL FROM:<big@client.test> SIZE=200000", 552, r"^5\.3\.4")
	c.cmd("MAIL FROM:<big@client.test> SIZE=102401", 552, r"^5\.3\.4")
	c.cmd("RCPT TO:<r@example.test>", 503)          # no transaction
	c.cmd("MAIL FROM:<edge@client.test> SIZE=102400", 250)   # exactly the limit
	c.cmd("RSET", 250)
	print("ok: SIZE= over the limit refused at MAIL")

	for size, params, tag in ((150 * 1024, "", "nosize"),
	                          (110 * 1024, "SIZE=50000", "liar"),
	                          (5 * 1024 * 1024, "", "huge")):
		m = sc.make_content("oversize " + tag, size=size, seed=size)
		r = c.send_message("big@client.test", ["r@example.test"], m, params)
		assert r.code == 552 and r.text.startswith("5.3.4"), \
		    "%s message of %d octets: want 552 5.3.4, got %r" % (tag, len(m), r)
		c.cmd("NOOP", 250)
		assert spool.messages(SP) == [], "oversize message stored"
		left = spool.wait_no_leftovers(SP)
		assert left == [], "oversize message left in tmp/: %r" % left
		print("ok: %d-octet message (%s) refused with %r" % (len(m), tag, r))

	m = sc.make_content("fits", size=90 * 1024, seed=3)
	r = c.send_message("small@client.test", ["r@example.test"], m, "SIZE=%d" % len(m))
	assert r.code == 250, "message under the limit refused: %r" % r
	q = sc.queue_id_from(r.text)
	c.cmd("QUIT", 221)
	assert spool.messages(SP) == [q]
	spool.check(SP, q, m, "small@client.test", ["r@example.test"])
	print("ok: %d-octet message accepted as %s" % (len(m), q))

sc.run_main(main)
EOF
assert_log 'SIZE=200000: 552 5\.3\.4'
assert_log 'end of data: 552 5\.3\.4'
assert_no_log 'from=<big@client\.test>, size='
relay_stop
assert_spool_count 1
assert_no_leftovers
