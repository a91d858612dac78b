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
echo "max_clients_per_ip = 1000" | NO_DELIVERY=1 base_conf "$T/relay.conf"
relay_start_nofile "$NOFILE" "$T/relay.conf"
[ -S "$T/spool/control" ] || fail "no control socket"

# every descriptor held by inbound sessions, then one control client
hold_descriptors ctl "$T/spool/control" <<'PY'
ctl = args[0]
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
summary = "held=%d other=%d" % (held, other)
PY
ok "descriptors held, a control client waits"

sleep 0.5
starved_usage 3
pct=$STARVED_PCT lines=$STARVED_LINES
echo "starved for 3s with a control client waiting: ${pct}% of a core, $lines log lines"
[ "$lines" -lt 20 ] || { tail -n 5 "$RELAY_LOG"; fail "the starved daemon wrote $lines log lines in 3s"; }
[ "$pct" -lt 25 ] || fail "the starved daemon used ${pct}% of a core"
ok "starved: ${pct}% of a core, $lines log lines in 3s"

release_descriptors ctl
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
