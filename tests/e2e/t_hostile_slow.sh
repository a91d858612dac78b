#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_hostile_slow: receiving servers that keep every reply alive by
# trickling it cannot hold an attempt (RFC 5321 4.5.3.2 timeouts are
# totals, not inactivity timers):
# 1. three.test's mx1 sends its 220 greeting one byte a second (40 s in
#    all); greeting_timeout = 5s: mx1 is given up within a few seconds
#    and mx2 gets the message in the same attempt.
# 2. single.test's only MX takes the message and trickles the reply to
#    the final "." (data_done_timeout = 5s): the attempt gives up, warns
#    that the retry may duplicate, defers; the retry delivers it.
# 3. The same MX, now answering every command completely but 2 s late
#    (each reply within its 5 s stage limit): attempt_timeout = 7s ends
#    the attempt before the final "." and defers; the retry delivers.
# Nothing is lost: each message ends in exactly one accepted copy.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/hostile_lib.sh"

MX1=$(host_addr mx1.three.test)
MX2=$(host_addr mx2.three.test)
hostile_start slow1 mx1.three.test trickle-greeting
world_sink mx2 mx2.three.test
hostile_start single mx.single.test trickle-dot,ok,slow,ok --interval 2
dlv_conf "$T/relay.conf" <<'CONF'
greeting_timeout = 5s
command_timeout = 5s
data_done_timeout = 5s
attempt_timeout = 7s
connection_reuse_time = 0s
CONF
relay_start "$T/relay.conf"

# 1. trickled greeting: the next MX within the same attempt
inject sender@sender.test rcpt@three.test
q=$QID
wait_done "$q" 30
expect_delivered mx2 "$q" sender@sender.test rcpt@three.test
assert_log "$q: mx1\.three\.test\[$(re_esc "$MX1")\]:25 failed: 4\.4\.[0-9] timeout after greeting with mx1\.three\.test\[$(re_esc "$MX1")\]:25 \(no complete reply within 5s\); trying the next MX host"
# The attempt's length as the relay measured it on CLOCK_MONOTONIC (the
# "in N.NNNs" of its success line): the log's wall-clock stamps can jump
# when a virtual machine's clock is stepped (seen here: 9.6 s of wall
# clock against 5.0 s monotonic for this very attempt).
took=$(sed -n "s/.*$q: Successful delivery to <rcpt@three\.test> (retry 0) in \([0-9.]*\)s:.*/\1/p" "$RELAY_LOG" | head -1)
[ -n "$took" ] || fail "$q: no success line with the attempt's duration"
awk -v t="$took" 'BEGIN { exit !(t >= 4.5 && t < 9) }' ||
    fail "mx1 held the attempt: it took ${took}s (want 5s, the greeting takes 40s)"
ok "mx1 given up, the attempt took ${took}s although bytes kept coming"
assert_no_log "$q: Temporary failure"
wait_event slow1 "client left while trickling" 10 || fail "the trickling server never saw the client leave"
ok "the trickling server saw the relay leave"

# 2. trickled reply to ".": deferred with the duplicate warning, retried
inject sender@sender.test dot@single.test
q=$QID
wait_log "$q: Temporary failure for <dot@single\.test> \(retry 1\): 4\.4\.2 timeout after end of DATA with mx\.single\.test\[[0-9.]+\]:25 \(no complete reply within 5s\)" 30 ||
    fail "$q: no deferral after the trickled reply to the final dot"
assert_log "$q: timeout after end of DATA .*; the message may have been delivered already: deferred, the retry may duplicate it"
wait_done "$q" 30
expect_delivered single "$q" sender@sender.test dot@single.test
[ "$(hostile_events single '^conn ')" -eq 2 ] || fail "want 2 connections to single.test so far"
[ "$(find "$T/single.msgs/unacked" -name '*.msg' | wc -l)" -eq 1 ] ||
    fail "the trickling server should hold the unacknowledged first copy"
ok "trickled final reply: deferred, retried, delivered; the server also holds the first copy (the duplicate the log warned of)"

# 3. every reply in time, the whole attempt too slow
log_mono_start
inject sender@sender.test late@single.test
q=$QID
wait_log "$q: attempt timed out after 7s \(attempt_timeout\) with mx\.single\.test\[[0-9.]+\]:25 during (EHLO|MAIL FROM|RCPT TO|DATA); deferring the recipients still open" 30 ||
    fail "$q: the attempt deadline did not end the slow attempt"
wait_log "$q: Temporary failure for <late@single\.test> \(retry 1\): 4\.4\.2 attempt timed out after 7s" 10 ||
    fail "$q: not deferred by the attempt deadline"
# from the start of the attempt to its deadline, measured on the monotonic
# clock as the lines reach the log (the log's own stamps are wall clock)
t1=$(log_mono "$q: Delivering message to single\.test")
t2=$(log_mono "$q: attempt timed out")
log_mono_stop
[ -n "$t1" ] && [ -n "$t2" ] || fail "$q: the log follower missed the start or the end of the attempt"
took=$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')
awk -v d="$took" 'BEGIN { exit !(d >= 6.5 && d < 10) }' ||
    fail "attempt deadline after ${took}s, want 7s"
assert_no_log "$q: .*(timeout after|no complete reply)"
ok "slow server: no single reply timed out, the attempt did, after ${took}s (7s)"
wait_done "$q" 30
expect_delivered single "$q" sender@sender.test late@single.test
[ "$(hostile_events single '^conn 3 slow')" -eq 1 ] || fail "the slow mode was not played"

[ "$(sink_count mx2)" -eq 1 ] || fail "mx2 holds $(sink_count mx2) messages, want 1"
assert_no_log "Permanent failure"
relay_stop
if grep -q "Epoll\|libevent:" "$RELAY_LOG" "$T/relay.stderr"; then
	grep "Epoll\|libevent:" "$RELAY_LOG" "$T/relay.stderr" | head -3
	fail "libevent complained"
fi
ok "no libevent complaint on stderr or in the log"
exit 0
