#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_queue_shape: `queue shape` (qshape) on a real daemon and on its spool
# once it stopped. DNS fails at once (NO_DELIVERY), so every message stays
# deferred: four to alpha.example (one to Alpha.EXAMPLE: the same domain),
# one to beta.example and gamma.example at once, one more to each, and one
# to gamma.example that is put on hold. Expected: TOTAL 9, alpha.example 4,
# gamma.example 3 (1 held), beta.example 2, in that order, every recipient
# in the first age bucket (fresh mail; the other buckets are unit-tested,
# tests/unit/test_queue_shape.c).
#  - text: qshape's header and rows, every column right-aligned;
#  - --json: one object per row, TOTAL first, and the counts agree with
#    what `queue list --json` shows recipient by recipient;
#  - with the daemon stopped: the same output, read from the spool
#    read-only, saying so on stderr as `queue list` does.
. "$(dirname "$0")/lib.sh"

NO_DELIVERY=1 base_conf "$T/relay.conf"
relay_start "$T/relay.conf"

q() { "$BIN" -c "$T/relay.conf" queue "$@"; }

# --- an empty queue
q shape > "$T/empty.txt" 2> "$T/empty.err" || { cat "$T/empty.err"; fail "queue shape (empty) failed"; }
[ "$(cat "$T/empty.txt")" = "Mail queue is empty" ] || { cat "$T/empty.txt"; fail "empty queue: want 'Mail queue is empty'"; }
q shape --json > "$T/empty.json" || fail "queue shape --json (empty) failed"
python3 - "$T/empty.json" <<'PY' || fail "empty queue: --json"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
assert len(rows) == 1, rows
r = rows[0]
assert r["domain"] == "TOTAL" and r["total"] == 0 and r["held"] == 0, r
assert list(r["buckets"]) == ["5", "10", "20", "40", "80", "160", "320", "640", "1280", "1280+"], r
assert not any(r["buckets"].values()), r
PY
ok "empty queue: 'Mail queue is empty'; --json a TOTAL of zeros"
q shape extra > /dev/null 2>&1
[ $? -eq 2 ] || fail "queue shape with an argument: want exit 2"
ok "queue shape with an argument: exit 2"

send() {	# RCPT[,RCPT]: one message, its queue id in QID
	swaks --server "$NET.1" --port 10025 --from s@relay.test --to "$1" \
	    --body x > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "swaks to $1"; }
	QID=$(sed -n 's/.*<- *250 .*queued as \([0-9A-Z]*\).*/\1/p' "$T/swaks.out" | tail -1)
	[ -n "$QID" ] || { cat "$T/swaks.out"; fail "no queue id for $1"; }
}
deferred() {	# QID RCPT
	wait_log "$1: Temporary failure for <$2>" 30 || fail "$1: <$2> not deferred"
}
for r in a1@alpha.example a2@Alpha.EXAMPLE a3@alpha.example a4@alpha.example; do
	send "$r"
	deferred "$QID" "$r"
done
send b1@beta.example,g1@gamma.example
deferred "$QID" b1@beta.example
deferred "$QID" g1@gamma.example
send b2@beta.example
deferred "$QID" b2@beta.example
send g2@gamma.example
deferred "$QID" g2@gamma.example
send g3@gamma.example
deferred "$QID" g3@gamma.example
q hold "$QID" > "$T/hold.out" || { cat "$T/hold.out"; fail "queue hold $QID"; }
grep -qx "$QID: held" "$T/hold.out" || fail "queue hold output"
ok "7 messages, 9 recipients in 3 domains deferred, $QID held"

# check_text FILE: the rows and totals expected above
check_text() {
	cat "$1"
	[ "$(wc -l < "$1")" -eq 5 ] || fail "$1: $(wc -l < "$1") lines, want 5"
	sed -n 1p "$1" | grep -Eq '^ +T +5 +10 +20 +40 +80 +160 +320 +640 +1280 +1280\+ +held$' ||
	    fail "$1: header"
	sed -n 2p "$1" | grep -Eq '^ +TOTAL +9 +9( +0){9} +1$' || fail "$1: TOTAL row"
	sed -n 3p "$1" | grep -Eq '^ *alpha\.example +4 +4( +0){9} +0$' || fail "$1: alpha.example row"
	sed -n 4p "$1" | grep -Eq '^ *gamma\.example +3 +3( +0){9} +1$' || fail "$1: gamma.example row"
	sed -n 5p "$1" | grep -Eq '^ *beta\.example +2 +2( +0){9} +0$' || fail "$1: beta.example row"
	# right-aligned: every line as long as the header, and every row's
	# numbers end where the header's labels do
	awk 'NR == 1 { n = length($0) } length($0) != n { exit 1 }' "$1" ||
	    fail "$1: lines of different lengths"
	python3 - "$1" <<'PY' || fail "$1: columns not right-aligned"
import re, sys
lines = open(sys.argv[1]).read().splitlines()
ends = lambda l: [m.end() for m in re.finditer(r"\S+", l)]
head = ends(lines[0])
for l in lines[1:]:
    assert ends(l)[1:] == head, (l, head)
PY
}

# check_json FILE LISTJSON: the rows expected above, and the same counts
# as the recipients `queue list --json` shows
check_json() {
	python3 - "$1" "$2" <<'PY' || fail "$1: shape --json"
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
labels = ["5", "10", "20", "40", "80", "160", "320", "640", "1280", "1280+"]
assert [r["domain"] for r in rows] == ["TOTAL", "alpha.example", "gamma.example", "beta.example"], rows
want = {"TOTAL": (9, 1), "alpha.example": (4, 0), "gamma.example": (3, 1), "beta.example": (2, 0)}
for r in rows:
    assert set(r) == {"domain", "total", "buckets", "held"}, r
    assert list(r["buckets"]) == labels, r
    assert (r["total"], r["held"]) == want[r["domain"]], r
    assert r["buckets"]["5"] == r["total"] and sum(r["buckets"].values()) == r["total"], r
# recipient by recipient from queue list --json
count = {}
for l in open(sys.argv[2]):
    m = json.loads(l)
    for rc in m["recipients"]:
        if rc["state"] not in ("pending", "deferred", "active"):
            continue
        d = rc["address"].rsplit("@", 1)[1].lower()
        t, h = count.get(d, (0, 0))
        count[d] = (t + 1, h + m["held"])
got = {r["domain"]: (r["total"], r["held"]) for r in rows if r["domain"] != "TOTAL"}
assert got == count, (got, count)
print("json rows ok:", got)
PY
}

# --- through the daemon
q shape > "$T/shape.txt" 2> "$T/shape.err" || { cat "$T/shape.err"; fail "queue shape failed"; }
[ ! -s "$T/shape.err" ] || { cat "$T/shape.err"; fail "queue shape wrote to stderr"; }
check_text "$T/shape.txt"
assert_log "control: uid 0 \(pid [0-9]+\): shape"
ok "queue shape (daemon): qshape's rows, most recipients first, right-aligned"
q shape --json > "$T/shape.json" || fail "queue shape --json failed"
q list --json > "$T/list.json" || fail "queue list --json failed"
check_json "$T/shape.json" "$T/list.json"
ok "queue shape --json (daemon): one object per row, agrees with queue list --json"

# --- no daemon: the spool, read-only
relay_stop
find "$T/spool" -printf '%p %s %T@\n' | sort > "$T/spool.before"
q shape > "$T/off.txt" 2> "$T/off.err"
st=$?
cat "$T/off.err"
[ "$st" -eq 0 ] || fail "offline queue shape: exit $st"
[ "$(cat "$T/off.err")" = "danerelay: no daemon is running on $T/spool: reading the spool directly (read-only)" ] ||
    fail "offline shape does not say it reads the spool as queue list does"
check_text "$T/off.txt"
cmp "$T/shape.txt" "$T/off.txt" || fail "offline text differs from the daemon's"
q shape --json > "$T/off.json" 2> /dev/null || fail "offline queue shape --json failed"
cmp "$T/shape.json" "$T/off.json" || fail "offline --json differs from the daemon's"
q list --json > "$T/offlist.json" 2> /dev/null || fail "offline queue list --json failed"
check_json "$T/off.json" "$T/offlist.json"
find "$T/spool" -printf '%p %s %T@\n' | sort > "$T/spool.after"
cmp "$T/spool.before" "$T/spool.after" || fail "offline shape changed the spool"
ok "no daemon: queue shape reads the spool read-only, says so, prints the same"
exit 0
