#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_queue_explain: `queue explain ID` shows a deferred recipient's last
# decision trace in DANE terms, from the delivery engine's values kept by
# the scheduler (not from the log). secure.test: MX 10 mx1, 20 mx2, each
# with a secure 3 1 1 TLSA RRset; mx1 presents another key (no record
# matches: RFC 8460 tlsa-invalid), mx2 offers no STARTTLS. The recipient
# is deferred with 4.7.5 (RFC 7672 2.2); explain names the MX state, each
# host, its TLSA state and usable counts, why it failed, the RFC 8460
# result type and the next attempt. Then `queue hold` on it: explain says
# so; after a restart (no trace in memory) explain says there was no
# attempt since the start and shows the journaled last error and hold.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

base_conf "$T/relay.conf" <<'CONF'
min_backoff = 10m
max_backoff = 1h
CONF
sed -i "s|^tls_policy *=.*|tls_policy = dane|" "$T/relay.conf"
mx_sink mx1 mx1.secure.test mx1.secure.test.wrongkey
mx_sink mx2 mx2.secure.test -
relay_start "$T/relay.conf"

send r@secure.test
wait_deferred r@secure.test
echo "$DEFER_LINE" | grep -q ': 4\.7\.5 ' || fail "deferral is not 4.7.5: $DEFER_LINE"

"$BIN" -c "$T/relay.conf" queue explain "$QID" > "$T/explain.txt" 2>&1 ||
    { cat "$T/explain.txt"; fail "queue explain failed"; }
cat "$T/explain.txt"
x() {	# PATTERN WHAT
	grep -Eq -- "$1" "$T/explain.txt" || fail "explain lacks $2: /$1/"
	ok "explain shows $2"
}
x "^$QID: from <s@sender\.test>, arrived " "the message"
x "^  <r@secure\.test>: deferred, attempts 1, next attempt [0-9T:Z-]+ \(in [0-9]+s\)$" "state and next attempt"
x "^    last attempt [0-9T:Z-]+: domain secure\.test, policy dane$" "the attempt's policy"
x "^    MX secure\.test: secure, 2 hosts \(mx1\.secure\.test, mx2\.secure\.test\)$" "the MX RRset state"
x "^    host mx1\.secure\.test \[$(addr_of mx1.secure.test | sed 's/\./\\./g')\]: addresses secure \(1\)$" "mx1 and its address state"
x "^      TLSA at base domain mx1\.secure\.test: secure, 1 record \(1 usable, 0 unusable\)$" "mx1's TLSA state and usable count"
x "^      TLS level dane$" "mx1's TLS level"
x "^      connected to $(addr_of mx1.secure.test | sed 's/\./\\./g') from [0-9.]+, TLSv1\.[23] \(unauthenticated\)$" "the connection to mx1"
x "^      failed: 4\.7\.5 DANE verification failed for mx1\.secure\.test.*\(tlsa-invalid\)" "why mx1 failed"
x "^    host mx2\.secure\.test \[$(addr_of mx2.secure.test | sed 's/\./\\./g')\]: addresses secure \([0-9]\)$" "mx2"
x "^      failed: 4\.7\.5 .*starttls-not-supported" "why mx2 failed"
x "^    RFC 8460 result type: tlsa-invalid; DANE: fail$" "the RFC 8460 result type"

"$BIN" -c "$T/relay.conf" queue explain "$QID" --json > "$T/explain.json" || fail "explain --json failed"
python3 - "$T/explain.json" "$(addr_of mx1.secure.test)" <<'PY' || fail "explain --json fields"
import json, sys
e = json.loads(open(sys.argv[1]).read())
r = e["recipients"][0]
assert r["address"] == "r@secure.test" and r["state"] == "deferred", r
assert r["tlsrpt_result"] == "tlsa-invalid", r
assert r["dane_result"] == "fail", r
t = r["trace"]
assert t["policy"] == "dane" and t["mx"]["state"] == "secure", t
h = t["hosts"]
assert [x["name"] for x in h][:2] == ["mx1.secure.test", "mx2.secure.test"], h
assert h[0]["tlsa"]["state"] == "secure" and h[0]["tlsa"]["usable"] == 1, h[0]
assert h[0]["ip"] == sys.argv[2] and h[0]["result"] == "failed", h[0]
assert h[0]["tlsrpt_result"] == "tlsa-invalid" and h[0]["status"] == "4.7.5", h[0]
assert h[0]["dane_authenticated"] is False, h[0]
assert h[1]["tlsrpt_result"] == "starttls-not-supported", h[1]
print("explain json ok")
PY
ok "explain --json: trace fields"
assert_log "control: uid 0 \(pid [0-9]+\): explain $QID"

"$BIN" -c "$T/relay.conf" queue hold "$QID" > /dev/null || fail "hold failed"
"$BIN" -c "$T/relay.conf" queue explain "$QID" > "$T/explain2.txt" || fail "explain failed"
grep -q "^$QID: .*, on hold$" "$T/explain2.txt" || { cat "$T/explain2.txt"; fail "explain does not say on hold"; }
grep -q "on hold (no attempt until released)" "$T/explain2.txt" || fail "explain: recipient on hold"
ok "explain shows the hold"

relay_stop
relay_start "$T/relay.conf"
"$BIN" -c "$T/relay.conf" queue explain "$QID" > "$T/explain3.txt" || fail "explain after restart failed"
cat "$T/explain3.txt"
grep -q "on hold" "$T/explain3.txt" || fail "hold did not survive the restart"
grep -q "no attempt since the daemon started; last error: 4\.7\.5 " "$T/explain3.txt" ||
    fail "explain after restart: no last error from the journal"
ok "after a restart: hold kept (journal), last error shown, no invented trace"
"$BIN" -c "$T/relay.conf" queue explain 0000000000000ZZ > "$T/explain4.txt" 2>&1 && fail "explain of an unknown id succeeded"
grep -q "no such message" "$T/explain4.txt" || fail "explain of an unknown id: message"
ok "explain of an unknown id: exit 1"
relay_stop
exit 0
