#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_unauthorised_client: relay_clients = $NET.3/32, 127.0.0.9/32. A client
# connecting from $NET.2 (a bound source address) gets 554 5.7.1 and
# whatever it sends is not queued; the same dialogue from $NET.3 (allowed)
# is accepted, so the rule is the address and nothing else.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
conf_set "$T/relay.conf" relay_clients "$NET.3/32, 127.0.0.9/32"
relay_start "$T/relay.conf"

py <<'EOF2'
import os, smtpclient as sc, spool

A, P, NET = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["NET"]

def attempt(src, content):
	"""Run a whole transaction step by step; return the replies (codes and
	texts) up to where the server stopped us or closed."""
	c = sc.Client(A, P, src=src)
	seen = []
	try:
		for cmd in [None, "EHLO client.test", "MAIL FROM:<s@client.test>",
		            "RCPT TO:<r@example.test>", "DATA"]:
			if cmd:
				c.line(cmd)
			r = c.reply()
			seen.append(r)
			if cmd == "DATA" and r.code == 354:
				c.send(sc.data_block(content))
				seen.append(c.reply())
		c.line("QUIT")
		seen.append(c.reply())
	except sc.Closed:
		seen.append("closed")
	c.close()
	return seen

def main():
	m = sc.make_content("denied", ["must not be queued"])
	seen = attempt(NET + ".2", m)
	print("unauthorised:", seen)
	codes = [r.code for r in seen if r != "closed"]
	denied = [r for r in seen if r != "closed" and r.code == 554 and r.text.startswith("5.7.1")]
	assert denied, "no 554 5.7.1 for a client outside relay_clients: %r" % seen
	assert 354 not in codes, "DATA accepted from an unauthorised client: %r" % seen
	assert spool.messages(os.environ["SPOOL"]) == [], "something was queued"

	m2 = sc.make_content("allowed", ["from an allowed address"])
	seen = attempt(NET + ".3", m2)
	print("authorised:", seen)
	assert [r.code for r in seen] == [220, 250, 250, 250, 354, 250, 221], seen
	q = sc.queue_id_from(seen[5].text)
	assert spool.messages(os.environ["SPOOL"]) == [q]
	spool.check(os.environ["SPOOL"], q, m2, "s@client.test", ["r@example.test"])
	print("ok: %s.2 denied with 554 5.7.1, %s.3 accepted" % (NET, NET))

sc.run_main(main)
EOF2
assert_log "reject from \[$NET\.2\]:[0-9]+: connect: 554 5\.7\.1"
assert_no_log "reject from \[$NET\.3\]"
assert_log ": from=<s@client.test>, size=[0-9]+, nrcpt=1"
relay_stop
assert_spool_count 1
assert_no_leftovers
