#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_per_rcpt: one message to three recipients of single.test, answered
# 250 / 450 / 550 at RCPT in one transaction: ok@ is delivered, temp@ is
# deferred ("Temporary failure ... next attempt in Ns"), perm@ bounces
# ("Permanent failure ...: 550 ...") and a DSN (multipart/report) reaches
# sender.test's MX naming perm@ and the 550 reply, and nobody else. Once
# the server accepts temp@ (sink rules re-read on SIGHUP), the retry
# delivers temp@ alone - ok@ is not delivered twice - and the message is
# done.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

cat > "$T/rules" <<'R'
temp@	450 4.2.0 mailbox busy
perm@	550 5.1.1 user unknown
R
world_sink single mx.single.test -r "$T/rules"
world_sink sender mx.sender.test
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

inject sender@sender.test ok@single.test temp@single.test perm@single.test
q=$QID
wait_log "$q: Successful delivery to <ok@single\.test>" 30 || fail "ok@ not delivered"
wait_log "$q: Permanent failure for <perm@single\.test>" 30 || fail "perm@ not bounced"
wait_log "$q: Temporary failure for <temp@single\.test>" 30 || fail "temp@ not deferred"
assert_log "$q: Successful delivery to <ok@single\.test> \(retry 0\) in [0-9.]+s: 250 "
assert_log "$q: Temporary failure for <temp@single\.test> \(retry [0-9]+\): 450 4\.2\.0 mailbox busy; next attempt in [0-9]+s"
assert_log "$q: Permanent failure for <perm@single\.test>: 550 5\.1\.1 user unknown"
assert_no_log "$q: (Successful delivery to|Temporary failure for) <perm@"
assert_no_log "$q: (Successful delivery to|Permanent failure for) <temp@"
[ "$(grep -c "$q: Connecting to " "$RELAY_LOG")" -ge 1 ] || fail "no connection logged"
[ "$(sink_stat single messages)" -ge 1 ] || fail "sink saw no message"
# the first attempt was one transaction carrying all three recipients
grep -h '^rcpt to:' "$T"/single.msgs/*.msg | sort | uniq -c
expect_delivered single "$q" sender@sender.test ok@single.test
[ "$(sink_stat single rcpt_rejected)" -ge 2 ] || fail "sink rejected $(sink_stat single rcpt_rejected) recipients, want >= 2 (450 and 550 in the first transaction)"

# the DSN for perm@ reaches sender.test's MX
dsnid=$(dsn_id "$q")
[ -n "$dsnid" ] || fail "no 'sender non-delivery notification' line for $q"
wait_done "$dsnid" 30
[ "$(sink_count sender)" -eq 1 ] || fail "mx.sender.test got $(sink_count sender) messages, want 1 DSN"
dsn=$(dsn_files sender)
[ -n "$dsn" ] || fail "the message at mx.sender.test is not from <>"
python3 "$E2E/dlv.py" dsn "$dsn" --to sender@sender.test --rcpt perm@single.test \
    --absent ok@single.test --absent temp@single.test --status 5.1.1 \
    --diag "550 5.1.1 user unknown" --orig "Subject: $TEST_NAME 0" || fail "bad DSN"
grep -q '^sni: mx\.sender\.test$' "$dsn" || fail "the DSN did not go to mx.sender.test"
assert_no_log "$q: Deleting mail file"

# temp@ is accepted from now on: the next retry delivers it, and only it
: > "$T/rules"
kill -HUP "$(cat "$T/single.pid")"
wait_done "$q" 30
assert_log "$q: Successful delivery to <temp@single\.test> \(retry [1-9][0-9]*\) in [0-9.]+s: 250 "
n=$(grep -h '^rcpt to: <ok@single\.test>' "$T"/single.msgs/*.msg | wc -l)
[ "$n" -eq 1 ] || fail "ok@ delivered $n times"
n=$(grep -h '^rcpt to: <temp@single\.test>' "$T"/single.msgs/*.msg | wc -l)
[ "$n" -eq 1 ] || fail "temp@ delivered $n times"
n=$(grep -h '^rcpt to: <perm@single\.test>' "$T"/single.msgs/*.msg | wc -l)
[ "$n" -eq 0 ] || fail "perm@ delivered $n times"
ok "ok@ and temp@ delivered once each, perm@ never"
f=$(grep -l '^rcpt to: <temp@single\.test>' "$T"/single.msgs/*.msg)
python3 "$E2E/dlv.py" check "$f" "$T/sent/$q.eml" "$q" --from sender@sender.test --rcpt temp@single.test ||
    fail "the retried copy is not as sent"
wait_spool_empty 10
[ "$(dsn_id "$q")" = "$dsnid" ] && [ "$(grep -c "$q: sender non-delivery notification" "$RELAY_LOG")" -eq 1 ] ||
    fail "a second DSN was made"
[ "$(sink_count sender)" -eq 1 ] || fail "a second DSN was sent"
ok "one DSN only"
relay_stop
exit 0
