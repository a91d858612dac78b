#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_acct: the accounting file (acct_file), read back with Python's csv
# module (RFC 4180) after real outcomes on the signed test world under
# tls_policy dane:
#  d  delivered to mx1.secure.test over TLS authenticated by DANE
#  b  refused by mx1.secure.test with 550 5.1.1 (a bounce)
#  t  three.test's hosts refuse connections (4.4.1)
#  t  mx1.secure.test presents another key, mx2 no STARTTLS (4.7.5,
#     RFC 8460 tlsa-invalid, daneResult fail)
# Then log rotation: both files renamed, SIGUSR2; the next records and log
# lines land in new files (with a new header), none in the renamed ones.
# Again with the control socket's `reopen`.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

for h in mx1.three.test mx2.three.test mx3.three.test; do
	a=$(addr_of "$h")
	python3 -c "import socket,sys; socket.create_connection((sys.argv[1], 25), 2)" "$a" 2> /dev/null &&
	    fail "something listens on $a:25 ($h): the test needs it refused"
done
ACCT=$T/acct.csv
base_conf "$T/relay.conf" <<CONF
acct_file = $ACCT
min_backoff = 10m
max_backoff = 1h
CONF
sed -i "s|^tls_policy *=.*|tls_policy = dane|" "$T/relay.conf"
echo "bounce 550 5.1.1 no such user" > "$T/rules"
mx_sink mx1 mx1.secure.test mx1.secure.test -r "$T/rules"
relay_start "$T/relay.conf"

send ok@secure.test; QD=$QID
wait_msg mx1 1
send bounce@secure.test; QB=$QID
wait_log "$QB: Permanent failure for <bounce@secure\.test>: 550 5\.1\.1" 20 || fail "no bounce"
send late@three.test; QT=$QID
wait_log "$QT: Temporary failure for <late@three\.test> \(retry 1\)" 20 || fail "three.test not deferred"
sink_stop mx1
mx_sink mx1w mx1.secure.test mx1.secure.test.wrongkey
mx_sink mx2 mx2.secure.test -
send dane@secure.test; QF=$QID
wait_log "$QF: Temporary failure for <dane@secure\.test> \(retry 1\): 4\.7\.5" 20 || fail "no DANE deferral"

# records are written within a loop turn; wait for the last one
i=0
while ! grep -q "^t,.*,$QF," "$ACCT" 2> /dev/null; do
	i=$((i + 1)); [ "$i" -gt 50 ] && { cat "$ACCT"; fail "no t record for $QF in $ACCT"; }
	sleep 0.1
done
cat "$ACCT"
python3 - "$ACCT" "$QD" "$QB" "$QT" "$QF" "$(addr_of mx1.secure.test)" <<'PY' || fail "acct records"
import csv, sys
path, qd, qb, qt, qf, mx1ip = sys.argv[1:7]
with open(path, newline="") as f:
	rows = list(csv.reader(f))
head = rows[0]
need = ["type", "timeLogged", "timeQueued", "orig", "rcpt", "dsnAction",
	"dsnStatus", "dsnDiag", "dsnMta", "dlvSourceIp", "dlvDestinationIp",
	"dlvSize", "dlvType", "tlsProtocol", "tlsCipher", "daneResult",
	"tlsrptResult", "mxHost", "attempts", "jobId"]
for n in need:
	assert n in head, "header lacks " + n
recs = [dict(zip(head, r)) for r in rows[1:]]
for r in rows[1:]:
	assert len(r) == len(head), r
def one(t, job, rcpt):
	m = [r for r in recs if r["type"] == t and r["jobId"] == job and r["rcpt"] == rcpt]
	assert len(m) == 1, (t, job, rcpt, m)
	return m[0]
d = one("d", qd, "ok@secure.test")
assert d["orig"] == "s@sender.test", d
assert d["dsnAction"] == "relayed" and d["dsnStatus"].startswith("2."), d
assert d["dsnDiag"].startswith("250 "), d
assert d["mxHost"] == "mx1.secure.test", d
assert d["dsnMta"] == "mx1.secure.test (%s)" % mx1ip, d
assert d["dlvDestinationIp"] == mx1ip and d["dlvSourceIp"].startswith("127."), d
assert int(d["dlvSize"]) > 100 and d["dlvType"] == "smtp", d
assert d["tlsProtocol"] in ("TLSv1.2", "TLSv1.3") and d["tlsCipher"] != "", d
assert d["daneResult"] == "ok" and d["tlsrptResult"] == "", d
assert d["attempts"] == "1", d
assert d["timeLogged"] >= d["timeQueued"] and d["timeQueued"].endswith("+0000"), d
b = one("b", qb, "bounce@secure.test")
assert b["dsnAction"] == "failed" and b["dsnStatus"] == "5.1.1", b
assert "550 5.1.1 no such user" in b["dsnDiag"], b
assert b["daneResult"] == "ok" and b["mxHost"] == "mx1.secure.test", b
t = one("t", qt, "late@three.test")
assert t["dsnAction"] == "delayed" and t["dsnStatus"] == "4.4.1", t
assert t["daneResult"] == "not_applicable" and t["tlsrptResult"] == "", t
assert t["tlsProtocol"] == "" and t["dlvDestinationIp"].startswith("127."), t
assert t["mxHost"].endswith(".three.test"), t
f = one("t", qf, "dane@secure.test")
assert f["dsnStatus"] == "4.7.5" and f["tlsrptResult"] == "tlsa-invalid", f
assert f["daneResult"] == "fail" and f["mxHost"] == "mx1.secure.test", f
assert f["dlvDestinationIp"] == mx1ip and f["tlsProtocol"].startswith("TLSv1."), f
# the bounce's DSN to s@sender.test is mail too: its own records, null sender
assert all(r["orig"] == "" for r in recs if r["jobId"] not in (qd, qb, qt, qf)), recs
print("acct ok: %d records" % len(recs))
PY
ok "acct_file: d, b and t records with the documented fields"

# --- rotation: rename both files, SIGUSR2
# as logrotate's `create` does: new empty files owned like the old ones (a
# daemon that dropped root may not be allowed to create files in $T)
rotate() {	# SUFFIX
	local f
	for f in "$ACCT" "$RELAY_LOG"; do
		mv "$f" "$f.$1"
		install -m 0640 -o "$(stat -c %u "$f.$1")" -g "$(stat -c %g "$f.$1")" /dev/null "$f"
	done
}
rotate 1
kill -USR2 "$RELAY_PID"
wait_log "log_file and acct_file reopened" 10 || fail "no reopen after SIGUSR2 in a new log file"
head -1 "$ACCT" | grep -q "^type,timeLogged," || fail "SIGUSR2: no header in the new $ACCT"
n1=$(wc -l < "$ACCT.1")
"$BIN" -c "$T/relay.conf" queue flush "$QT" > /dev/null || fail "queue flush failed"
wait_log "$QT: Temporary failure for <late@three\.test> \(retry 2\)" 20 || fail "no second deferral"
i=0
while ! grep -q "^t,.*,$QT," "$ACCT"; do
	i=$((i + 1)); [ "$i" -gt 50 ] && fail "no record in the new acct file"
	sleep 0.1
done
head -1 "$ACCT" | grep -q "^type,timeLogged," || fail "the new acct file has no header"
[ "$(wc -l < "$ACCT.1")" -eq "$n1" ] || fail "records went to the renamed acct file"
grep -q "retry 2" "$RELAY_LOG.1" && fail "log lines went to the renamed log file"
ok "SIGUSR2: new records and log lines in new files"

# --- again through the control socket
rotate 2
"$BIN" -c "$T/relay.conf" reopen > "$T/reopen.out" || { cat "$T/reopen.out"; fail "reopen failed"; }
wait_log "log_file and acct_file reopened" 10 || fail "no new log file after reopen"
assert_log "control: uid 0 \(pid [0-9]+\): reopen" "$RELAY_LOG.2"
"$BIN" -c "$T/relay.conf" queue flush "$QT" > /dev/null || fail "queue flush failed"
wait_log "$QT: Temporary failure for <late@three\.test> \(retry 3\)" 20 || fail "no third deferral"
i=0
while ! grep -q "^t,.*,3,$QT," "$ACCT" 2> /dev/null; do
	i=$((i + 1)); [ "$i" -gt 50 ] && fail "no record in the acct file after reopen"
	sleep 0.1
done
grep -q ",3,$QT," "$ACCT.2" && fail "records went to the renamed acct file"
ok "control reopen: new records in a new file"
relay_stop
exit 0
