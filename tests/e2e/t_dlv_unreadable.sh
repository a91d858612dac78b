#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_unreadable: a deferred message's file is damaged in the spool (cut
# short, as a failing disk would leave it), so no attempt can start: the
# scheduler does not retry it at once nor forever. Each failed start backs
# off (a few lines, no storm), and when max_queue_lifetime (8s) is over the
# recipient bounces without an attempt: a DSN with status 5.4.7 reaches the
# sender's MX and the message leaves the spool.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

world_sink sender mx.sender.test
dlv_conf "$T/relay.conf" <<'CONF'
max_queue_lifetime = 8s
CONF
relay_start "$T/relay.conf"

# mx.single.test is down: the first attempt defers
inject sender@sender.test lost@single.test
q=$QID
wait_log "$q: Temporary failure for <lost@single\.test> \(retry 1\)" 30 || fail "lost@ not deferred"
f=$T/spool/msg/$q
[ -f "$f" ] || fail "no $f"
truncate -s -10 "$f"
ok "msg/$q cut short by 10 octets"

wait_log "$q: cannot start a delivery to single\.test: Bad message; deferred, next attempt in [0-9]+s" 10 ||
    fail "the failed start was not deferred"
wait_log "$q: Permanent failure for <lost@single\.test>: 4\.3\.0 cannot start a delivery: Bad message \(expired after 8s\)" 20 ||
    fail "lost@ did not bounce once the lifetime was over"
wait_done "$q" 10
n=$(grep -c "$q: cannot start a delivery" "$RELAY_LOG")
# backoff 1s, 2s, 2s ... within 8s: a handful of tries, never a loop
[ "$n" -ge 1 ] && [ "$n" -le 8 ] || fail "$n failed starts logged, want 1..8"
ok "$n failed starts with backoff, then a bounce without an attempt"

wait_sink_count sender 1 30 || fail "no DSN reached mx.sender.test"
python3 "$E2E/dlv.py" dsn "$(dsn_files sender)" --to sender@sender.test --rcpt lost@single.test \
    --status 5.4.7 --diag "4.3.0 cannot start a delivery: Bad message" || fail "bad DSN"
relay_stop
left=$(find "$T/spool/msg" -type f | wc -l)
[ "$left" -eq 0 ] || fail "$left files left in msg/"
exit 0
