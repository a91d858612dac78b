#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_restart: a restart in the middle of deliveries loses nothing and
# does not deliver again a recipient whose 250 was recorded.
#  1. deterministic: 5 messages to a@single.test and b@three.test while
#     three.test is down: a@ is delivered and journaled, b@ deferred; the
#     relay is killed (-9); after the restart, with three.test up, b@ is
#     delivered and a@ is not delivered a second time.
#  2. kill -9 in the middle of 150 messages (x@single.test, y@three.test),
#     one message per connection, one connection per domain so the
#     deliveries take a while: the spool journal at the crash says which
#     recipients were recorded delivered; after the restart every
#     recipient of every message arrives at least once, and no recorded one
#     arrives again.
#  3. the same with SIGTERM (exit status 0) instead of kill -9.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

MX1=$(host_addr mx1.three.test)
# each reply to "." takes 40 ms: 150 one-message connections per domain
# take 6 s or more, so the stop always finds deliveries still to do
world_sink single mx.single.test -w 40
dlv_conf "$T/relay.conf" <<'CONF'
max_connections_per_domain = 1
max_messages_per_connection = 1
CONF
spool_left() {
	ls "$T/spool/msg" 2> /dev/null | grep -v '\.' | wc -l
}
wait_spool_empty() {	# SECONDS
	local i=0
	while [ "$(spool_left)" -ne 0 ]; do
		i=$((i + 1))
		[ "$i" -gt $(( $1 * 10 )) ] && fail "spool still holds $(spool_left) messages after $1 s"
		sleep 0.1
	done
}

# 1. deterministic
relay_start "$T/relay.conf"
inject_n 5 det sender@sender.test a@single.test b@three.test
echo "$QIDS" > "$T/ids1"
for q in $QIDS; do
	wait_log "$q: Temporary failure for <b@three\.test>" 30 || fail "$q: b@ not deferred"
	wait_log "$q: Successful delivery to <a@single\.test>" 30 || fail "$q: a@ not delivered"
done
# the journal record follows the log line: wait until the spool records
# a@ delivered for every message, then crash
python3 - "$T/spool" "$T/ids1" <<'PY' || fail "a@ not recorded delivered in the journal within 10s"
import sys, time
import spool
ids = open(sys.argv[2]).read().split()
deadline = time.monotonic() + 10
while True:
	try:
		left = [q for q in ids if [r["addr"] for r in spool.load(sys.argv[1], q)["rcpts"]
		        if r["state"] == "delivered"] != ["a@single.test"]]
	except Exception as e:	# a record half-written at this moment
		left = [str(e)]
	if not left:
		break
	if time.monotonic() > deadline:
		sys.exit("not recorded: %s" % left)
	time.sleep(0.1)
PY
relay_kill9
python3 "$E2E/dlv_restart.py" snap "$T/spool" "$T/snap1" "$T/single.msgs" || fail "snapshot"
python3 - "$T/snap1" "$T/ids1" <<'PY' || fail "a@ not recorded delivered in the journal before the crash"
import json, sys
s = json.load(open(sys.argv[1]))
for q in open(sys.argv[2]).read().split():
	assert s["left"].get(q) == ["a@single.test"], (q, s["left"].get(q))
print("ok: every message in the spool with a@ recorded delivered")
PY
world_sink mx1 mx1.three.test -w 40
relay_start "$T/relay.conf"
kill -USR1 "$RELAY_PID"
wait_spool_empty 30
for q in $QIDS; do
	wait_done "$q" 10
	f=$(python3 "$E2E/dlv.py" find "$T/mx1.msgs" "$q")
	[ "$(printf '%s' "$f" | grep -c .)" -eq 1 ] || fail "$q: $(printf '%s' "$f" | grep -c .) copies at mx1.three.test"
	python3 "$E2E/dlv.py" check "$f" "$T/sent/$q.eml" "$q" --from sender@sender.test --rcpt b@three.test ||
	    fail "$q at mx1 not as sent"
done
python3 "$E2E/dlv_restart.py" verify "$T/snap1" "$T/ids1" a@single.test,b@three.test \
    "$T/single.msgs" "$T/mx1.msgs" || fail "phase 1"
ok "phase 1: recorded a@ not delivered again, b@ delivered after the restart"
relay_stop

# 2. and 3. stop in the middle
for how in kill9 term; do
	before=$(sink_count single)
	relay_start "$T/relay.conf"
	inject_n 150 "$how" sender@sender.test x@single.test y@three.test
	echo "$QIDS" > "$T/ids-$how"
	wait_sink_count single $((before + 15)) 60 || fail "$how: deliveries do not start"
	if [ "$how" = kill9 ]; then
		relay_kill9
	else
		relay_stop
		assert_log "stopping on SIGTERM"
	fi
	n=$(spool_left)
	echo "$how: stopped with $n messages in the spool, $(( $(sink_count single) - before )) delivered to single.test"
	[ "$n" -gt 0 ] || fail "$how: everything was delivered before the stop; the test proves nothing (make it slower)"
	python3 "$E2E/dlv_restart.py" snap "$T/spool" "$T/snap-$how" "$T/single.msgs" "$T/mx1.msgs" || fail "snapshot"
	relay_start "$T/relay.conf"
	wait_spool_empty 120
	python3 "$E2E/dlv_restart.py" verify "$T/snap-$how" "$T/ids-$how" x@single.test,y@three.test \
	    "$T/single.msgs" "$T/mx1.msgs" || fail "$how: lost or repeated deliveries"
	ok "$how: nothing lost, nothing recorded delivered again"
	relay_stop
done
exit 0
