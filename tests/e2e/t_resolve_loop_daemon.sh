#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_resolve_loop_daemon: the daemon's event loop never waits on DNS. A
# message to a domain under silent.test (its name server takes queries and
# never answers) starts an MX lookup that hangs until libunbound gives up;
# while it is pending, a second SMTP session is served from greeting to
# 250. Then the hung lookup must end as a deferral (never a bounce, never
# "no MX"), and the message must stay in the spool.
. "$(dirname "$0")/lib.sh"

[ -n "${WORLD_DIR:-}" ] && [ -f "$WORLD_DIR/unbound.conf" ] || fail "needs the test world (tests/run starts it)"

base_conf "$T/relay.conf" <<CONF
min_backoff = 10m
CONF
relay_start "$T/relay.conf"

send() {	# to subject
	swaks --server "$NET.1:10025" --helo client.test --timeout 20 \
	    --from a@client.test --to "$1" --header "Subject: $2" > "$T/swaks.$2" 2>&1 ||
	    { cat "$T/swaks.$2"; fail "swaks to $1"; }
	grep -Eo 'queued as [0-9A-Z]+' "$T/swaks.$2" | awk '{ print $3 }'
}

id1=$(send "r@lp-$$.silent.test" hang)
[ -n "$id1" ] || fail "no queue id for the first message"
wait_log "$id1: Delivering message to lp-$$.silent.test" 10 || fail "delivery of $id1 did not start"
id2=$(send "r@client.test" second)
[ -n "$id2" ] || fail "no queue id for the second message"
ok "second session got 250 ($id2)"

# The first message's MX lookup was still pending when the second message
# was accepted: its outcome line comes after the second accept line.
wait_log "$id1: Temporary failure for <r@lp-$$.silent.test>" 30 || fail "hung lookup never ended"
acc2=$(grep -n "$id2: from=<a@client.test>" "$RELAY_LOG" | head -1 | cut -d: -f1)
out1=$(grep -n "$id1: Temporary failure" "$RELAY_LOG" | head -1 | cut -d: -f1)
[ -n "$acc2" ] && [ -n "$out1" ] || fail "log lines missing"
[ "$acc2" -lt "$out1" ] || fail "the second message was accepted only after the hung lookup ended"
ok "second message accepted while the MX lookup of $id1 was pending"
assert_no_log "$id1: Permanent failure"
assert_log "$id1: Temporary failure for <r@lp-$$.silent.test> \(retry 1\): 4\."
python3 "$top/tests/e2e/spool.py" list "$T/spool" | grep -qx "$id1" || fail "$id1 left the spool"
ok "$id1 still queued"
relay_stop
