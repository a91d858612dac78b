#!/bin/bash
# t_dlv_expiry: single.test's MX answers every RCPT with 450: the
# recipient is deferred again and again until max_queue_lifetime (5s)
# has passed, then it bounces ("Permanent failure"), the message is
# deleted, and a DSN reaches sender.test's MX naming the recipient and
# the last reply (450 4.2.0 ...) with Action: failed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

printf '*\t450 4.2.0 mailbox busy, come back later\n' > "$T/rules"
world_sink single mx.single.test -r "$T/rules"
world_sink sender mx.sender.test
dlv_conf "$T/relay.conf" <<'CONF'
max_queue_lifetime = 5s
CONF
relay_start "$T/relay.conf"

inject sender@sender.test late@single.test
q=$QID
wait_log "$q: Temporary failure for <late@single\.test> \(retry [0-9]+\): 450 4\.2\.0 mailbox busy, come back later; next attempt in [0-9]+s" 30 ||
    fail "late@ not deferred"
wait_log "$q: Permanent failure for <late@single\.test>" 40 || fail "late@ never expired"
grep "$q: Permanent failure" "$RELAY_LOG"
wait_done "$q" 10
[ "$(grep -c "$q: Permanent failure for <late@" "$RELAY_LOG")" -eq 1 ] || fail "more than one bounce logged"
[ "$(sink_count single)" -eq 0 ] || fail "the sink accepted a message"
# no attempt after the bounce
n1=$(sink_stat single connections)
sleep 3
n2=$(sink_stat single connections)
[ "$n1" = "$n2" ] || fail "connections after the bounce ($n1 -> $n2)"
ok "bounced once, no attempt after it"

wait_sink_count sender 1 30 || fail "no DSN reached mx.sender.test"
sleep 1
[ "$(sink_count sender)" -eq 1 ] || fail "mx.sender.test got $(sink_count sender) messages, want 1"
python3 "$E2E/dlv.py" dsn "$(dsn_files sender)" --to sender@sender.test --rcpt late@single.test \
    --diag "450 4.2.0 mailbox busy, come back later" || fail "bad DSN"
relay_stop
exit 0
