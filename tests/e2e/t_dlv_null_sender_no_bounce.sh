#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_null_sender_no_bounce: bounces never loop.
#  1. control: a message from sender@sender.test to a 550 recipient bounces
#     and its DSN reaches mx.sender.test (so DSNs do work here);
#  2. a message from <> to the same 550 recipient bounces ("Permanent
#     failure") and is deleted without any DSN;
#  3. a DSN that itself bounces (its recipient nobody@sender.test is
#     refused with 550) is dropped without a DSN of its own.
# No queue ids other than these messages and the two DSNs ever appear,
# and the spool ends empty. A DSN is committed to the spool before its
# message's bounce is recorded (relay/scheduler.c), so once every message
# is done and the spool is empty, no DSN can still be on its way: that is
# the signal to check that none was sent, rather than a pause.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

printf 'perm@\t550 5.1.1 user unknown\n' > "$T/rules"
printf 'nobody@\t550 5.1.1 no such sender\n' > "$T/srules"
world_sink single mx.single.test -r "$T/rules"
world_sink sender mx.sender.test -r "$T/srules"
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

# 1. control
inject sender@sender.test perm@single.test
q1=$QID
wait_done "$q1"
assert_log "$q1: Permanent failure for <perm@single\.test>: 550 5\.1\.1 user unknown"
wait_sink_count sender 1 30 || fail "control: no DSN reached mx.sender.test"
python3 "$E2E/dlv.py" dsn "$(dsn_files sender)" --to sender@sender.test --rcpt perm@single.test \
    --status 5.1.1 --diag "550 5.1.1 user unknown" || fail "control: bad DSN"
dsnid=$(sed -n "s/.*: $q1: sender non-delivery notification: \([0-9A-Z]*\)$/\1/p" "$RELAY_LOG")
[ -n "$dsnid" ] || fail "control: no 'sender non-delivery notification' line"
wait_done "$dsnid"
ok "control DSN ($dsnid) delivered"

# 2. the null sender
inject "" perm@single.test
q2=$QID
wait_done "$q2"
assert_log "$q2: Permanent failure for <perm@single\.test>: 550 5\.1\.1 user unknown"

# 3. a DSN that bounces
inject nobody@sender.test perm@single.test
q3=$QID
wait_done "$q3"
assert_log "$q3: Permanent failure for <perm@single\.test>: 550 5\.1\.1 user unknown"
wait_log "Permanent failure for <nobody@sender\.test>: 550 5\.1\.1 no such sender" 30 ||
    fail "the DSN to nobody@ was not refused"
q4=$(sed -n 's/.*: \([0-9A-Z]*\): Permanent failure for <nobody@sender\.test>.*/\1/p' "$RELAY_LOG" | head -1)
[ -n "$q4" ] && [ "$q4" != "$q3" ] || fail "no separate queue id for the DSN to nobody@"
wait_done "$q4"
ok "the DSN $q4 bounced and was dropped"

# nothing else happens: no DSN for q2 or q4
assert_no_log "($q2|$q4): sender non-delivery notification"
wait_spool_empty 10
ok "every message done and the spool empty"
[ "$(sink_count sender)" -eq 1 ] || fail "mx.sender.test holds $(sink_count sender) messages, want 1 (the control DSN)"
[ "$(sink_stat sender rcpt_rejected)" -eq 1 ] || fail "mx.sender.test refused $(sink_stat sender rcpt_rejected) recipients, want 1"
ids=$(sed -n 's/.*: \([0-9A-Z]*\): Processing message .*/\1/p' "$RELAY_LOG" | sort -u | tr '\n' ' ')
want=$(printf '%s\n' "$q1" "$q2" "$q3" "$dsnid" "$q4" | sort -u | tr '\n' ' ')
[ "$ids" = "$want" ] || fail "processed ids: $ids; want $want"
ok "only $want were ever processed"
assert_log "$q2: Processing message from <> to <perm@single\.test>"
wait_spool_empty 5	# the removal runs on a commit worker after the log line
ok "spool empty"
relay_stop
exit 0
