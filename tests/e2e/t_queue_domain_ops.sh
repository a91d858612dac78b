#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_queue_domain_ops: `queue hold|release|delete @DOMAIN` on a real daemon
# with real messages kept queued (the MX hosts of single.test and
# three.test refuse connections, 10m backoff), then real sinks:
#  - A, B (rb@SINGLE.Test: the domain's case does not matter), E (held by
#    id first) and BULK (150 more, over the tool's window of 64 changes in
#    flight) go to single.test; C to three.test; M to both (mixed).
#  - `hold @Single.TEST.` (case and trailing dot as flush @DOMAIN) holds
#    A, B, M and BULK, says E was held already and that M is held as a
#    whole; C is untouched. One line per message, a count line, an H 1
#    record in each journal, the request and each message logged with
#    the operator's uid. No message for a domain: exit 1, says so.
#  - ids and an @domain mixed, or two domains: refused (command line exit
#    2; the daemon, asked directly, answers ERR and changes nothing).
#  - the holds survive a restart.
#  - `delete @single.test` removes A, B, E and BULK (files gone, no DSN),
#    keeps M (open recipient in three.test) and names it; exit 1.
#  - `release @three.test` releases M (as a whole), counts C as not held;
#    with the sinks up and a flush, C and both recipients of M are
#    delivered; the deleted messages never are. The spool ends empty.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

relay_start_queueing
q() { "$BIN" -c "$T/relay.conf" queue "$@"; }

inject sender@sender.test ra@single.test; A=$QID
inject sender@sender.test rb@SINGLE.Test; B=$QID
inject sender@sender.test rc@three.test; C=$QID
inject sender@sender.test rm@single.test rn@three.test; M=$QID
inject sender@sender.test re@single.test; E=$QID
for m in "$A ra@single\.test" "$B rb@SINGLE\.Test" "$C rc@three\.test" "$M rm@single\.test" "$M rn@three\.test" "$E re@single\.test"; do
	set -- $m
	wait_log "$1: Temporary failure for <$2> \(retry 1\)" 30 || fail "$1 <$2> not deferred"
done
ok "five messages deferred (M: both recipients)"
q hold "$E" > "$T/holde.out" || { cat "$T/holde.out"; fail "hold $E"; }
grep -qx "$E: held" "$T/holde.out" || fail "hold $E: $(cat "$T/holde.out")"
inject_n 150 bulk sender@sender.test rbulk@single.test
BULK=$QIDS
# still pending, in an attempt or deferred: all of them open recipients
ok "150 more to single.test"

# --- the command line refuses mixed and doubled arguments: exit 2
q hold "$A" @single.test > "$T/mix.out" 2>&1; st=$?
[ "$st" -eq 2 ] || fail "hold ID @DOMAIN: exit $st, want 2"
grep -q "one @domain alone, or queue ids: not both" "$T/mix.out" || fail "hold ID @DOMAIN: $(cat "$T/mix.out")"
q delete @single.test @three.test > "$T/mix2.out" 2>&1; st=$?
[ "$st" -eq 2 ] || fail "delete @D1 @D2: exit $st, want 2"
q release @. > "$T/mix3.out" 2>&1; st=$?
[ "$st" -eq 2 ] && grep -q "not a domain: @\.$" "$T/mix3.out" || fail "release @.: exit $st, $(cat "$T/mix3.out")"
# the daemon too, asked directly on the socket
python3 - "$T/spool/control" "$A" > "$T/raw.out" <<'PY' || fail "raw mixed request: $(cat "$T/raw.out")"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(("hold %s @single.test\n" % sys.argv[2]).encode())
a = b""
while True:
	d = s.recv(4096)
	if not d:
		break
	a += d
print(a.decode())
assert a.startswith(b"ERR hold: one @domain alone, or queue ids: not both"), a
PY
grep -q "$A: held by the operator" "$RELAY_LOG" && fail "a refused mixed request held $A"
ok "ids and @domain mixed, or two domains: refused (exit 2; daemon ERR), nothing held"

# --- no message for a domain: exit 1, like an unknown id
q hold @nowhere.test > "$T/none.out" 2>&1; st=$?
[ "$st" -eq 1 ] || fail "hold @nowhere.test: exit $st, want 1"
grep -q "hold @nowhere.test: no message in the queue has an open recipient in nowhere.test" "$T/none.out" ||
    fail "hold @nowhere.test: $(cat "$T/none.out")"
ok "hold @nowhere.test: exit 1, says why"

# --- hold @DOMAIN
t0=$(mono_now)
q hold @Single.TEST. > "$T/hold.out" 2> "$T/hold.err" || { cat "$T/hold.out" "$T/hold.err"; fail "hold @Single.TEST. failed"; }
t1=$(mono_now)
echo "hold @single.test of 154 messages: $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }') s"
for id in $A $B $BULK; do
	grep -qx "$id: held" "$T/hold.out" || fail "hold @single.test: no line '$id: held'"
done
grep -qx "$E: held already" "$T/hold.out" || fail "hold @single.test: $E not 'held already'"
grep -qx "$M: held (the whole message: it has open recipients in other domains too)" "$T/hold.out" ||
    fail "hold @single.test: M's line: $(grep "^$M" "$T/hold.out")"
grep -q "^$C" "$T/hold.out" && fail "hold @single.test answered for three.test's $C"
tail -1 "$T/hold.out" | grep -qx "hold @single.test: 153 messages held, 1 already held" ||
    fail "hold @single.test: count line: $(tail -1 "$T/hold.out")"
[ "$(wc -l < "$T/hold.out")" -eq 155 ] || fail "hold @single.test: $(wc -l < "$T/hold.out") lines, want 154 + 1"
ok "hold @single.test: 153 held (M as a whole), E already, C untouched, count line"
assert_log "control: uid 0 \(pid [0-9]+\): hold @Single\.TEST\.$"
assert_log "queue hold @single\.test by uid 0: 153 messages held, 1 already held"
for id in $A $M $(echo "$BULK" | sed -n '1p;75p;150p'); do
	assert_log "$id: held by the operator \(uid 0\)"
	[ "$(grep '^H ' "$T/spool/msg/$id.st" | tail -1 | cut -c1-3)" = "H 1" ] || fail "$id: no H 1 record in its journal"
done
grep -q '^H ' "$T/spool/msg/$C.st" 2> /dev/null && fail "$C has a hold record"
ok "hold @single.test: logged per message with the uid, journaled (H 1)"
q list --json > "$T/list1.json" || fail "queue list --json"
python3 - "$T/list1.json" "$C" <<'PY' || fail "list after hold @single.test"
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
held = [j for j in m if j["held"]]
assert len(m) == 155 and len(held) == 154, (len(m), len(held))
assert [j["queue_id"] for j in m if not j["held"]] == [sys.argv[2]]
PY
ok "list: every message with a recipient in single.test held, C not"

# --- a restart keeps the holds
relay_stop
relay_start "$T/relay.conf"
q list --json > "$T/list2.json" || fail "queue list --json after restart"
python3 - "$T/list2.json" "$C" <<'PY' || fail "holds after restart"
import json, sys
m = [json.loads(l) for l in open(sys.argv[1])]
assert len(m) == 155 and sum(j["held"] for j in m) == 154, len(m)
assert [j["queue_id"] for j in m if not j["held"]] == [sys.argv[2]]
PY
ok "after a restart: 154 held, C not"

# --- delete @DOMAIN: never more than the domain's own messages
q delete @single.test > "$T/del.out" 2> "$T/del.err"; st=$?
[ "$st" -eq 1 ] || { cat "$T/del.out" "$T/del.err"; fail "delete @single.test: exit $st, want 1 (M kept)"; }
grep -q "delete @single.test: 1 message not deleted: open recipients in other domains too" "$T/del.err" ||
    fail "delete @single.test: error line: $(cat "$T/del.err")"
for id in $A $B $E $BULK; do
	grep -qx "$id: deleted" "$T/del.out" || fail "delete @single.test: no line '$id: deleted'"
done
grep -qx "$M: also has open recipients in other domains: not deleted (delete $M removes it)" "$T/del.out" ||
    fail "delete @single.test: M's line: $(grep "^$M" "$T/del.out")"
tail -1 "$T/del.out" | grep -qx "delete @single.test: 153 messages deleted, 1 not deleted (open recipients in other domains too)" ||
    fail "delete @single.test: count line: $(tail -1 "$T/del.out")"
assert_log "$A: deleted by the operator \(uid 0\)"
assert_no_log "$M: deleted by the operator"
for id in $A $B $E $BULK; do
	[ -e "$T/spool/msg/$id" ] && fail "$id: msg/$id left after delete @single.test"
	[ -e "$T/spool/msg/$id.st" ] && fail "$id: msg/$id.st left after delete @single.test"
done
[ -e "$T/spool/msg/$M" ] || fail "M's file is gone"
[ "$(ls "$T/spool/msg" | grep -vc '\.st$')" -eq 2 ] || fail "spool: $(ls "$T/spool/msg")"
assert_no_log "non-delivery notification"
ok "delete @single.test: 153 deleted, their files gone at the answer, no DSN; M kept and named; exit 1"

# --- release @DOMAIN, then delivery
q release @three.test > "$T/rel.out" || { cat "$T/rel.out"; fail "release @three.test failed"; }
grep -qx "$M: released (the whole message: it has open recipients in other domains too)" "$T/rel.out" ||
    fail "release @three.test: M's line: $(cat "$T/rel.out")"
tail -1 "$T/rel.out" | grep -qx "release @three.test: 1 message released, 1 not held" ||
    fail "release @three.test: count line: $(tail -1 "$T/rel.out")"
[ "$(grep '^H ' "$T/spool/msg/$M.st" | tail -1 | cut -c1-3)" = "H 0" ] || fail "$M: no H 0 record"
assert_log "$M: released by the operator \(uid 0\)"
q release @three.test > "$T/rel2.out" || fail "release @three.test again failed"
tail -1 "$T/rel2.out" | grep -qx "release @three.test: 0 messages released, 2 not held" ||
    fail "release @three.test again: $(cat "$T/rel2.out")"
ok "release @three.test: M released (as a whole, H 0), C was not held"
world_sink single mx.single.test
world_sink three mx1.three.test
q flush > /dev/null || fail "queue flush"
wait_done "$C" 30
wait_done "$M" 30
expect_delivered three "$C" sender@sender.test rc@three.test
expect_delivered single "$M" sender@sender.test rm@single.test
expect_delivered three "$M" sender@sender.test rn@three.test
for id in $A $B $E $(echo "$BULK" | sed -n '1p;150p'); do
	[ -z "$(python3 "$E2E/dlv.py" find "$T/single.msgs" "$id")" ] || fail "deleted $id was delivered"
done
wait_spool_empty 10
ok "released M and C delivered, deleted ones never; spool empty"
relay_stop
ok "t_queue_domain_ops"
