#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_crash_domain_ops: crash safety of `queue delete|hold|release @DOMAIN`.
# Mail for single.test (A) and three.test (B; two recipients each, one of
# them held by id, answered, before the crashes) and one message to both
# (M) stays queued: nothing listens on their MX hosts, the backoff is 10 m.
# Three rounds, `delete @single.test`, `hold @single.test`, `release
# @single.test` (at most 64 changes in flight: relay/queue_ctl.c), each
# cut by a kill -9 of the daemon at the N-th message file removed /
# journal written in msg/ (inotify(7)), checked on disk byte for byte
# against a snapshot taken before the command (tests/e2e/opcrash.py), then
# restarted on the same spool:
#  - B's files (and M's, delete round) are exactly as before the command;
#    every A message is either gone (a journal left by the crash between
#    the two unlinks of a removal is removed at start and logged) or
#    there exactly as queued; after hold (release), each A journal is as
#    before or has exactly one H 1 (H 0) record more, and every message
#    logged as held (released) has it; nothing in corrupt/. The crash came
#    in the middle: some done, some not, the command got no answer.
#  - the recovery line counts the messages on disk; `queue list` shows
#    the same ids, held exactly where the journal says so, and B's
#    recipients in the states they had (the hold answered before the
#    crash holds).
#  - the command again finishes the rest: its count line adds up with
#    what the crash left. Then, with the sinks up and a flush, every B, M
#    and second-round A message is delivered to each recipient exactly
#    once, intact; no message of the first (deleted) round is.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

NA=${CRASH_NA:-250}	# A messages per round
NB=${CRASH_NB:-80}	# B messages (two recipients each)
KILL_AT=${CRASH_KILL_AT:-100}
# what opcrash.py after found (counts, below)
msgs=0 gone=0 orphans=0 present=0 logged=0 inflight=0 changed=0

relay_start_queueing
q() { "$BIN" -c "$T/relay.conf" queue "$@"; }
SPOOL=$T/spool
oc() { python3 "$E2E/opcrash.py" "$@"; }
nmsg() { [ "$1" -eq 1 ] && echo "1 message" || echo "$1 messages"; }

# wait_deferred N: N "Temporary failure" lines in all, then no recipient
# pending or in an attempt (the spool stays as it is for the snapshot).
wait_deferred() {
	local i=0
	while [ "$(grep -c ': Temporary failure for <' "$RELAY_LOG")" -lt "$1" ]; do
		i=$((i + 1))
		[ "$i" -gt 600 ] && fail "only $(grep -c ': Temporary failure for <' "$RELAY_LOG") of $1 recipients deferred"
		sleep 0.1
	done
	i=0
	while :; do
		q list --json > "$T/quiet.json" || fail "queue list --json"
		python3 -c '
import json, sys
sys.exit(any(r["state"] != "deferred" for l in open(sys.argv[1]) for r in json.loads(l)["recipients"]))' \
		    "$T/quiet.json" && break
		i=$((i + 1))
		[ "$i" -gt 50 ] && fail "recipients still pending or active"
		sleep 0.2
	done
}

# counts KEY...: the KEY=N lines of opcrash.py after ($T/after.out) as
# shell variables.
counts() {
	local k
	for k in "$@"; do
		printf -v "$k" '%s' "$(sed -n "s/^$k=\([0-9]*\)$/\1/p" "$T/after.out")"
		[ -n "${!k}" ] || fail "opcrash.py after: no $k"
	done
}

# crash VERB: `queue VERB @single.test` in the background, SIGKILL of the
# daemon at the KILL_AT-th message file removed (delete) or journal
# written (hold, release) in msg/, seen by inotify(7); the command says it
# got no answer. OFF is where the log stood before the command.
crash() {
	local verb=$1 did=${1}d ev=append kp cp st
	case $verb in
	delete)	ev="unlink" ;;
	hold)	did=held ;;
	esac
	OFF=$(stat -c %s "$RELAY_LOG")
	rm -f "$T/watching"
	oc killon "$RELAY_PID" "$SPOOL" "$ev" "$KILL_AT" 30 "$T/watching" > "$T/$verb.kill" 2>&1 &
	kp=$!
	track "$kp"
	wait_file "$kp" "$T/watching" 100 || { cat "$T/$verb.kill"; fail "no inotify watch"; }
	q "$verb" @single.test > "$T/$verb.crash.out" 2>&1 &
	cp=$!
	track "$cp"
	wait "$kp" || { cat "$T/$verb.kill"; fail "$verb @single.test: no kill"; }
	untrack "$kp"
	cat "$T/$verb.kill"
	wait "$RELAY_PID" 2> /dev/null
	untrack "$RELAY_PID"
	RELAY_PID=""
	wait "$cp"; st=$?
	untrack "$cp"
	[ "$st" -eq 1 ] && grep -q "^danerelay: .*/control: no answer from the daemon$" "$T/$verb.crash.out" ||
	    fail "$verb @single.test, daemon killed: exit $st, $(tail -1 "$T/$verb.crash.out")"
	grep -q "^$verb @single.test: [0-9]* messages\? $did" "$T/$verb.crash.out" &&
	    fail "$verb @single.test was answered before the kill: $(tail -1 "$T/$verb.crash.out")"
	assert_no_log "queue $verb @single\.test by uid"
}

# restart: start on the same spool; the recovery line counts $msgs (from
# opcrash.py after) messages, the orphaned journals of the crash are
# removed, one line each.
restart() {
	local before line n
	before=$(grep -c 'messages\? recovered' "$RELAY_LOG")
	n=$(grep -c 'removed journal of a removed message' "$RELAY_LOG")
	relay_start "$T/relay.conf"
	line=$(grep 'messages\? recovered' "$RELAY_LOG" | sed -n "$((before + 1))p")
	echo "$line"
	echo "$line" | grep -Eq ": $msgs messages recovered, 0 incomplete removed, 0 moved to corrupt/$" ||
	    fail "recovery line does not count $msgs messages, none incomplete or corrupt"
	[ "$(grep -c 'removed journal of a removed message' "$RELAY_LOG")" -eq $((n + orphans)) ] ||
	    fail "not $orphans orphaned journals removed"
	for f in "$SPOOL"/msg/*.st; do
		[ -e "${f%.st}" ] || fail "${f##*/}: a journal without its message after the start"
	done
	[ -z "$(ls "$SPOOL/corrupt")" ] || fail "corrupt/: $(ls "$SPOOL/corrupt")"
	ok "restart: $msgs messages recovered, $orphans orphaned journals removed, none corrupt"
}

# --- the queue: A (round 1), B (two recipients each), M (both domains)
inject_n "$NA" round1 sender@sender.test ra@single.test
echo "$QIDS" > "$T/a1.ids"
inject_n "$NB" other sender@sender.test rb1@three.test rb2@three.test
echo "$QIDS" > "$T/b.ids"
PB=$(head -1 "$T/b.ids")
inject sender@sender.test rm@single.test rn@three.test; M=$QID
wait_deferred $((NA + 2 * NB + 2))
q hold "$PB" > "$T/holdpb.out" || fail "hold $PB: $(cat "$T/holdpb.out")"
grep -qx "$PB: held" "$T/holdpb.out" || fail "hold $PB: $(cat "$T/holdpb.out")"
ok "$NA messages for single.test, $NB for three.test (one held), M for both: all deferred"

# --- round 1: delete @single.test, killed
oc snap "$SPOOL" "$T/snap1.json" || fail "snapshot"
{ cat "$T/b.ids"; echo "$M"; } > "$T/b1.ids"
crash delete
oc after "$SPOOL" "$T/snap1.json" "$T/sent" delete "$T/a1.ids" "$T/b1.ids" "$RELAY_LOG" "$OFF" > "$T/after.out" ||
    { cat "$T/after.out"; fail "the spool after the crash of delete @single.test"; }
cat "$T/after.out"
counts msgs gone orphans present logged inflight changed
# inflight (logged, not yet removed) and orphans witness removals under
# way at the kill; whether the loop wrote its log lines before it is luck
[ "$gone" -ge "$KILL_AT" ] && [ "$present" -gt 0 ] ||
    fail "the kill did not come in the middle of delete (gone $gone, there $present)"
[ "$msgs" -eq $((present + NB + 1)) ] || fail "$msgs messages on disk, want $((present + NB + 1))"
ok "delete @single.test killed: $gone gone ($orphans journals left), $present intact ($inflight of them logged), B and M untouched"
restart
q list --json > "$T/list1.json" || fail "queue list --json"
oc listed "$T/list1.json" "$SPOOL" "$T/snap1.json" "$T/b1.ids" || fail "queue list after the restart"
grep -q "\"queue_id\":\"$PB\",[^}]*\"held\":true" "$T/list1.json" || fail "the hold of $PB answered before the crash is lost"
ok "listed as on disk; B's recipients as before; $PB still held"
q delete @single.test > "$T/del2.out" 2> "$T/del2.err"; st=$?
[ "$st" -eq 1 ] || { cat "$T/del2.out" "$T/del2.err"; fail "delete @single.test again: exit $st, want 1 (M kept)"; }
tail -1 "$T/del2.out" | grep -qx "delete @single.test: $(nmsg "$present") deleted, 1 not deleted (open recipients in other domains too)" ||
    fail "delete @single.test again: $(tail -1 "$T/del2.out"), want $present deleted"
while read -r id; do
	[ -e "$SPOOL/msg/$id" ] || [ -e "$SPOOL/msg/$id.st" ] && fail "$id still in the spool"
done < "$T/a1.ids"
ok "delete @single.test again: the other $present deleted, round 1 gone"

# --- round 2: hold @single.test, killed
inject_n "$NA" round2 sender@sender.test ra@single.test
echo "$QIDS" > "$T/a2.ids"
E=$(head -1 "$T/a2.ids")
wait_deferred $((2 * NA + 2 * NB + 2))
q hold "$E" > "$T/holde.out" || fail "hold $E: $(cat "$T/holde.out")"
grep -qx "$E: held" "$T/holde.out" || fail "hold $E: $(cat "$T/holde.out")"
oc snap "$SPOOL" "$T/snap2.json" || fail "snapshot"
echo "$M" >> "$T/a2.ids"
crash hold
oc after "$SPOOL" "$T/snap2.json" "$T/sent" hold "$T/a2.ids" "$T/b.ids" "$RELAY_LOG" "$OFF" > "$T/after.out" ||
    { cat "$T/after.out"; fail "the spool after the crash of hold @single.test"; }
cat "$T/after.out"
counts msgs gone orphans present logged inflight changed
[ "$changed" -ge "$KILL_AT" ] && [ "$changed" -lt "$NA" ] ||
    fail "the kill did not come in the middle of hold (logged $logged, held $changed)"
[ "$msgs" -eq $((NA + NB + 1)) ] || fail "$msgs messages on disk, want $((NA + NB + 1))"
ok "hold @single.test killed: $changed held on disk (each of the $logged logged), the rest as before"
restart
q list --json > "$T/list2.json" || fail "queue list --json"
oc listed "$T/list2.json" "$SPOOL" "$T/snap2.json" "$T/b.ids" || fail "queue list after the restart"
for id in "$PB" "$E"; do
	grep -q "\"queue_id\":\"$id\",[^}]*\"held\":true" "$T/list2.json" || fail "the hold of $id answered before the crash is lost"
done
ok "listed as on disk; B's recipients as before; $PB and $E still held"
q hold @single.test > "$T/hold2.out" || { cat "$T/hold2.out"; fail "hold @single.test again"; }
tail -1 "$T/hold2.out" | grep -qx "hold @single.test: $(nmsg $((NA - changed))) held, $((changed + 1)) already held" ||
    fail "hold @single.test again: $(tail -1 "$T/hold2.out"), want $((NA - changed)) held, $((changed + 1)) already"
ok "hold @single.test again: the other $((NA - changed)) held, $((changed + 1)) already"

# --- round 3: release @single.test (every A message held), killed
oc snap "$SPOOL" "$T/snap3.json" || fail "snapshot"
crash release
oc after "$SPOOL" "$T/snap3.json" "$T/sent" release "$T/a2.ids" "$T/b.ids" "$RELAY_LOG" "$OFF" > "$T/after.out" ||
    { cat "$T/after.out"; fail "the spool after the crash of release @single.test"; }
cat "$T/after.out"
counts msgs gone orphans present logged inflight changed
[ "$changed" -ge "$KILL_AT" ] && [ "$changed" -le "$NA" ] ||
    fail "the kill did not come in the middle of release (logged $logged, released $changed)"
[ "$msgs" -eq $((NA + NB + 1)) ] || fail "$msgs messages on disk, want $((NA + NB + 1))"
ok "release @single.test killed: $changed released on disk (each of the $logged logged), the rest as before"
restart
q list --json > "$T/list3.json" || fail "queue list --json"
oc listed "$T/list3.json" "$SPOOL" "$T/snap3.json" "$T/b.ids" || fail "queue list after the restart"
q release @single.test > "$T/rel.out" || { cat "$T/rel.out"; fail "release @single.test again"; }
tail -1 "$T/rel.out" | grep -qx "release @single.test: $(nmsg $((NA + 1 - changed))) released, $changed not held" ||
    fail "release @single.test again: $(tail -1 "$T/rel.out"), want $((NA + 1 - changed)) released, $changed not held"
ok "release @single.test again: the other $((NA + 1 - changed)) released"

# --- everything left is delivered, once
q release "$PB" > /dev/null || fail "release $PB"
world_sink single mx.single.test
world_sink three mx1.three.test
q flush > /dev/null || fail "queue flush"
wait_spool_empty 60
{ cat "$T/b.ids" "$T/a2.ids"; } > "$T/all.ids"
oc delivered "$T/sent" "$T/snap2.json" "$T/all.ids" "$T/a1.ids" "$T/single.msgs" "$T/three.msgs" ||
    fail "delivery after the crashes"
assert_no_log "non-delivery notification"
relay_stop
ok "t_crash_domain_ops"
