#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_log_full: log_file and acct_file live on a 1 MB tmpfs that a filler
# file fills up (the spool is elsewhere). While the log cannot be written:
# every message sent is accepted (250) and delivered to mx1.secure.test
# under tls_policy dane, once, and leaves the spool; the daemon stays up;
# `danerelay reopen` and SIGUSR2 work; the service manager's STATUS=
# (tests/e2e/notify_listen.py at NOTIFY_SOCKET) says how many log lines
# are lost. Once the filler is removed, the next line written is preceded
# by "log: N lines lost while log_file could not be written (No space
# left on device)" with N > 0, the accounting records kept in memory are
# written (one d record per message, none twice), STATUS= drops the
# count, and a reopen after it logs as usual. Stopped while the disk is
# full again, the daemon exits 0 and writes the count to stderr.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs for the log needs root"
mkdir "$T/log"
mount -t tmpfs -o size=1m,mode=0755 tmpfs "$T/log" || fail "cannot mount a tmpfs on $T/log"
chown danerelay:danerelay "$T/log"
RELAY_LOG=$T/log/relay.log
ACCT=$T/log/acct.csv
FILLER=$T/log/filler
dane_conf dane <<CONF
acct_file = $ACCT
CONF

# fill: the filler takes every free octet of the tmpfs
fill() {
	python3 - "$FILLER" <<'PY' || fail "cannot fill the tmpfs"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
for n in (65536, 4096, 256, 16, 1):	# the last few octets too
	try:
		while True:
			os.write(fd, b"F" * n)
	except OSError as e:
		assert e.errno == errno.ENOSPC, e
os.close(fd)
st = os.statvfs(sys.argv[1])
print("filler %d octets, %d octets left" % (os.path.getsize(sys.argv[1]), st.f_bavail * st.f_frsize))
PY
}

# spool_empty: no message left in the spool (bounded wait)
spool_empty() {
	local i=0
	while [ -n "$(ls -A "$SPOOL/msg" 2> /dev/null)" ]; do
		i=$((i + 1))
		[ "$i" -gt 100 ] && { ls -l "$SPOOL/msg"; fail "messages left in the spool"; }
		sleep 0.1
	done
}

python3 "$E2E/notify_listen.py" "$T/notify.sock" "$T/notify.jsonl" "$NET.1" 10025 \
    > "$T/listen.err" 2>&1 &
track $!
wait_file $! "$T/notify.jsonl.bound" 50 || fail "notify listener did not bind"
mx_sink mx1 mx1.secure.test mx1.secure.test
NOTIFY_SOCKET=$T/notify.sock relay_start "$T/relay.conf"

QIDS=""
send ok@secure.test; QIDS="$QIDS $QID"
wait_msg mx1 1
assert_dane_delivery mx1 mx1.secure.test
wait_log "^d,.*,$QID," 10 "$ACCT" || fail "no accounting record for $QID"

# --- the file system holding the log fills up
fill
l0=$(wc -c < "$RELAY_LOG")
n=1
# 20 messages: their records (~300 octets each) overflow the last page of
# acct.csv, which a full tmpfs still lets the file fill
for i in $(seq 1 20); do
	send "full$i@secure.test"; QIDS="$QIDS $QID"	# fails unless 250
	n=$((n + 1))
	wait_msg mx1 "$n"
	assert_msg_subject "$MSG"
	assert_msg_tls "$MSG"
	[ "$i" = 10 ] && {
		"$BIN" -c "$T/relay.conf" reopen > "$T/reopen.out" 2>&1 ||
		    { cat "$T/reopen.out"; fail "reopen failed while the log is full"; }
		kill -USR2 "$RELAY_PID"
	}
done
spool_empty
kill -0 "$RELAY_PID" || fail "the daemon died while the log was full"
l1=$(wc -c < "$RELAY_LOG")
echo "log file: $l0 octets when full, $l1 after 20 deliveries"
[ $((l1 - l0)) -lt 4096 ] || fail "the log grew by $((l1 - l0)) octets on a full file system"
kept=$(grep -c '^d,' "$ACCT")
[ "$kept" -lt 21 ] || fail "all 21 records written on a full file system"
echo "acct_file: $kept of 21 records written, the rest kept in memory"
ok "log full: 20 messages accepted, delivered over DANE, none left in the spool; reopen and SIGUSR2 taken"
wait_log "STATUS=.*, log_file not writable: [0-9]+ lines? lost" 5 "$T/notify.jsonl" ||
    { tail -3 "$T/notify.jsonl"; fail "STATUS= does not show the lost lines"; }
grep -o 'log_file not writable: [0-9]* lines\{0,1\} lost' "$T/notify.jsonl" | tail -1
ok "STATUS= shows the lines lost"

# --- space again: the next line comes after the count of those lost
rm -f "$FILLER"
send after@secure.test; QIDS="$QIDS $QID"
n=$((n + 1))
wait_msg mx1 "$n"
wait_log "$QID: Successful delivery to <after@secure\.test>" 20 || fail "no line after the space came back"
lost=$(grep -E "danerelay\[$RELAY_PID\]: log: [0-9]+ lines lost while log_file could not be written \(No space left on device\)$" "$RELAY_LOG")
[ "$(echo "$lost" | grep -c .)" -eq 1 ] || fail "want one 'lines lost' line, got: $lost"
echo "$lost"
N=$(echo "$lost" | sed 's/.*: log: \([0-9]*\) lines lost.*/\1/')
# each delivery logs several lines; at most a page of them fitted
[ "$N" -ge 20 ] || fail "only $N lines counted lost for 20 deliveries"
awk -v q="$QID" '/: log: [0-9]+ lines lost/ { seen = NR } index($0, q ": Successful delivery") { after = NR } END { exit !(seen && after > seen) }' "$RELAY_LOG" ||
    fail "the delivery of $QID is not logged after the 'lines lost' line"
grep -E "^[0-9]{4}-" "$RELAY_LOG" > /dev/null || fail "log lines lost their timestamp"
# whole lines, but for the one the failing write cut: the count follows it
# on a line of its own
python3 - "$RELAY_LOG" <<'PY' || fail "a log line is cut or run together other than right before the count"
import re, sys
line = re.compile(r"^\d{4}-\d\d-\d\dT[\d:.]+Z danerelay\[\d+\]: ")
lines = open(sys.argv[1], errors="replace").read().split("\n")[:-1]
bad = [(i, l) for i, l in enumerate(lines) if not line.match(l) and not
       (i + 1 < len(lines) and line.match(lines[i + 1]) and ": log: " in lines[i + 1] and " lines lost " in lines[i + 1])]
for i, l in bad:
	print("line %d: %r" % (i + 1, l))
sys.exit(1 if bad else 0)
PY
ok "log: $N lines lost, reported on a line of its own before the next ones"

# accounting: every message once, the records kept in memory written now
i=0
while ! grep -q "^d,.*,$QID," "$ACCT"; do
	i=$((i + 1)); [ "$i" -gt 50 ] && fail "no record for $QID after the space came back"
	sleep 0.1
done
for q in $QIDS; do
	c=$(grep -c "^d,.*,$q," "$ACCT")
	[ "$c" -eq 1 ] || fail "acct_file holds $c d records for $q, want 1"
done
# well-formed, and each delivery authenticated by DANE (the log could
# not say so while it was full)
python3 - "$ACCT" <<'PY' || fail "acct_file: not well-formed CSV, or a delivery without DANE"
import csv, sys
rows = list(csv.reader(open(sys.argv[1], newline="")))
assert rows[0][0] == "type", rows[0]
assert all(len(r) == len(rows[0]) for r in rows), [r for r in rows if len(r) != len(rows[0])]
recs = [dict(zip(rows[0], r)) for r in rows[1:]]
bad = [r for r in recs if r["daneResult"] != "ok" or r["tlsPolicy"] != "dane"]
assert recs and not bad, bad
print("acct_file: %d records, each daneResult ok" % len(recs))
PY
grep -qF "acct_file $ACCT: writing again" "$RELAY_LOG" || fail "no 'writing again' line for acct_file"
assert_no_log "records dropped"
ok "acct_file: one d record for each of the $(echo "$QIDS" | wc -w) messages, the kept ones written after the space came back"

# every message delivered once, nothing left
[ "$(msg_count mx1)" -eq "$n" ] || fail "sink holds $(msg_count mx1) messages, want $n"
spool_empty
i=0
while tail -1 "$T/notify.jsonl" | grep -q "log_file not writable"; do
	i=$((i + 1)); [ "$i" -gt 50 ] && { tail -1 "$T/notify.jsonl"; fail "STATUS= still shows lost lines"; }
	sleep 0.1
done
ok "STATUS= no longer shows lost lines"

kill -USR2 "$RELAY_PID"
wait_log "log_file and acct_file reopened" 10 || fail "no reopen line after the space came back"

# --- full again, and stopped while full: the count goes to stderr
fill
for i in $(seq 1 8); do		# more lines than the last page of the log holds
	send "last$i@secure.test"
	n=$((n + 1))
	wait_msg mx1 "$n"
done
spool_empty
relay_stop
grep -E "danerelay\[[0-9]+\]: log: [0-9]+ lines lost while log_file could not be written \(No space left on device\)$" "$T/relay.stderr" ||
    { cat "$T/relay.stderr"; fail "stopped while full: no count of lost lines on stderr"; }
ok "stopped while the log was full: exit 0, the count of lost lines on stderr"
exit 0
