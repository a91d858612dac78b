# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/lib.sh - shared helpers for end-to-end scenarios. Source it from
# a tests/e2e/t_*.sh script (bash). Each scenario gets:
#   T     a private temporary directory, removed at exit
#   NET   a private /24 of loopback addresses ("$NET.1" .. "$NET.254")
#   BIN   the danerelay binary under test
# Every process started through these helpers is stopped by its PID at exit;
# every wait is bounded.

set -u
top=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
B=${DANERELAY_BUILD:-$top/build-asan}
BIN=$B/danerelay
SINK=$B/sink
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
TEST_INDEX=${TEST_INDEX:-$(( $(printf '%s' "$TEST_NAME" | cksum | cut -d' ' -f1) % 200 + 1 ))}
NET="127.$((100 + TEST_INDEX / 250)).$((TEST_INDEX % 250 + 1))"
T=$(mktemp -d "/tmp/danerelay-$TEST_NAME.XXXXXX")
# Started as root, the daemon drops to the user danerelay (relay/privsep.h)
# and must still reach its spool under $T: search permission, no listing.
chmod 711 "$T"
PIDS=""
RELAY_PID=""
RELAY_LOG=$T/relay.log

cleanup() {
	local p
	# a helper program (not this shell) may keep the pid of a process it
	# started in $T/helper.pid (one a line, emptied once reaped)
	if [ -s "$T/helper.pid" ]; then
		PIDS="$PIDS $(cat "$T/helper.pid")"
	fi
	for p in $PIDS; do
		kill -TERM "$p" 2>/dev/null
		# a process a test stopped (SIGSTOP) acts on TERM only once continued
		kill -CONT "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait_pid_gone "$p" 50 || kill -KILL "$p" 2>/dev/null
	done
	if [ "${KEEP_T:-0}" != 1 ]; then
		# a test may have mounted something under $T; last mounted
		# first (a loop mount keeps its tmpfs busy)
		for m in $(awk -v t="$T" 'index($2, t) == 1 { print $2 }' /proc/mounts | tac); do
			umount "$m" 2>/dev/null
		done
		rm -rf "$T"
	fi
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*"
	if [ -f "$RELAY_LOG" ]; then
		echo "--- relay log (last 40 lines)"
		tail -n 40 "$RELAY_LOG"
	fi
	exit 1
}

ok() {
	echo "ok: $*"
}

# skip REASON: this scenario cannot run on this machine (e.g. it needs
# root); exit 77, which tests/run counts as skipped and shows with REASON.
# Never for a missing dependency that scripts/install-deps provides: that
# is a failure.
skip() {
	echo "SKIP: $*"
	exit 77
}

# wait_pid_gone PID TENTHS: wait up to TENTHS/10 s for PID to exit.
wait_pid_gone() {
	local i=0
	while kill -0 "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt "$2" ] && return 1
		sleep 0.1
	done
	return 0
}

# wait_file PID FILE TENTHS: wait up to TENTHS/10 s for FILE to be
# non-empty, as long as the process PID lives (the way a program started
# in the background says it is ready, or done).
wait_file() {
	local i=0
	while [ ! -s "$2" ]; do
		i=$((i + 1))
		[ "$i" -gt "$3" ] && return 1
		kill -0 "$1" 2>/dev/null || { [ -s "$2" ]; return; }
		sleep 0.1
	done
	return 0
}

# track PID: stop it at exit.
track() {
	PIDS="$PIDS $1"
}

# untrack PID
untrack() {
	PIDS=$(echo " $PIDS " | sed "s/ $1 / /")
}

# wait_port ADDR PORT [SECONDS]: wait until something accepts on ADDR:PORT.
wait_port() {
	local i=0 max=$(( ${3:-10} * 10 ))
	while ! python3 -c "import socket,sys; s=socket.create_connection((sys.argv[1], int(sys.argv[2])), 0.5); s.close()" "$1" "$2" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt "$max" ] && return 1
		sleep 0.1
	done
	return 0
}

# wait_log PATTERN [SECONDS] [FILE]: wait for an extended regex in a log.
wait_log() {
	local i=0 max=$(( ${2:-10} * 10 )) f=${3:-$RELAY_LOG}
	while ! grep -Eq -- "$1" "$f" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt "$max" ] && return 1
		sleep 0.1
	done
	return 0
}

assert_log() {		# PATTERN [FILE]
	grep -Eq -- "$1" "${2:-$RELAY_LOG}" || fail "log lacks /$1/"
	ok "log has /$1/"
}

assert_no_log() {	# PATTERN [FILE]
	if grep -Eq -- "$1" "${2:-$RELAY_LOG}"; then
		grep -E -- "$1" "${2:-$RELAY_LOG}" | head -3
		fail "log has /$1/"
	fi
	ok "log lacks /$1/"
}

# base_conf FILE [extra lines on stdin]: a config on $NET.1:10025 with a
# private spool, logging to $RELAY_LOG. Lines read from stdin are appended.
base_conf() {
	{
		echo "listen = $NET.1:10025"
		echo "hostname = relay.test"
		echo "spool_dir = $T/spool"
		echo "log_file = $RELAY_LOG"
		echo "relay_clients = 127.0.0.0/8, ::1"
		echo "tls_policy = may"
		if [ "${NO_DELIVERY:-0}" = 1 ]; then
			# Inbound-only scenarios: DNS goes to a loopback port where
			# nothing listens, so every lookup fails at once and mail
			# is deferred, staying in the spool for the test to read.
			# Never the real root: tests talk to loopback only.
			no_delivery_dns > "$T/nodns.conf"
			echo "resolver_config = $T/nodns.conf"
			echo "trust_anchor_file = /usr/share/dns/root.key"
			echo "min_backoff = 1h"
			echo "max_backoff = 1h"
		elif [ -n "${WORLD_DIR:-}" ] && [ -f "$WORLD_DIR/unbound.conf" ]; then
			echo "resolver_config = $WORLD_DIR/unbound.conf"
			echo "trust_anchor_file = $WORLD_DIR/root.key"
		fi
		[ -t 0 ] || cat
	} > "$1"
}

# no_delivery_dns: an unbound.conf whose only server is a closed loopback port.
no_delivery_dns() {
	cat <<UB
server:
	do-not-query-localhost: no
	infra-cache-max-rtt: 1000
	outbound-msg-retry: 1
	local-zone: "test." nodefault
stub-zone:
	name: "."
	stub-addr: 127.0.0.1@9
UB
}

# relay_start CONF: start the daemon in the foreground mode, in the
# background of this shell; wait until it accepts on its first listen address.
# RELAY_WAIT (seconds, default 15) bounds each wait of relay_start and
# relay_stop: a daemon under valgrind (t_valgrind) is many times slower.
relay_start() {
	local conf=$1 listen addr port logf
	"$BIN" -c "$conf" >> "$T/relay.stderr" 2>&1 &
	RELAY_PID=$!
	track "$RELAY_PID"
	listen=$(sed -n 's/^listen *= *\([^,]*\).*/\1/p' "$conf" | head -1)
	listen=${listen:-127.0.0.1:10025}
	addr=${listen%:*}; addr=${addr#[}; addr=${addr%]}
	port=${listen##*:}
	wait_port "$addr" "$port" "${RELAY_WAIT:-15}" || { cat "$T/relay.stderr"; fail "relay did not start"; }
	# Something else may hold the address (another test run on this
	# machine): the port answering is not enough, our daemon must say so.
	logf=$(sed -n 's/^log_file *= *//p' "$conf" | tail -1)
	case $logf in ""|-) logf=$T/relay.stderr ;; syslog) logf= ;; esac
	if [ -n "$logf" ] && ! wait_log "danerelay\[$RELAY_PID\]: started" "${RELAY_WAIT:-15}" "$logf"; then
		cat "$T/relay.stderr"
		fail "relay (pid $RELAY_PID) did not log 'started' (is $listen taken?)"
	fi
	kill -0 "$RELAY_PID" 2>/dev/null || { cat "$T/relay.stderr"; fail "relay exited at start"; }
}

# relay_stop: SIGTERM, expect exit status 0 within RELAY_WAIT (15) s (ASan
# leak reports turn into a non-zero status).
relay_stop() {
	local st
	[ -n "$RELAY_PID" ] || return 0
	kill -TERM "$RELAY_PID" 2>/dev/null
	wait_pid_gone "$RELAY_PID" $(( ${RELAY_WAIT:-15} * 10 )) || { kill -KILL "$RELAY_PID"; fail "relay did not stop on SIGTERM"; }
	wait "$RELAY_PID"; st=$?
	untrack "$RELAY_PID"
	RELAY_PID=""
	[ "$st" -eq 0 ] || { cat "$T/relay.stderr"; fail "relay exited with status $st"; }
}

# relay_kill9: crash the daemon.
relay_kill9() {
	kill -KILL "$RELAY_PID" 2>/dev/null
	wait "$RELAY_PID" 2>/dev/null
	untrack "$RELAY_PID"
	RELAY_PID=""
}

# sink_start NAME ADDR:PORT [sink args...]: start the test SMTP sink ($SINK,
# tests/sink/) on ADDR:PORT ("[::1]:25" for IPv6) with accepted messages in
# $T/NAME.msgs/, stats in $T/NAME.stats, log in $T/NAME.log, pid in
# $T/NAME.pid and in $SINK_PID; the process is tracked. It waits for the pid
# file, which the sink writes once it listens, rather than connecting: a
# probe connection would show in the stats, which tests use to count
# connection reuse.
sink_start() {
	local name=$1 listen=$2
	shift 2
	rm -f "$T/$name.pid"
	"$SINK" -l "$listen" -D "$T/$name.msgs" -s "$T/$name.stats" \
	    -p "$T/$name.pid" "$@" >> "$T/$name.log" 2>&1 &
	SINK_PID=$!
	track "$SINK_PID"
	if ! wait_file "$SINK_PID" "$T/$name.pid" 100; then
		cat "$T/$name.log"
		fail "sink $name did not start on $listen"
	fi
}

# mono_now: seconds on a monotonic clock (/proc/uptime, 10 ms steps). For
# durations a test measures itself: wall clock (date, EPOCHREALTIME, the
# log's stamps) can be stepped under a virtual machine while a test runs.
mono_now() {
	cut -d' ' -f1 /proc/uptime
}

# Descriptor starvation, caused for real (t_nofile_*, t_control_starved):
# the daemon runs under a small RLIMIT_NOFILE and a holder program opens
# sessions until none is left, keeping them open while the test looks at
# what the starved daemon does; then it lets go and the daemon must
# recover on its own.

# relay_start_nofile N CONF [PREFIX...]: relay_start CONF with the daemon
# under RLIMIT_NOFILE N:N (prlimit(1)), run through PREFIX if given (a
# command that ends by exec'ing its arguments, such as unshare(1) with
# sh -c '... && exec "$@"'); asserts the limit in /proc/PID/limits.
relay_start_nofile() {
	local n=$1 conf=$2 bin=$BIN
	shift 2
	{
		echo '#!/bin/bash'
		printf 'exec'
		printf ' %q' "$@" prlimit "--nofile=$n:$n" -- "$bin"
		printf ' "$@"\n'
	} > "$T/relay-nofile"
	chmod +x "$T/relay-nofile"
	BIN=$T/relay-nofile
	relay_start "$conf"
	BIN=$bin
	grep -q "Max open files *$n *$n" "/proc/$RELAY_PID/limits" ||
	    fail "the daemon does not run under RLIMIT_NOFILE $n"
}

# hold_descriptors NAME [ARGS...]: run a Python holder, whose body is read
# from stdin, against the daemon's listen address $NET.1:10025. The body
# finds host, port and args (ARGS) set; it opens sessions until the daemon
# is out of descriptors, keeping them in the list socks, and sets summary
# to a line of NAME=N words saying what it saw. The code around it writes
# summary to $T/NAME.held (renamed into place) and keeps every connection
# open until release_descriptors NAME (at most 60 s). Waits at most 60 s
# for $T/NAME.held and prints it; fails with the holder's output
# ($T/NAME.hold.log) if it dies or does not finish. HOLDER is its pid,
# tracked.
hold_descriptors() {
	local name=$1
	shift
	{
		cat <<'PY'
import os, socket, sys, time
host, port, status, release = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
args = sys.argv[5:]
PY
		cat
		cat <<'PY'
with open(status + ".tmp", "w") as f:
	f.write(summary + "\n")
os.rename(status + ".tmp", status)
for _ in range(600):
	if os.path.exists(release):
		break
	time.sleep(0.1)
for s in socks:
	s.close()
PY
	} > "$T/$name.hold.py"
	python3 "$T/$name.hold.py" "$NET.1" 10025 "$T/$name.held" \
	    "$T/$name.release" "$@" > "$T/$name.hold.log" 2>&1 &
	HOLDER=$!
	track "$HOLDER"
	if ! wait_file "$HOLDER" "$T/$name.held" 600; then
		cat "$T/$name.hold.log"
		fail "holder $name died or did not finish"
	fi
	cat "$T/$name.held"
}

# release_descriptors NAME: the holder closes its connections and exits.
release_descriptors() {
	touch "$T/$1.release"
	wait_pid_gone "$HOLDER" 100 || fail "holder $1 did not exit"
	untrack "$HOLDER"
}

# starved_usage SECONDS: what the daemon spends over the next SECONDS:
# STARVED_PCT, its CPU time (/proc/PID/stat utime + stime) in percent of
# one core, and STARVED_LINES, the lines it logs. A starved daemon must
# wait for descriptors, not spin on a failing accept(2) nor log it in a
# loop.
starved_usage() {
	local hz t0 t1 l0 l1 s0 s1
	hz=$(getconf CLK_TCK)
	t0=$(awk '{ print $14 + $15 }' "/proc/$RELAY_PID/stat")
	l0=$(wc -l < "$RELAY_LOG")
	s0=$(mono_now)
	sleep "$1"
	t1=$(awk '{ print $14 + $15 }' "/proc/$RELAY_PID/stat")
	l1=$(wc -l < "$RELAY_LOG")
	s1=$(mono_now)
	STARVED_PCT=$(awk -v a="$t0" -v b="$t1" -v hz="$hz" -v s0="$s0" -v s1="$s1" \
	    'BEGIN { printf "%d", (b - a) * 100 / hz / (s1 - s0) }')
	STARVED_LINES=$((l1 - l0))
}
