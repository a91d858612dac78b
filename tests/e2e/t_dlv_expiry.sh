#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_expiry: single.test's MX answers every RCPT with 450: the
# recipient is deferred again and again until max_queue_lifetime (5s)
# has passed, then it bounces ("Permanent failure"), the message is
# deleted, and a DSN reaches sender.test's MX naming the recipient and
# the last reply (450 4.2.0 ...) with Action: failed. After the bounce,
# a queue flush (SIGUSR1, logged) and a probe message that the same server
# accepts and that is delivered prove the relay went on scheduling: late@
# was never tried again.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

printf 'probe@\t250 2.1.5 Ok\n*\t450 4.2.0 mailbox busy, come back later\n' > "$T/rules"
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
# no attempt after the bounce: flush every deferred recipient, then a
# probe through the same server is delivered; late@ is not tried again
n1=$(sink_stat single rcpt_rejected)
kill -USR1 "$RELAY_PID"
wait_log "queue flush: [0-9]+ deferred recipients? due now" 10 || fail "no log line for the flush"
inject sender@sender.test probe@single.test
wait_done "$QID" 30
expect_delivered single "$QID" sender@sender.test probe@single.test
n2=$(sink_stat single rcpt_rejected)
[ "$n1" = "$n2" ] || fail "late@ refused again after the bounce ($n1 -> $n2 refusals)"
[ "$(grep -c "$q: Temporary failure for <late@" "$RELAY_LOG")" -eq "$(sed -n "/$q: Permanent failure/q;p" "$RELAY_LOG" | grep -c "$q: Temporary failure for <late@")" ] ||
    fail "late@ deferred again after the bounce"
ok "bounced once, no attempt after it (a flush and a later delivery to the same server)"

dsnid=$(dsn_id "$q")
[ -n "$dsnid" ] || fail "no 'sender non-delivery notification' line"
wait_done "$dsnid" 30
wait_spool_empty 10
[ "$(sink_count sender)" -eq 1 ] || fail "mx.sender.test got $(sink_count sender) messages, want 1"
python3 "$E2E/dlv.py" dsn "$(dsn_files sender)" --to sender@sender.test --rcpt late@single.test \
    --diag "450 4.2.0 mailbox busy, come back later" || fail "bad DSN"
relay_stop
exit 0
