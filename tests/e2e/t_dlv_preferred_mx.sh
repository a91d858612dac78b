#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_preferred_mx: with every MX host of three.test up (10 mx1, 20 mx2,
# 30 mx3), a message goes to the preferred one only, over STARTTLS
# (tls_policy may, no TLSA in three.test), content intact plus our
# Received: header; the log has the README.md delivery trace, from
# "Processing message" to "Deleting mail file".
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

MX1=$(host_addr mx1.three.test)
MX2=$(host_addr mx2.three.test)
MX3=$(host_addr mx3.three.test)
world_sink mx1 mx1.three.test
world_sink mx2 mx2.three.test
world_sink mx3 mx3.three.test
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

inject sender@sender.test rcpt@three.test
wait_done "$QID"
expect_delivered mx1 "$QID" sender@sender.test rcpt@three.test
grep -q '^tls: TLSv1\.[23] ' "$MSGFILE" || fail "not delivered over TLS (may + STARTTLS offered)"
grep -q '^sni: mx1\.three\.test$' "$MSGFILE" || fail "SNI is not the MX host name"
ok "delivered over TLS with SNI mx1.three.test"
[ "$(sink_count mx2)" -eq 0 ] || fail "mx2 got mail"
[ "$(sink_count mx3)" -eq 0 ] || fail "mx3 got mail"
ok "mx2 and mx3 got nothing"

q=$QID
assert_log "$q: Processing message from <sender@sender\.test> to <rcpt@three\.test> with policy may"
assert_log "$q: Delivering message to three\.test:25"
assert_log "$q: MX three\.test: secure, 3 hosts \(mx1\.three\.test, mx2\.three\.test, mx3\.three\.test\)"
assert_log "$q: Connecting to \[$(re_esc "$MX1")\]:25 \(DNSSEC\)"
assert_log "$q: Connection is now using TLSv1\.[23] with cipher [A-Z0-9_-]+ \([0-9]+ bits\) \(unauthenticated\)"
assert_log "$q: Successful delivery to <rcpt@three\.test> \(retry 0\) in [0-9.]+s: 250 "
assert_no_log "$q: Connecting to \[($(re_esc "$MX2")|$(re_esc "$MX3"))\]"
assert_no_log "$q: (Temporary|Permanent) failure"
# the trace comes in order
python3 - "$RELAY_LOG" "$q" <<'PY' || fail "delivery trace out of order"
import sys
want = ["Processing message", "Delivering message to", "MX three.test:", "Connecting to",
        "Connection is now using", "Successful delivery to", "Deleting mail file"]
lines = [l for l in open(sys.argv[1]) if (": %s: " % sys.argv[2]) in l]
pos = []
for w in want:
	i = next((n for n, l in enumerate(lines) if w in l), None)
	assert i is not None, "no %r" % w
	pos.append(i)
assert pos == sorted(pos), "order %r" % list(zip(want, pos))
print("ok: trace in order")
PY
wait_spool_empty 5	# the removal runs on a commit worker after the log line
ok "spool empty"
relay_stop
exit 0
