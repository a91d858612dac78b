#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_crash_kill9: crash safety. Three rounds of: many concurrent clients
# sending back to back, some stuck in the middle of DATA; kill -9 of the
# daemon at a moment when clients wait for their 250 (crashload.py); a
# restart on the same spool. After each restart the recovery log line
# counts exactly the complete messages and the half-written ones left by
# the crash, tmp/ is empty, and every message that got 250 is in the spool
# byte for byte with its envelope, none whose final "." was never sent is
# there, and a message whose "." was sent but got no reply is either absent
# or intact. The restarted daemon takes new mail and stops cleanly.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

for round in 1 2 3; do
	python3 "$E2E/crashload.py" load "$round" "$RELAY_PID" || fail "round $round: load"
	relay_kill9
	nmsg=$(spool_ids | wc -l)
	ntmp=$(python3 "$E2E/spool.py" leftovers "$SPOOL" | wc -l)
	echo "round $round: after the crash: $nmsg complete messages, $ntmp in tmp/"
	[ "$ntmp" -ge "${CRASH_STUCK:-6}" ] || fail "round $round: fewer tmp files ($ntmp) than stuck clients"
	before=$(grep -c 'messages\? recovered' "$RELAY_LOG")
	relay_start "$T/relay.conf"
	wait_log "queue: .*recovered" 10 || fail "no recovery line"
	line=$(grep 'messages\? recovered' "$RELAY_LOG" | sed -n "$((before + 1))p")
	echo "$line"
	echo "$line" | grep -Eq ": $nmsg messages? recovered, $ntmp incomplete removed, 0 moved to corrupt/" ||
	    fail "round $round: recovery line does not say $nmsg recovered, $ntmp removed"
	ok "round $round: recovery logged $nmsg recovered, $ntmp incomplete removed"
	assert_no_leftovers
	python3 "$E2E/crashload.py" verify > "$T/verify.out" || { cat "$T/verify.out"; fail "round $round: spool check"; }
	head -n -1 "$T/verify.out"
	n=$(tail -1 "$T/verify.out")
done

# The restarted daemon works and stops cleanly; nothing changed on disk.
py <<'EOF'
import os, smtpclient as sc, spool
c = sc.Client(os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], greet=True)
c.ehlo("after.client.test")
m = sc.make_content("after the crashes", ["still accepting"])
r = c.send_message("after@client.test", ["r@example.test"], m)
assert r.code == 250, r
q = sc.queue_id_from(r.text)
c.cmd("QUIT", 221)
spool.check(os.environ["SPOOL"], q, m, "after@client.test", ["r@example.test"])
print("ok: accepted %s after three crashes" % q)
EOF
relay_stop
assert_spool_count $((n + 1))
assert_no_leftovers
