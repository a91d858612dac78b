#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_nofile_reserve: the listener's reserve descriptor (relay/listener.c)
# cannot be opened again, for real, and is not lost for good. The daemon
# runs under RLIMIT_NOFILE 64 in a private mount namespace where /dev/null
# is a file of mode 000: root opens it at start, the unprivileged daemon
# cannot once it has spent the reserve. Idle sessions take every
# descriptor: re-opening the spent reserve fails and is retried with
# backoff, logged once; once the file is readable again and descriptors
# are free the reserve is back, and the next shortage tells waiting
# connections 421 4.3.2 instead of leaving them hanging. The resolver uses the test world
# and stays quiet: its thread would otherwise race for the descriptor the
# reserve frees.
. "$(dirname "$0")/lib.sh"

NOFILE=64
: > "$T/devnull"
chmod 000 "$T/devnull"
base_conf "$T/relay.conf" <<EOF
max_clients_per_ip = 1000
EOF
# /dev/null of the daemon's private mount namespace is the mode 000 file
relay_start_nofile "$NOFILE" "$T/relay.conf" \
    unshare -m --propagation private -- \
    sh -c 'mount --bind "$0" /dev/null && exec "$@"' "$T/devnull"
[ "$(stat -L -c %s:%a "/proc/$RELAY_PID/root/dev/null")" = "0:0" ] || fail "the daemon's /dev/null is not the mode 000 file"

# hold ROUND: idle sessions until the daemon refuses one with 421 4.3.2;
# they stay open until release_descriptors ROUND
hold() {
	hold_descriptors "$1" <<'EOF'
socks, held, r421, silent = [], 0, 0, 0
while r421 == 0 and silent < 3 and len(socks) < 200:
	s = socket.create_connection((host, port), 5)
	socks.append(s)
	s.settimeout(3)
	try:
		g = s.recv(512).decode()
	except socket.timeout:
		silent += 1
		continue
	if g.startswith("421"):
		print("refused:", g.strip(), flush=True)
		assert g.startswith("421 4.3.2 "), g
		r421 += 1
	else:
		assert g.startswith("220"), g
		held += 1
summary = "held=%d r421=%d silent=%d" % (held, r421, silent)
EOF
}

# 1. descriptors run out: the reserve is spent (on a connection waiting
# then, or on none: accept(2) says EMFILE as soon as no descriptor is
# left) and cannot be opened again
hold 1
wait_log "accept: pausing for [0-9]+s, [0-9]+ waiting connections? told 421 4\.3\.2: Too many open files" 10 ||
    fail "the listener did not pause"
wait_log "accept: cannot open the reserve descriptor \(/dev/null\), without it a descriptor shortage leaves waiting connections unanswered; trying again in 1s: Permission denied" 10 ||
    fail "no log line for the reserve that cannot be opened"
ok "descriptor shortage ($(cat "$T/1.held")); re-opening the reserve failed (EACCES) and says so"
# retried with backoff (1s, 2s, 4s): one line a minute, not one a try
sleep 6
n=$(grep -c "accept: cannot open the reserve descriptor" "$RELAY_LOG")
[ "$n" -eq 1 ] || fail "$n log lines for the reserve in 7s, want 1"
ok "the retries are logged once"

# 2. /dev/null readable again and the sessions gone: a retry (8s apart at
# most) gets the reserve back
chmod 444 "$T/devnull"
release_descriptors 1
wait_log "accept: reserve descriptor open again \(repeated [0-9]+ times? in the last [0-9]+s\)" 12 ||
    fail "the reserve did not come back, or its retries were not counted"
ok "$(grep -o 'accept: reserve descriptor open again.*' "$RELAY_LOG")"

# 3. the next shortage: waiting connections are told 421 4.3.2 through the
# new reserve instead of hanging
hold 2
grep -q "r421=[1-9]" "$T/2.held" || fail "no 421 4.3.2 once the reserve is back: $(cat "$T/2.held")"
ok "a second shortage ($(cat "$T/2.held")): told 421 4.3.2"
release_descriptors 2
kill -0 "$RELAY_PID" || fail "the daemon died"
relay_stop
exit 0
