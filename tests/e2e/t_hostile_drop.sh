#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_hostile_drop: receiving servers that drop the connection. Never lost:
# 1. single.test's only MX closes mid-DATA: deferred, retried later,
#    delivered once; no duplicate warning (the "." never went out).
# 2. It reads the whole message and the final ".", then closes without a
#    reply: deferred with the warning that the retry may duplicate it,
#    retried, delivered; the server holds the unacknowledged copy too.
# 3. three.test's mx1 accepts a message, then dies silently on the next
#    command of that cached connection: the second message is retried
#    once on a fresh connection to mx1 (not charged against mx1: no
#    next MX, no deferral); mx2 gets nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/hostile_lib.sh"

MX1=$(host_addr mx1.three.test)
hostile_start single mx.single.test drop-data,ok,drop-dot,ok
hostile_start mx1 mx1.three.test drop-reuse
world_sink mx2 mx2.three.test
dlv_conf "$T/relay.conf" <<'CONF'
connection_reuse_time = 0s
CONF
relay_start "$T/relay.conf"

# 1. closed mid-DATA (3 MB: the relay is still sending when the server goes)
QID=$(python3 "$E2E/dlv.py" inject --from sender@sender.test --to middata@single.test \
    --size 3000000 --tag "$TEST_NAME" --out "$T/sent") || fail "injection failed"
q=$QID
wait_log "$q: Temporary failure for <middata@single\.test> \(retry 1\): 4\.4\.2 lost connection with mx\.single\.test\[[0-9.]+\]:25 after message content" 30 ||
    fail "$q: no deferral after the drop mid-DATA"
wait_done "$q" 30
expect_delivered single "$q" sender@sender.test middata@single.test
assert_no_log "$q: .*may have been delivered already"
[ "$(hostile_events single 'dropped mid-DATA')" -eq 1 ] || fail "the server did not drop mid-DATA"
ok "dropped mid-DATA: deferred, retried, delivered once"

# 2. closed after the final dot, no reply
inject sender@sender.test afterdot@single.test
q=$QID
wait_log "$q: Temporary failure for <afterdot@single\.test> \(retry 1\): 4\.4\.2 lost connection with mx\.single\.test\[[0-9.]+\]:25 after end of DATA" 30 ||
    fail "$q: no deferral after the drop after the dot"
assert_log "$q: lost connection with mx\.single\.test\[[0-9.]+\]:25 after end of DATA; the message may have been delivered already: deferred, the retry may duplicate it"
wait_done "$q" 30
expect_delivered single "$q" sender@sender.test afterdot@single.test
[ "$(hostile_events single 'dropped after dot')" -eq 1 ] || fail "the server did not drop after the dot"
u=$(python3 "$E2E/dlv.py" find "$T/single.msgs/unacked" "$q" | grep -c .)
[ "$u" -eq 1 ] || fail "the unacknowledged copy of $q is not at the server ($u)"
ok "dropped after the dot: deferred with the duplicate warning, retried, delivered (the duplicate is real)"

# 3. a cached connection that died (connections are kept from now on)
relay_stop
dlv_conf "$T/relay2.conf" <<'CONF'
connection_reuse_time = 30s
CONF
relay_start "$T/relay2.conf"
inject sender@sender.test first@three.test
q1=$QID
wait_done "$q1" 30
expect_delivered mx1 "$q1" sender@sender.test first@three.test
inject sender@sender.test second@three.test
q2=$QID
wait_done "$q2" 30
expect_delivered mx1 "$q2" sender@sender.test second@three.test
assert_log "$q2: Reusing connection to mx1\.three\.test\[$(re_esc "$MX1")\]:25"
assert_log "$q2: Reused connection to mx1\.three\.test\[$(re_esc "$MX1")\]:25 failed: lost connection .*; retrying once on a fresh connection"
assert_log "$q2: Connecting to \[$(re_esc "$MX1")\]:25"
assert_no_log "$q2: .*trying the next"
assert_no_log "$q2: Temporary failure"
[ "$(hostile_events mx1 'dropped reused connection')" -ge 1 ] || fail "mx1 did not drop the reused connection"
[ "$(hostile_events mx1 '^conn ')" -eq 2 ] || fail "want 2 connections to mx1"
[ "$(sink_count mx2)" -eq 0 ] || fail "mx2 got mail"
ok "dead cached connection: one fresh connection to the same host, delivered there"

assert_no_log "Permanent failure"
relay_stop
if grep -q "Epoll\|libevent:" "$RELAY_LOG" "$T/relay.stderr"; then
	grep "Epoll\|libevent:" "$RELAY_LOG" "$T/relay.stderr" | head -3
	fail "libevent complained"
fi
ok "no libevent complaint on stderr or in the log"
exit 0
