#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_early_talker: a client that sends before the greeting (here: a whole
# pipelined transaction at connect) is rejected and nothing it sent is
# queued; a client that waits for the greeting is served as usual.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
# relay clients are greeted at once by default: delay them to have a window
conf_set "$T/relay.conf" greet_delay 1s
relay_start "$T/relay.conf"

py <<'EOF2'
import os, smtpclient as sc, spool

A, P, NET, SP = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["NET"], os.environ["SPOOL"]

def main():
	m = sc.make_content("early", ["EARLY-BODY"])
	for src in (NET + ".2", NET + ".4"):
		c = sc.Client(A, P, src=src)
		# no read before writing: everything goes before the greeting
		c.send(b"EHLO early.test\r\nMAIL FROM:<early@client.test>\r\n"
		       b"RCPT TO:<r@example.test>\r\nDATA\r\n" + sc.data_block(m) + b"QUIT\r\n")
		out = c.expect_closed(timeout=30)
		print("early talker from %s got: %r" % (src, out))
		codes = [int(l[:3]) for l in out.split(b"\r\n") if l[:3].isdigit()]
		assert codes, "no reply at all before close"
		assert any(500 <= k < 600 for k in codes), "no 5xx rejection: %r" % out
		assert 354 not in codes, "DATA accepted from an early talker: %r" % out
		assert not any(l.startswith(b"250") and b"queued" in l for l in out.split(b"\r\n")), out
		assert spool.messages(SP) == [], "early talker's message queued"
		c.close()

	# A polite client from the same address is fine.
	c = sc.Client(A, P, src=NET + ".2", greet=True)
	c.ehlo("polite.test")
	m2 = sc.make_content("polite", ["waited for the greeting"])
	r = c.send_message("polite@client.test", ["r@example.test"], m2)
	assert r.code == 250, r
	q = sc.queue_id_from(r.text)
	c.cmd("QUIT", 221)
	assert spool.messages(SP) == [q], spool.messages(SP)
	spool.check(SP, q, m2, "polite@client.test", ["r@example.test"])
	print("ok: early talkers rejected, polite client accepted")

sc.run_main(main)
EOF2
assert_log "reject from \[$NET\.2\]:[0-9]+: input before the greeting: 554 "
assert_log "reject from \[$NET\.4\]:[0-9]+: input before the greeting: 554 "
assert_no_log 'from=<early@client\.test>'
relay_stop
assert_spool_count 1
