#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_failover_silent: the preferred MX of three.test (mx1) accepts the
# TCP connection but never greets (a Python server that holds every
# connection open and says nothing). With greeting_timeout = 2s the
# engine gives up on it and moves on to mx2 in the same attempt; mx2 gets
# the message intact; no recipient is deferred. The relay's loop is not
# blocked meanwhile: a second message to single.test is delivered while
# mx1 keeps the first attempt waiting.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

MX1=$(host_addr mx1.three.test)
MX2=$(host_addr mx2.three.test)
MX3=$(host_addr mx3.three.test)
python3 - "$MX1" "$T/silent.ready" "$T/silent.count" > "$T/silent.log" 2>&1 <<'PY' &
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((sys.argv[1], 25))
s.listen(16)
open(sys.argv[2], "w").write("ready\n")
held = []
deadline = time.time() + 300		# bounded: the test stops it long before
s.settimeout(1)
while time.time() < deadline:
	try:
		c, _ = s.accept()
	except socket.timeout:
		continue
	held.append(c)			# never a byte sent
	open(sys.argv[3], "w").write("%d\n" % len(held))
PY
track $!
i=0
while [ ! -s "$T/silent.ready" ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && { cat "$T/silent.log"; fail "silent server did not start"; }
	sleep 0.1
done
world_sink mx2 mx2.three.test
world_sink mx3 mx3.three.test
world_sink single mx.single.test
dlv_conf "$T/relay.conf" <<'CONF'
greeting_timeout = 2s
CONF
relay_start "$T/relay.conf"

inject sender@sender.test rcpt@three.test
q=$QID
wait_log "$q: Connecting to \[$(re_esc "$MX1")\]:25" 20 || fail "$q never connected to mx1"
inject sender@sender.test other@single.test
q2=$QID
wait_done "$q2" 20
expect_delivered single "$q2" sender@sender.test other@single.test
ok "another destination served while mx1 keeps $q waiting"
wait_done "$q" 30
expect_delivered mx2 "$q" sender@sender.test rcpt@three.test
[ "$(sink_count mx3)" -eq 0 ] || fail "mx3 got mail"
[ "$(cat "$T/silent.count" 2> /dev/null)" -ge 1 ] || fail "the silent server saw no connection"
ok "mx1 (silent) was connected to; mx3 got nothing"
assert_log "$q: Connecting to \[$(re_esc "$MX1")\]:25 \(DNSSEC\)"
assert_log "$q: Connecting to \[$(re_esc "$MX2")\]:25 \(DNSSEC\)"
assert_log "$q: Successful delivery to <rcpt@three\.test> \(retry 0\) in [0-9.]+s: 250 "
assert_no_log "$q: Connecting to \[$(re_esc "$MX3")\]"
assert_no_log "$q: (Temporary|Permanent) failure"
awk -v q="$q: " -v a="Connecting to [$MX1]:25" -v b="Connecting to [$MX2]:25" '
	index($0, q) == 0 { next }
	index($0, a) { ia = NR } index($0, b) { ib = NR } /[Tt]ime(d )?out/ { it = NR }
	END { exit !(ia < it && it < ib) }' "$RELAY_LOG" ||
    fail "no timeout logged for mx1 between the two connections"
ok "mx1 timed out (logged), then mx2"
relay_stop
exit 0
