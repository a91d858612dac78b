#!/bin/bash
# t_control_starved: the control socket under descriptor starvation. The
# daemon runs under RLIMIT_NOFILE 64 (prlimit); inbound sessions take every
# descriptor; then a queue client connects to SPOOL/control and waits in
# its backlog (the daemon cannot accept it). Measured over 3 s from
# /proc/PID/stat and the log: the daemon must not spin on the failing
# accept(2) nor log it in a loop. Once the sessions close, the control
# socket answers again on its own.
. "$(dirname "$0")/lib.sh"

NOFILE=64
printf '#!/bin/sh\nexec prlimit --nofile=%s:%s -- "%s" "$@"\n' "$NOFILE" "$NOFILE" "$BIN" > "$T/relay-nofile"
chmod +x "$T/relay-nofile"
REAL_BIN=$BIN
BIN=$T/relay-nofile
echo "max_clients_per_ip = 1000" | NO_DELIVERY=1 base_conf "$T/relay.conf"
relay_start "$T/relay.conf"
BIN=$REAL_BIN
[ -S "$T/spool/control" ] || fail "no control socket"

# every descriptor held by inbound sessions, then one control client
cat > "$T/hold.py" <<'PY'
import os, socket, sys, time
host, port, ctl, status, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
socks, held, other = [], 0, 0
while other < 3 and len(socks) < 200:
	s = socket.create_connection((host, port), 5)
	socks.append(s)
	s.settimeout(2.0)
	try:
		g = s.recv(4096)
	except socket.timeout:
		other += 1		# in the backlog: the listener is paused
		continue
	if g.startswith(b"220"):
		held += 1
	else:
		other += 1
c = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
c.connect(ctl)			# the backlog takes it; accept(2) cannot
c.sendall(b"list\n")
socks.append(c)
with open(status + ".tmp", "w") as f:
	f.write("held=%d other=%d\n" % (held, other))
os.rename(status + ".tmp", status)
for _ in range(600):
	if os.path.exists(release):
		break
	time.sleep(0.1)
for s in socks:
	s.close()
PY
python3 "$T/hold.py" "$NET.1" 10025 "$T/spool/control" "$T/held" "$T/release" > "$T/hold.log" 2>&1 &
HOLDER=$!
track "$HOLDER"
i=0
while [ ! -s "$T/held" ]; do
	i=$((i + 1))
	[ "$i" -gt 600 ] && { cat "$T/hold.log"; fail "the holder did not finish"; }
	kill -0 "$HOLDER" 2>/dev/null || { cat "$T/hold.log"; fail "the holder died"; }
	sleep 0.1
done
cat "$T/held"
ok "descriptors held, a control client waits"

ticks() { awk '{ print $14 + $15 }' "/proc/$RELAY_PID/stat"; }
hz=$(getconf CLK_TCK)
sleep 0.5
t0=$(ticks); l0=$(wc -l < "$RELAY_LOG"); s0=$(date +%s.%N)
sleep 3
t1=$(ticks); l1=$(wc -l < "$RELAY_LOG"); s1=$(date +%s.%N)
pct=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s0="$s0" -v s1="$s1" 'BEGIN { printf "%d", (b - a) * 100 / hz / (s1 - s0) }')
lines=$((l1 - l0))
echo "starved for 3s with a control client waiting: ${pct}% of a core, $lines log lines"
[ "$lines" -lt 20 ] || { tail -n 5 "$RELAY_LOG"; fail "the starved daemon wrote $lines log lines in 3s"; }
[ "$pct" -lt 25 ] || fail "the starved daemon used ${pct}% of a core"
ok "starved: ${pct}% of a core, $lines log lines in 3s"

touch "$T/release"
wait_pid_gone "$HOLDER" 100 || fail "the holder did not exit"
untrack "$HOLDER"
i=0
until "$BIN" -c "$T/relay.conf" queue list > "$T/list.out" 2>&1; do
	i=$((i + 1))
	[ "$i" -gt 20 ] && { cat "$T/list.out"; fail "the control socket does not answer after the starvation"; }
	sleep 0.5
done
grep -q "Mail queue is empty" "$T/list.out" || { cat "$T/list.out"; fail "queue list output"; }
ok "the control socket answers again on its own"
relay_stop
exit 0
