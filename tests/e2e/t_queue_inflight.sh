#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_queue_inflight: hold and delete act on a message whose delivery is in
# flight without corrupting it. mx.single.test is tests/e2e/slowsmtp.py,
# which holds its reply to the final "." until the test lets it go.
#  - A is in flight (listed `active`); `queue hold A`; the server answers
#    451: the attempt ends normally (deferral recorded), then A waits:
#    `queue flush` does not start it; `queue release A` delivers it.
#  - B is in flight; `queue delete B`: the attempt is aborted, B's files
#    are removed, no outcome is recorded and B is never tried again; the
#    daemon stops cleanly afterwards.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

MX=$(host_addr mx.single.test)
mkdir -p "$T/slow"
python3 "$E2E/slowsmtp.py" "$MX" 25 "$T/slow" > "$T/slow.log" 2>&1 &
track $!
i=0
while [ ! -s "$T/slow/pid" ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && { cat "$T/slow.log"; fail "slowsmtp did not start"; }
	sleep 0.1
done
dlv_conf "$T/relay.conf" <<'CONF'
min_backoff = 10m
max_backoff = 1h
CONF
relay_start "$T/relay.conf"
q() { "$BIN" -c "$T/relay.conf" queue "$@"; }
wait_file() {	# FILE
	local i=0
	while [ ! -e "$1" ]; do
		i=$((i + 1)); [ "$i" -gt 300 ] && fail "no $1 within 30 s"
		sleep 0.1
	done
}

inject sender@sender.test ra@single.test; A=$QID
wait_file "$T/slow/dot.1"
q list > "$T/l1.txt"
grep -q "^$A\* " "$T/l1.txt" || { cat "$T/l1.txt"; fail "$A not marked active in the listing"; }
grep -Eq "^ +active +<ra@single\.test> +attempts 0, in delivery now" "$T/l1.txt" || { cat "$T/l1.txt"; fail "ra@ not active"; }
ok "a message in delivery is listed active"
q hold "$A" > /dev/null || fail "hold failed"
echo "451 4.3.0 try later" > "$T/slow/go.1"
wait_log "$A: Temporary failure for <ra@single\.test> \(retry 1\): 451 4\.3\.0 try later" 20 ||
    fail "the attempt in flight did not end normally"
grep -Eq '^R 0 deferred 1 [0-9]+ 451%204.3.0%20try%20later [0-9a-f]{8}$' "$T/spool/msg/$A.st" ||
    { cat "$T/spool/msg/$A.st"; fail "deferral not journaled"; }
q list --json | python3 -c '
import json, sys
m = {j["queue_id"]: j for j in map(json.loads, sys.stdin)}[sys.argv[1]]
assert m["held"] and m["queue_name"] == "hold", m
r = m["recipients"][0]
assert r["state"] == "deferred" and r["attempts"] == 1, r
' "$A" || fail "held message after its attempt: listing"
ok "hold during delivery: the attempt finished and was recorded"
q flush > /dev/null || fail "flush failed"
sleep 2
[ ! -e "$T/slow/dot.2" ] || fail "a held message was attempted after flush"
[ "$(grep -c "$A: Processing message" "$RELAY_LOG")" -eq 1 ] || fail "held $A was attempted again"
ok "held: flush does not start it"
q release "$A" > /dev/null || fail "release failed"
wait_file "$T/slow/dot.2"
: > "$T/slow/go.2"
wait_done "$A" 20
assert_log "$A: Successful delivery to <ra@single\.test> \(retry 1\)"
ok "released: delivered"

inject sender@sender.test rb@single.test; B=$QID
wait_file "$T/slow/dot.3"
q delete "$B" > "$T/del.out" || { cat "$T/del.out"; fail "delete failed"; }
assert_log "$B: deleted by the operator \(uid 0\)"
: > "$T/slow/go.3"
i=0
while [ -e "$T/spool/msg/$B" ]; do
	i=$((i + 1)); [ "$i" -gt 50 ] && fail "$B still in the spool"
	sleep 0.1
done
sleep 2
[ ! -e "$T/spool/msg/$B.st" ] || fail "a journal of the deleted $B reappeared"
assert_no_log "$B: (Successful delivery|Temporary failure|Permanent failure)"
[ "$(grep -c "$B: Processing message" "$RELAY_LOG")" -eq 1 ] || fail "deleted $B was tried again"
q list | grep -q "^$B" && fail "$B still listed"
ok "delete during delivery: aborted, files gone, no outcome recorded"
relay_stop
ok "clean stop"
exit 0
