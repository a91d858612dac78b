#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_failover_421: the preferred MX of three.test (mx1) greets with
# "421 4.3.2 too busy": the engine moves on to mx2 in the same attempt;
# mx2 gets the message intact, mx1 accepted nothing; the 421 reply is
# logged before moving on and no recipient is deferred.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

MX1=$(host_addr mx1.three.test)
MX2=$(host_addr mx2.three.test)
MX3=$(host_addr mx3.three.test)
world_sink mx1 mx1.three.test -b "421 4.3.2 too busy, try mx2"
world_sink mx2 mx2.three.test
world_sink mx3 mx3.three.test
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

inject sender@sender.test rcpt@three.test
q=$QID
wait_done "$q"
expect_delivered mx2 "$q" sender@sender.test rcpt@three.test
[ "$(sink_count mx1)" -eq 0 ] || fail "mx1 accepted mail after a 421 banner"
[ "$(sink_count mx3)" -eq 0 ] || fail "mx3 got mail"
[ "$(sink_stat mx1 connections)" -ge 1 ] || fail "mx1 was never connected to"
ok "mx1 connected to, refused with 421; mx3 got nothing"
assert_log "$q: Connecting to \[$(re_esc "$MX1")\]:25 \(DNSSEC\)"
assert_log "$q: .*421 4\.3\.2 too busy, try mx2"
assert_log "$q: Connecting to \[$(re_esc "$MX2")\]:25 \(DNSSEC\)"
assert_log "$q: Successful delivery to <rcpt@three\.test> \(retry 0\) in [0-9.]+s: 250 "
assert_no_log "$q: Connecting to \[$(re_esc "$MX3")\]"
assert_no_log "$q: (Temporary|Permanent) failure"
awk -v q="$q: " -v a="Connecting to [$MX1]:25" -v b="Connecting to [$MX2]:25" '
	index($0, q) == 0 { next }
	index($0, a) { ia = NR } index($0, b) { ib = NR } /421 4\.3\.2/ { i4 = NR }
	/Successful delivery/ { is = NR }
	END { exit !(ia < i4 && i4 < ib && ib < is) }' "$RELAY_LOG" ||
    fail "not in the order: mx1, its 421, mx2, delivery"
ok "mx1, 421, mx2, delivery in that order"
relay_stop
exit 0
