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

# log_time PATTERN: seconds since the epoch of the first log line matching.
log_time() {
	local l
	l=$(grep -Em1 -- "$1" "$RELAY_LOG") || fail "log lacks /$1/"
	date -d "$(printf '%s' "$l" | cut -d' ' -f1)" +%s.%N
}
