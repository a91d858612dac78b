# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/hostile_lib.sh - helpers for the hostile receiving server
# scenarios (t_hostile_*.sh). Source after lib.sh and dlv_lib.sh.

# hostile_start NAME HOST MODES [--interval SECS]: tests/e2e/hostile_mx.py
# on HOST's world address, port 25, messages in $T/NAME.msgs (the sink
# layout, so expect_delivered/sink_count work), events in
# $T/NAME.msgs/events; waits until it listens. The process is tracked.
hostile_start() {
	local name=$1 host=$2 modes=$3 i=0
	shift 3
	mkdir -p "$T/$name.msgs"
	python3 "$E2E/hostile_mx.py" "$(host_addr "$host")" 25 "$T/$name.msgs" \
	    "$modes" "$@" >> "$T/$name.log" 2>&1 &
	track $!
	while [ ! -s "$T/$name.msgs/ready" ]; do
		i=$((i + 1))
		if [ "$i" -gt 100 ]; then
			cat "$T/$name.log"
			fail "hostile server $name did not start on $host"
		fi
		sleep 0.1
	done
}

# hostile_events NAME PATTERN: how many events of NAME match PATTERN.
hostile_events() {
	grep -Ec -- "$2" "$T/$1.msgs/events" 2> /dev/null || true
}

# wait_event NAME PATTERN [SECONDS]
wait_event() {
	wait_log "$2" "${3:-30}" "$T/$1.msgs/events"
}

# log_mono_start: from here on, $T/relay.mono holds every line of
# $RELAY_LOG prefixed with the second on CLOCK_MONOTONIC at which a
# follower read it (it polls every 10 ms; lines already there get the
# start time). The log's own stamps are wall clock, which a virtual
# machine may step while a test runs (seen here: 9.6 s of wall clock for
# 5.0 s monotonic), so durations between log lines are read with log_mono.
# Returns once the follower has read the log so far; log_mono_stop ends it.
log_mono_start() {
	python3 - "$RELAY_LOG" "$T/relay.mono" <<'PY' > "$T/relay.mono.err" 2>&1 &
import os, sys, time
src, dst = sys.argv[1], sys.argv[2]
f = open(src, "rb")
out = open(dst + ".tmp", "wb", buffering=0)
buf, ready = b"", False
while True:
	c = f.read()
	if c:
		now = b"%.3f " % time.monotonic()
		*lines, buf = (buf + c).split(b"\n")
		out.write(b"".join(now + l + b"\n" for l in lines))
	elif not ready:
		os.rename(dst + ".tmp", dst)
		ready = True
	else:
		time.sleep(0.01)
PY
	LOG_MONO_PID=$!
	track "$LOG_MONO_PID"
	if ! wait_file "$LOG_MONO_PID" "$T/relay.mono" 100; then
		cat "$T/relay.mono.err"
		fail "the log follower did not start"
	fi
}

# log_mono PATTERN: the monotonic second (log_mono_start) of the first log
# line matching; waits up to 5 s for the follower to read it, prints
# nothing if it never does.
log_mono() {
	wait_log "$1" 5 "$T/relay.mono" &&
	    grep -Em1 -- "$1" "$T/relay.mono" | cut -d' ' -f1
}

# log_mono_stop: end the follower of log_mono_start.
log_mono_stop() {
	kill -TERM "$LOG_MONO_PID" 2>/dev/null
	wait_pid_gone "$LOG_MONO_PID" 50 || fail "the log follower did not stop"
	untrack "$LOG_MONO_PID"
}
