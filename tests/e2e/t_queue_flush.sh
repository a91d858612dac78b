#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_queue_flush: `danerelay -c FILE queue flush` makes the running daemon
# retry deferred mail now, over the control socket SPOOL/control (the pid
# in SPOOL/lock is informational only). single.test's MX is down, the
# recipient is deferred with a 10m backoff; the server comes up; nothing
# happens until `queue flush` (a probe message to the same server is
# delivered meanwhile, so the server is up and the relay is scheduling),
# then the message is delivered. With no daemon running, `queue flush`
# says so and exits 1; an unknown queue command exits 2.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

MX=$(host_addr mx.single.test)
python3 -c "import socket,sys; socket.create_connection((sys.argv[1], 25), 2)" "$MX" 2> /dev/null &&
    fail "something listens on $MX:25: the test needs it refused"
dlv_conf "$T/relay.conf" <<'CONF'
min_backoff = 10m
max_backoff = 1h
CONF
relay_start "$T/relay.conf"
grep -qx "$RELAY_PID" "$T/spool/lock" || fail "SPOOL/lock does not hold the daemon's pid"
ok "SPOOL/lock holds pid $RELAY_PID"

inject sender@sender.test rf@single.test
q=$QID
wait_log "$q: Temporary failure for <rf@single\.test> \(retry [0-9]+\): .*; next attempt in [0-9]+s" 30 ||
    fail "rf@ not deferred"
world_sink single mx.single.test
inject sender@sender.test probe@single.test
wait_done "$QID" 30
expect_delivered single "$QID" sender@sender.test probe@single.test
assert_no_log "$q: Successful delivery"
[ "$(grep -c "$q: Connecting to " "$RELAY_LOG")" -eq 1 ] || fail "$q was tried again before the backoff"
expect_not_delivered single "$q"
ok "no retry before the backoff (a later message to the same server was delivered)"
"$BIN" -c "$T/relay.conf" queue flush > "$T/flush.out" 2>&1 || { cat "$T/flush.out"; fail "queue flush failed"; }
grep -q "queue flush: 1 deferred recipient due now" "$T/flush.out" || { cat "$T/flush.out"; fail "queue flush output"; }
assert_log "control: uid 0 \(pid [0-9]+\): flush"
wait_done "$q" 30
expect_delivered single "$q" sender@sender.test rf@single.test
assert_log "$q: Successful delivery to <rf@single\.test> \(retry [1-9][0-9]*\)"
ok "queue flush delivered the deferred message"
relay_stop

"$BIN" -c "$T/relay.conf" queue flush > "$T/flush2.out" 2>&1
st=$?
[ "$st" -eq 1 ] || fail "queue flush without a daemon: exit $st, want 1"
grep -q 'no daemon is running' "$T/flush2.out" || { cat "$T/flush2.out"; fail "queue flush without a daemon: message"; }
ok "queue flush without a daemon: exit 1, says so"
"$BIN" -c "$T/relay.conf" queue frobnicate > /dev/null 2>&1
st=$?
[ "$st" -eq 2 ] || fail "unknown queue command: exit $st, want 2"
ok "unknown queue command: exit 2"
exit 0
