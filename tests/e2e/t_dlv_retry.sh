#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_retry: single.test's only MX is down (connection refused): the
# recipient is deferred ("Temporary failure ... next attempt in Ns"), the
# message stays queued; once the server is up, a retry delivers it
# ("Successful delivery ... (retry N)", N >= 1). Then with a long
# min_backoff (10m) the same happens only when SIGUSR1 asks for a flush:
# before it, a probe message to the same server is delivered (the server
# is up and the relay is scheduling) while the deferred one stays put.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

MX=$(host_addr mx.single.test)
python3 -c "import socket,sys; socket.create_connection((sys.argv[1], 25), 2)" "$MX" 2> /dev/null &&
    fail "something listens on $MX:25: the test needs it refused"
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

# 1. short backoff: the retry after the server comes back delivers
inject sender@sender.test r1@single.test
q=$QID
wait_log "$q: Temporary failure for <r1@single\.test> \(retry [0-9]+\): .*; next attempt in [0-9]+s" 30 ||
    fail "r1@ not deferred"
assert_log "$q: Connecting to \[$(re_esc "$MX")\]:25 \(DNSSEC\)"
grep "$q: Temporary failure" "$RELAY_LOG" | head -1
grep "$q: Temporary failure" "$RELAY_LOG" | head -1 | grep -Eq ': 4\.[0-9]+\.[0-9]+ .*; next attempt in [0-9]+s$' ||
    fail "the deferral does not carry a 4.X.X status"
assert_no_log "$q: (Successful delivery|Permanent failure|Deleting mail file)"
[ -f "$T/spool/msg/$q" ] || fail "$q not in the spool while deferred"
ok "deferred, still queued"
world_sink single mx.single.test
wait_done "$q" 30
expect_delivered single "$q" sender@sender.test r1@single.test
assert_log "$q: Successful delivery to <r1@single\.test> \(retry [1-9][0-9]*\) in [0-9.]+s: 250 "
[ ! -f "$T/spool/msg/$q" ] || fail "$q still in the spool"
sink_stop single
relay_stop

# 2. long backoff: only SIGUSR1 (flush) brings the retry forward
dlv_conf "$T/relay2.conf" <<'CONF'
min_backoff = 10m
max_backoff = 1h
CONF
relay_start "$T/relay2.conf"
inject sender@sender.test r2@single.test
q=$QID
wait_log "$q: Temporary failure for <r2@single\.test> \(retry [0-9]+\): .*; next attempt in [0-9]+s" 30 ||
    fail "r2@ not deferred"
grep "$q: Temporary failure" "$RELAY_LOG" | head -1 | grep -Eq 'next attempt in (5[0-9][0-9]|[6-9][0-9][0-9]|[0-9]{4,})s$' ||
    fail "next attempt is not about min_backoff (10m) away"
world_sink single2 mx.single.test
inject sender@sender.test probe@single.test
wait_done "$QID" 30
expect_delivered single2 "$QID" sender@sender.test probe@single.test
assert_no_log "$q: Successful delivery"
[ "$(grep -c "$q: Connecting to " "$RELAY_LOG")" -eq 1 ] || fail "$q was tried again before the backoff"
expect_not_delivered single2 "$q"
ok "no retry before the backoff (a later message to the same server was delivered)"
kill -USR1 "$RELAY_PID"
wait_done "$q" 30
expect_delivered single2 "$q" sender@sender.test r2@single.test
assert_log "$q: Successful delivery to <r2@single\.test> \(retry [1-9][0-9]*\) in [0-9.]+s: 250 "
ok "SIGUSR1 flushed the deferred message"
relay_stop
exit 0
