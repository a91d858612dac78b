#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_nofile_starved: the daemon runs under RLIMIT_NOFILE 64 (prlimit) with
# the default max_clients, which cannot fit: it says so at start. Three
# messages are deferred (their MX is down) and fall due again while inbound
# sessions, held open in DATA, take every descriptor: waiting connections
# get "421 4.3.2", the listener pauses, the scheduler cannot open the
# messages and pauses its starts instead of spinning. Measured while
# starved, from /proc/PID/stat and the log: the daemon uses little CPU and
# writes few lines. Once the sessions close, it accepts new mail again on
# its own and delivers it and the deferred messages.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

NOFILE=64
dlv_conf "$T/relay.conf" <<EOF
min_backoff = 1s
max_backoff = 2s
EOF
relay_start_nofile "$NOFILE" "$T/relay.conf"
assert_log "file descriptors: RLIMIT_NOFILE $NOFILE"
assert_log "max_clients = 1000 and max_connections = 100 need up to [0-9]+ file descriptors .* but RLIMIT_NOFILE allows $NOFILE: lower max_clients or max_connections"

# 1. deferred mail: mx.single.test is down for now
QS=""
for i in 1 2 3; do
	inject sender@sender.test "r$i@single.test"
	QS="$QS $QID"
done
for q in $QS; do
	wait_log "$q: Temporary failure for <r[0-9]@single\.test> \(retry 1\)" 30 || fail "$q not deferred"
done
ok "three messages deferred, due again within 2s"

# 2. hold every descriptor with inbound sessions in DATA
hold_descriptors data <<'EOF'
socks, held, r421, r452, silent = [], 0, 0, 0, 0

def reply(s, t=5.0):
	s.settimeout(t)
	buf = b""
	while True:
		c = s.recv(4096)
		if not c:
			return "closed"
		buf += c
		lines = buf.split(b"\r\n")
		for l in lines[:-1]:
			if len(l) >= 4 and l[3:4] == b" ":
				return l.decode()
def cmd(s, line):
	s.sendall(line.encode() + b"\r\n")
	return reply(s)

while r421 + silent < 3 and len(socks) < 200:
	s = socket.create_connection((host, port), 5)
	socks.append(s)
	try:
		g = reply(s)
	except socket.timeout:
		silent += 1		# waits in the backlog: the listener is paused
		continue
	if g.startswith("421"):
		print("refused:", g, flush=True)
		assert g.startswith("421 4.3.2 "), g
		r421 += 1
		continue
	assert g.startswith("220"), g
	for l, want in (("EHLO c.test", "250"), ("MAIL FROM:<h@c.test>", "250"), ("RCPT TO:<h@single.test>", "250")):
		r = cmd(s, l)
		assert r.startswith(want), (l, r)
	r = cmd(s, "DATA")
	if r.startswith("354"):
		held += 1
	else:
		print("DATA:", r, flush=True)
		assert r.startswith("452 4.3.1"), r
		r452 += 1
summary = "held=%d r421=%d r452=%d silent=%d" % (held, r421, r452, silent)
EOF
cat "$T/data.hold.log"
. <(sed 's/ /\n/g' "$T/data.held")
[ "$held" -ge 10 ] || fail "only $held sessions in DATA"
[ $((r421 + r452)) -ge 1 ] || fail "no session was told 421 4.3.2 or 452 4.3.1"
ok "$held sessions in DATA hold the descriptors; $r421 told 421 4.3.2, $r452 told 452 4.3.1, $silent waiting"
# the deferred messages fall due and cannot be opened: starts pause
wait_log "cannot start a delivery to single\.test, pausing deliveries for [0-9]+s: Too many open files" 20 ||
    fail "the scheduler did not pause its starts"
wait_log "accept: pausing for [0-9]+s, [0-9]+ waiting connections? told 421 4\.3\.2: Too many open files" 10 ||
    fail "the listener did not pause"
ok "listener and scheduler paused"

# 3. starved: CPU and log volume over 5 seconds
starved_usage 5
pct=$STARVED_PCT lines=$STARVED_LINES
echo "starved for 5s: ${pct}% of a core, $lines log lines"
[ "$pct" -lt 25 ] || fail "the starved daemon used ${pct}% of a core"
[ "$lines" -lt 40 ] || { tail -n "$lines" "$RELAY_LOG" | head -20; fail "the starved daemon wrote $lines log lines in 5s"; }
ok "starved: ${pct}% of a core, $lines log lines in 5s"
kill -0 "$RELAY_PID" || fail "the daemon died"

# 4. the MX comes up, the sessions go: everything resumes on its own
world_sink single mx.single.test
release_descriptors data
for q in $QS; do
	wait_done "$q" 60
done
wait_log "deliveries start again" 5 || fail "no 'deliveries start again'"
inject sender@sender.test new@single.test
wait_done "$QID" 30
expect_delivered single "$QID" sender@sender.test new@single.test
i=1
for q in $QS; do
	expect_delivered single "$q" sender@sender.test "r$i@single.test"
	i=$((i + 1))
done
ok "new mail accepted and delivered, the deferred messages delivered once each"
relay_stop
exit 0
