#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_queue_tool: the queue tool over the control socket SPOOL/control, on a
# real daemon with real sinks. Four messages are deferred (their MX hosts
# refuse connections, 10m backoff): A and B to single.test, C to
# three.test, D to single.test.
#  - `queue list` and `--json` show each message and recipient with the
#    documented fields (state, attempts, next attempt, last error).
#  - `hold B` is journaled ("H 1") and logged with the operator's uid;
#    `delete D` removes its files and logs the uid.
#  - with the sinks up, `queue flush @single.test` delivers A only: B is
#    held, C is another domain, D is gone; `release B` delivers B.
#  - an unrelated non-root user is refused: by the socket's directory and
#    mode, and (with the modes opened up on purpose) by the daemon's
#    SO_PEERCRED check; root works.
#  - with the daemon stopped, `list` reads the spool directly, read-only,
#    and says so; `hold` exits 1 saying no daemon runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

relay_start_queueing
[ -S "$T/spool/control" ] || fail "no control socket $T/spool/control"
[ "$(stat -c %a "$T/spool/control")" = 660 ] || fail "control socket mode $(stat -c %a "$T/spool/control"), want 660"
ok "SPOOL/control is a socket, mode 0660"

q() { "$BIN" -c "$T/relay.conf" queue "$@"; }

inject sender@sender.test ra@single.test; A=$QID
inject sender@sender.test rb@single.test; B=$QID
inject sender@sender.test rc@three.test; C=$QID
inject sender@sender.test rd@single.test; D=$QID
for m in "$A ra@single\.test" "$B rb@single\.test" "$C rc@three\.test" "$D rd@single\.test"; do
	set -- $m
	wait_log "$1: Temporary failure for <$2> \(retry 1\): 4\.4\.1 .*; next attempt in [0-9]+s" 30 ||
	    fail "$1 not deferred"
done
ok "four messages deferred"

# --- list, text and JSON
q list > "$T/list.txt" 2> "$T/list.err" || { cat "$T/list.err"; fail "queue list failed"; }
cat "$T/list.txt"
for id in $A $B $C $D; do
	grep -q "^$id " "$T/list.txt" || fail "queue list lacks $id"
done
grep -Eq "^ +deferred +<ra@single\.test> +attempts 1, next attempt [0-9T:Z-]+ \(in [0-9]+s\)" "$T/list.txt" ||
    fail "queue list: no deferred line for ra@single.test"
grep -Eq "^ +4\.4\.1 .*(refused|Connection)" "$T/list.txt" || fail "queue list: no last error"
grep -Eq "^-- 4 messages \(0 held, 0 active\), [0-9]+ octets; 4 recipients open: 0 pending, 4 deferred, 0 active$" "$T/list.txt" ||
    fail "queue list: totals line"
ok "queue list (text)"
q list --json > "$T/list.json" || fail "queue list --json failed"
python3 - "$T/list.json" "$A" "$C" <<'PY' || fail "queue list --json fields"
import json, sys, time
path, a, c = sys.argv[1:4]
msgs = [json.loads(l) for l in open(path)]
assert len(msgs) == 4, len(msgs)
by = {m["queue_id"]: m for m in msgs}
m = by[a]
now = time.time()
for k in ("queue_id", "queue_name", "held", "active", "arrival_time",
	  "message_size", "sender", "recipients"):
	assert k in m, k
assert m["sender"] == "sender@sender.test", m
assert m["held"] is False and m["active"] is False, m
assert m["queue_name"] == "deferred", m
assert abs(m["arrival_time"] - now) < 120, m
assert m["message_size"] > 100, m
r = m["recipients"][0]
assert r["address"] == "ra@single.test", r
assert r["state"] == "deferred", r
assert r["attempts"] == 1, r
assert r["next_attempt"] > now + 300, r
assert r["delay_reason"].startswith("4.4.1 "), r
assert by[c]["recipients"][0]["address"] == "rc@three.test"
print("json ok")
PY
ok "queue list --json: documented fields and values"

# --- hold B, delete D
q hold "$B" > "$T/hold.out" || { cat "$T/hold.out"; fail "queue hold failed"; }
grep -qx "$B: held" "$T/hold.out" || fail "queue hold output"
assert_log "$B: held by the operator \(uid 0\)"
grep -Eq '^H 1 [0-9a-f]{8}$' "$T/spool/msg/$B.st" || fail "no hold record in $B's journal"
q list --json | python3 -c '
import json, sys
m = {j["queue_id"]: j for j in map(json.loads, sys.stdin)}
assert m[sys.argv[1]]["held"] is True and m[sys.argv[1]]["queue_name"] == "hold"
' "$B" || fail "list --json does not show $B held"
q list | grep -q "^$B! .*(held)" || fail "list does not mark $B held"
ok "hold: journaled, logged with uid, listed"
q delete "$D" > "$T/del.out" || { cat "$T/del.out"; fail "queue delete failed"; }
assert_log "$D: deleted by the operator \(uid 0\)"
i=0
while [ -e "$T/spool/msg/$D" ] || [ -e "$T/spool/msg/$D.st" ]; do
	i=$((i + 1)); [ "$i" -gt 50 ] && fail "$D still in the spool after delete"
	sleep 0.1
done
q list | grep -q "^$D" && fail "$D still listed after delete"
ok "delete: files gone, logged with uid"
q hold 0000000000000ZZ > "$T/nohold.out" 2>&1 && fail "hold of an unknown id succeeded"
grep -q "no such message" "$T/nohold.out" || { cat "$T/nohold.out"; fail "hold of an unknown id: message"; }
ok "hold of an unknown id: exit 1, says so"
# an answer larger than any one read: every line arrives
ids=$(python3 -c 'a = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"; print(" ".join("0000000000000" + a[i // 32] + a[i % 32] for i in range(250)))')
# shellcheck disable=SC2086
q hold $ids > "$T/many.out" 2> "$T/many.err" && fail "hold of 250 unknown ids succeeded"
[ "$(grep -c ': no such message in the queue$' "$T/many.out")" -eq 250 ] ||
    fail "hold of 250 unknown ids: $(grep -c 'no such message' "$T/many.out") answer lines of 250 ($(wc -c < "$T/many.out") octets)"
grep -q "hold: 250 of 250 failed" "$T/many.err" || { cat "$T/many.err"; fail "hold of 250 unknown ids: error line"; }
ok "a long answer ($(wc -c < "$T/many.out") octets) arrives whole"

# --- sinks up; flush one domain
world_sink single mx.single.test
world_sink three mx1.three.test
q flush @single.test > "$T/flush.out" || { cat "$T/flush.out"; fail "queue flush @single.test failed"; }
grep -q "queue flush: 2 deferred recipients due now" "$T/flush.out" || { cat "$T/flush.out"; fail "flush @single.test count (A and held B)"; }
assert_log "queue flush @single\.test by uid 0: 2 deferred recipients due now"
wait_done "$A" 30
expect_delivered single "$A" sender@sender.test ra@single.test
sleep 2
expect_not_delivered single "$B"
expect_not_delivered three "$C"
[ "$(grep -c "$B: Processing message" "$RELAY_LOG")" -eq 1 ] || fail "held $B was attempted again"
ok "flush @single.test: A delivered; held B and three.test's C not"

q release "$B" > "$T/rel.out" || { cat "$T/rel.out"; fail "queue release failed"; }
assert_log "$B: released by the operator \(uid 0\)"
wait_done "$B" 30
expect_delivered single "$B" sender@sender.test rb@single.test
expect_not_delivered single "$D"
ok "release: B delivered; deleted D never was"

# --- who may talk to the socket
u=danerelay-test-nobody
id "$u" > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$u" ||
    fail "cannot create user $u"
chmod 0711 "$T"
chmod 0644 "$T/relay.conf"
setpriv --reuid="$u" --regid="$u" --clear-groups "$BIN" -c "$T/relay.conf" queue list > "$T/nobody.out" 2>&1
st=$?
cat "$T/nobody.out"
[ "$st" -eq 1 ] || fail "queue list as $u: exit $st, want 1"
grep -q "Permission denied" "$T/nobody.out" || fail "queue list as $u: no 'Permission denied'"
ok "an unrelated user cannot reach the socket (spool 0710, not in its group)"
# Open the modes up on purpose: the daemon's own peer check still refuses.
chmod 0711 "$T/spool"
chmod 0666 "$T/spool/control"
setpriv --reuid="$u" --regid="$u" --clear-groups "$BIN" -c "$T/relay.conf" queue hold "$C" > "$T/nobody2.out" 2>&1
st=$?
chmod 0710 "$T/spool"
chmod 0660 "$T/spool/control"
cat "$T/nobody2.out"
[ "$st" -eq 1 ] || fail "queue hold as $u with open modes: exit $st, want 1"
grep -q "permission denied" "$T/nobody2.out" || fail "queue hold as $u: the daemon did not refuse"
assert_log "control: refused uid $(id -u "$u") \(pid [0-9]+\): not root and not in group"
assert_no_log "$C: held by the operator"
ok "SO_PEERCRED check refuses an unrelated uid even with the socket opened up"
q list > /dev/null || fail "queue list as root failed"
ok "root may use the socket"
# a member of the socket's group may use it, and is logged with its uid
grp=$(stat -c %G "$T/spool/control")
[ "$(stat -c '%a %G' "$T/spool")" = "710 $grp" ] || fail "spool is $(stat -c '%a %G' "$T/spool"), want 710 $grp"
m=danerelay-test-member
id "$m" > /dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin "$m" ||
    fail "cannot create user $m"
usermod -aG "$grp" "$m" || fail "cannot add $m to $grp"
setpriv --reuid="$m" --regid="$m" --init-groups "$BIN" -c "$T/relay.conf" queue explain "$C" > "$T/member.out" 2>&1 ||
    { cat "$T/member.out"; fail "queue explain as $m (group $grp) refused"; }
grep -q "^  <rc@three\.test>: deferred" "$T/member.out" || { cat "$T/member.out"; fail "queue explain as $m: output"; }
assert_log "control: uid $(id -u "$m") \(pid [0-9]+\): explain $C"
ok "a member of group $grp (supplementary) may use the socket"
"$BIN" -c "$T/relay.conf" reload > "$T/reload.out" || { cat "$T/reload.out"; fail "reload failed"; }
wait_log "configuration reloaded from $T/relay.conf" 10 || fail "reload over the control socket did not reload"
assert_log "control: uid 0 \(pid [0-9]+\): reload"
ok "reload over the control socket"

# --- bounded requests and timeouts; a silent client blocks nobody
python3 - "$T/spool/control" <<'PY' || fail "an over-long request was not refused"
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.sendall(b"list" + b"x" * 6000)
a = s.makefile("rb").readline()
assert a.startswith(b"ERR request too long"), a
PY
assert_log "control: uid 0: request longer than 4096 octets, refused"
python3 - "$T/spool/control" "$BIN" "$T/relay.conf" <<'PY' || fail "silent client: timeout or blocking"
import socket, subprocess, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
t0 = time.time()
r = subprocess.run([sys.argv[2], "-c", sys.argv[3], "queue", "list"],
		   capture_output=True, timeout=5)
assert r.returncode == 0 and b"Queue ID" in r.stdout, r
assert time.time() - t0 < 3, "list waited for the silent client"
s.settimeout(20)
assert s.recv(100) == b""
el = time.time() - t0
assert 8 < el < 15, el
print("silent client closed after %.1fs; list meanwhile ok" % el)
PY
assert_log "control: uid 0: timed out waiting for a request"
ok "control socket: request size bounded, silent clients time out, nothing blocks"

# --- no daemon
relay_stop
[ -e "$T/spool/control" ] && fail "control socket left behind after a clean stop"
q list > "$T/off.txt" 2> "$T/off.err"
st=$?
cat "$T/off.err" "$T/off.txt"
[ "$st" -eq 0 ] || fail "offline queue list: exit $st"
grep -q "no daemon is running on $T/spool: reading the spool directly (read-only)" "$T/off.err" ||
    fail "offline list does not say it reads the spool"
grep -q "^$C " "$T/off.txt" || fail "offline list lacks $C"
grep -Eq "^ +deferred +<rc@three\.test> +attempts 1" "$T/off.txt" || fail "offline list: rc@three.test state"
grep -Eq "^-- 1 message " "$T/off.txt" || fail "offline list totals"
q list --json 2> /dev/null | python3 -c '
import json, sys
m = [json.loads(l) for l in sys.stdin]
assert len(m) == 1 and m[0]["queue_id"] == sys.argv[1], m
' "$C" || fail "offline list --json"
[ ! -e "$T/spool/control" ] || fail "offline list created something"
ok "no daemon: list reads the spool read-only and says so"
q hold "$C" > "$T/off2.out" 2>&1
st=$?
[ "$st" -eq 1 ] || fail "queue hold without a daemon: exit $st, want 1"
grep -q "no daemon is running" "$T/off2.out" || { cat "$T/off2.out"; fail "queue hold without a daemon: message"; }
ok "no daemon: hold exits 1 and says so"
q bogus > /dev/null 2>&1
[ $? -eq 2 ] || fail "unknown queue command: want exit 2"
ok "unknown queue command: exit 2"
exit 0
