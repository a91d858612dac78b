#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_inflow: inbound flow control (in_flow_delay, relay/flow.h). With one
# outbound slot (max_connections = 1) the backlog limit is one message
# waiting for its first attempt; beyond it a new transaction's MAIL waits.
#  1. A sink slow to answer the final dot (2 s): MAIL waits until delivery
#     makes room, well before in_flow_delay (8 s) is over; every message is
#     accepted and delivered; the relay logs that delivery is behind.
#  2. The sink stopped (SIGSTOP): delivery makes no room; MAIL is answered
#     250 anyway once in_flow_delay (2 s) has passed, never refused.
#  3. in_flow_delay = 0s: no MAIL waits, the sink still stopped.
#  4. SIGTERM while a MAIL waits (in_flow_delay = 10s): it is answered
#     421 at once, the relay exits 0, the messages accepted before are in
#     the spool and delivered after a restart. Meanwhile the service
#     manager's STATUS= (relay/notify.c, read at NOTIFY_SOCKET by
#     tests/e2e/notify_listen.py) says a transaction waits.
# Waits are measured by the client with a monotonic clock
# (tests/e2e/flowclient.py); the windows are wide on purpose.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

# flow N TIMEOUT: flowclient's lines for N messages into $T/flow.out.
flow() {
	python3 "$E2E/flowclient.py" --n "$1" --to "r@single.test" \
	    --timeout "$2" > "$T/flow.out" 2>&1 || { cat "$T/flow.out"; fail "flowclient failed"; }
	cat "$T/flow.out"
	grep -q FAIL "$T/flow.out" && fail "flowclient: $(grep FAIL "$T/flow.out")"
	return 0
}

# waited_max: the longest MAIL wait in $T/flow.out, in milliseconds.
waited_max() {
	awk '{ ms = int($2 * 1000); if (ms > m) m = ms } END { print m + 0 }' "$T/flow.out"
}

# accepted_waits N MIN MAX: all N messages of $T/flow.out got 250 and the
# longest MAIL wait is in [MIN, MAX) ms; sets w to it.
accepted_waits() {
	[ "$(awk '$3 == 250' "$T/flow.out" | wc -l)" -eq "$1" ] ||
	    fail "not every MAIL was answered 250: $(awk '$3 != 250' "$T/flow.out")"
	w=$(waited_max)
	[ "$w" -ge "$2" ] || fail "no MAIL waited $2 ms (longest ${w} ms)"
	[ "$w" -lt "$3" ] || fail "a MAIL waited ${w} ms, $3 ms or more"
}

conf() {	# conf IN_FLOW_DELAY
	dlv_conf "$T/relay.conf" <<CONF
max_connections = 1
in_flow_delay = $1
CONF
}

# 1. delivery makes room: MAIL waits, then goes on before the deadline
world_sink single mx.single.test -w 2000
conf 8s
relay_start "$T/relay.conf"
flow 5 30
accepted_waits 5 800 7000	# under 7 s: woken by delivery, not by the 8 s
ok "MAIL waited up to ${w} ms for delivery to make room (in_flow_delay 8s)"
assert_log "inbound flow: delivery is behind \([0-9]+ messages wait for their first attempt, limit 1\): new transactions wait up to 8s before MAIL"
wait_sink_count single 5 40 || fail "sink holds $(sink_count single) of 5"
ok "all 5 delivered"
relay_stop

# 2. delivery stuck: MAIL is answered 250 once in_flow_delay is over
: > "$RELAY_LOG"
conf 2s
relay_start "$T/relay.conf"
kill -STOP "$SINK_PID"
flow 5 30
accepted_waits 5 1500 6000	# never refused, and not held past the 2 s
ok "delivery stuck: MAIL answered 250 after ${w} ms (in_flow_delay 2s)"

# 3. in_flow_delay 0s: nothing waits
relay_stop
conf 0s
relay_start "$T/relay.conf"
flow 5 30
accepted_waits 5 0 1000
ok "in_flow_delay 0s: no MAIL waited (longest ${w} ms)"
relay_stop

# 4. SIGTERM while MAIL waits: 421, exit 0, nothing lost. The 10
# messages of 2 and 3 are still queued (the sink is stopped): recovered
# at start, they hold the slot, so the second new message already waits.
: > "$RELAY_LOG"
conf 10s
python3 "$E2E/notify_listen.py" "$T/notify.sock" "$T/notify.jsonl" "$NET.1" 10025 \
    > "$T/listen.err" 2>&1 &
track $!
wait_file $! "$T/notify.jsonl.bound" 50 || fail "notify listener did not bind"
NOTIFY_SOCKET=$T/notify.sock relay_start "$T/relay.conf"
python3 "$E2E/flowclient.py" --n 6 --to "r@single.test" --timeout 30 > "$T/flow.out" 2>&1 &
FC=$!
track "$FC"
# logged when the MAIL starts to wait
wait_log "inbound flow: delivery is behind" 20 || fail "no MAIL waited"
wait_log "STATUS=[0-9]+ messages? queued, [0-9]+ deliver(y|ies) in progress, 1 transaction waiting for delivery to catch up" 5 "$T/notify.jsonl" ||
    { cat "$T/notify.jsonl"; fail "STATUS= does not show the waiting transaction"; }
ok "STATUS= shows 1 transaction waiting for delivery to catch up"
t0=$(awk '{ print $1 }' /proc/uptime)
relay_stop
wait "$FC"; untrack "$FC"
t1=$(awk '{ print $1 }' /proc/uptime)
cat "$T/flow.out"
grep -q FAIL "$T/flow.out" && fail "flowclient: $(grep FAIL "$T/flow.out")"
last=$(tail -1 "$T/flow.out")
[ "$(echo "$last" | awk '{ print $3 }')" = 421 ] || fail "the waiting MAIL got '$last', want 421"
awk -v a="$t0" -v b="$t1" 'BEGIN { exit !(b - a < 8) }' || fail "stopping took $t0 -> $t1 s"
ok "SIGTERM: the waiting MAIL was answered 421 and the relay stopped"
accepted=$(awk '$3 == 250 { print $4 }' "$T/flow.out")
n=$(echo "$accepted" | grep -c .)
[ "$n" -ge 1 ] || fail "no message accepted before the wait"
kill -CONT "$SINK_PID"
want=$(( $(sink_count single) + 10 + n ))
relay_start "$T/relay.conf"
wait_sink_count single "$want" 60 || fail "sink holds $(sink_count single), want $want"
for q in $accepted; do
	grep -lq "$q" "$T"/single.msgs/*.msg || fail "$q (accepted before SIGTERM) not delivered"
done
ok "the $n messages accepted before SIGTERM were delivered after the restart"
relay_stop
exit 0
