#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_failover_refused: the preferred MX of three.test (mx1) refuses the
# connection (nothing listens there): the engine moves on to mx2 in the
# same attempt, which gets the message intact; mx3 is not needed; no
# recipient is deferred. The log shows both connections, mx1's first.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

MX1=$(host_addr mx1.three.test)
MX2=$(host_addr mx2.three.test)
MX3=$(host_addr mx3.three.test)
python3 -c "import socket,sys; socket.create_connection((sys.argv[1], 25), 2)" "$MX1" 2> /dev/null &&
    fail "something listens on $MX1:25: the test needs it refused"
world_sink mx2 mx2.three.test
world_sink mx3 mx3.three.test
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

inject sender@sender.test rcpt@three.test
q=$QID
wait_done "$q"
expect_delivered mx2 "$q" sender@sender.test rcpt@three.test
[ "$(sink_count mx3)" -eq 0 ] || fail "mx3 got mail"
ok "mx3 got nothing"
assert_log "$q: Connecting to \[$(re_esc "$MX1")\]:25 \(DNSSEC\)"
assert_log "$q: Connecting to \[$(re_esc "$MX2")\]:25 \(DNSSEC\)"
assert_log "$q: Successful delivery to <rcpt@three\.test> \(retry 0\) in [0-9.]+s: 250 "
assert_no_log "$q: Connecting to \[$(re_esc "$MX3")\]"
assert_no_log "$q: (Temporary|Permanent) failure"
# mx1 tried first, then mx2, then the delivery; the refusal is logged
# between the two connection lines
awk -v q="$q: " -v a="Connecting to [$MX1]:25" -v b="Connecting to [$MX2]:25" '
	index($0, q) == 0 { next }
	index($0, a) { ia = NR } index($0, b) { ib = NR }
	ia && !ib && !index($0, a) { between = between "\n" $0 }
	/Successful delivery/ { is = NR }
	END { if (!(ia < ib && ib < is)) exit 1; print "between:" between }' "$RELAY_LOG" > "$T/between" ||
    fail "connections not in the order mx1, mx2, delivery"
cat "$T/between"
grep -Eiq 'refused' "$T/between" || fail "the refusal of $MX1 is not logged before moving on"
ok "mx1 refused (logged), then mx2"
relay_stop
exit 0
