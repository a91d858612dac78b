#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_large_10mb: a 10 MB message of random-ish lines (some dot-stuffed, some
# empty, up to 140 octets) arrives byte for byte; SIZE= at MAIL is honoured.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

py <<'EOF'
import os, smtpclient as sc, spool

def main():
	c = sc.Client(os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], greet=True, timeout=120)
	ext = c.ehlo("client.test")
	size = [e for e in ext if e.startswith("SIZE")]
	assert size, "EHLO lacks SIZE: %r" % ext
	m = sc.make_content("ten megabytes", size=10 * 1024 * 1024, seed=10)
	assert len(m) >= 10 * 1024 * 1024
	r = c.send_message("big@client.test", ["r@big.example"], m, "SIZE=%d" % len(m))
	assert r.code == 250, "10 MB message refused: %r" % r
	q = sc.queue_id_from(r.text)
	c.cmd("QUIT", 221)
	sp = os.environ["SPOOL"]
	assert spool.messages(sp) == [q], spool.messages(sp)
	spool.check(sp, q, m, "big@client.test", ["r@big.example"])
	open(os.environ["T"] + "/ids", "w").write("%s %d\n" % (q, len(m)))
	print("ok: %d octets spooled intact as %s" % (len(m), q))

sc.run_main(main)
EOF
read -r q n < "$T/ids"
# size= counts the stored content: what was sent plus the Received: header
sz=$(sed -n "s/.*$q: from=<big@client.test>, size=\([0-9]*\), nrcpt=1.*/\1/p" "$RELAY_LOG" | head -1)
[ -n "$sz" ] || fail "no accept line for $q"
[ "$sz" -ge "$n" ] && [ "$sz" -lt $((n + 1000)) ] || fail "accept line size=$sz, sent $n"
ok "accept line for $q with size=$sz"
relay_stop
assert_spool_count 1
assert_no_leftovers
