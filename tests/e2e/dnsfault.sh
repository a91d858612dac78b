# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/dnsfault.sh - DNS faults for the fail-closed scenarios
# (t_dns_*.sh). Source after lib.sh and dane.sh. A fault is a real DNS
# server that does not answer: tests/e2e/dnsproxy.py relays queries to the
# world's NSD ($WORLD_NS) from its own loopback address and swallows the
# ones it is told to; while it is stopped, nothing listens there at all.
#
#   fault_conf FILE ZONE...   an unbound.conf for resolver_config: the
#                             world's, plus a stub zone sending ZONE's
#                             queries to $PROXY_ADDR ("." replaces the
#                             world's own root stub)
#                             With FAULT_INFRA_TTL=N, libunbound forgets
#                             a server that did not answer after N s
#                             (infra-host-ttl) instead of the relay's
#                             30 s (resolver/resolver.c), for scenarios
#                             that do not test that default
#   proxy_start [ARGS...]     start dnsproxy.py on $PROXY_ADDR:53 (tracked),
#                             log in $T/proxy.N.log ($PROXY_LOG)
#   proxy_stop                stop it by its PID
PROXY_ADDR=${PROXY_ADDR:-$NET.53}
PROXY_PID=""
PROXY_N=0

fault_conf() {
	local f=$1 z
	shift
	{
		for z in "$@"; do
			[ "$z" = . ] && continue
			printf 'stub-zone:\n\tname: "%s."\n\tstub-addr: %s\n' "$z" "$PROXY_ADDR"
		done
	} > "$T/stubs.conf"
	if printf '%s\n' "$@" | grep -qx '\.'; then
		sed "s/^\([[:space:]]*stub-addr:\).*/\1 $PROXY_ADDR/" "$WORLD_DIR/unbound.conf" > "$f"
	else
		cp "$WORLD_DIR/unbound.conf" "$f"
	fi
	cat "$T/stubs.conf" >> "$f"
	if [ -n "${FAULT_INFRA_TTL:-}" ]; then
		sed -i "0,/^server:/s//server:\n\tinfra-host-ttl: $FAULT_INFRA_TTL/" "$f"
		grep -q "^	infra-host-ttl: $FAULT_INFRA_TTL\$" "$f" || fail "no infra-host-ttl in $f"
	fi
}

proxy_start() {
	local i=0
	PROXY_N=$((PROXY_N + 1))
	PROXY_LOG=$T/proxy.$PROXY_N.log
	python3 "$top/tests/e2e/dnsproxy.py" "$PROXY_ADDR" "$WORLD_NS" "$@" > "$PROXY_LOG" 2>&1 &
	PROXY_PID=$!
	track "$PROXY_PID"
	until grep -q '^listening' "$PROXY_LOG" 2>/dev/null; do
		i=$((i + 1))
		if [ "$i" -gt 100 ] || ! kill -0 "$PROXY_PID" 2>/dev/null; then
			cat "$PROXY_LOG"
			fail "dnsproxy did not start on $PROXY_ADDR:53"
		fi
		sleep 0.1
	done
	ok "DNS proxy on $PROXY_ADDR ($*)"
}

proxy_stop() {
	[ -n "$PROXY_PID" ] || return 0
	kill -TERM "$PROXY_PID" 2>/dev/null
	wait_pid_gone "$PROXY_PID" 50 || kill -KILL "$PROXY_PID" 2>/dev/null
	wait "$PROXY_PID" 2>/dev/null
	untrack "$PROXY_PID"
	PROXY_PID=""
}

# the NSD of the world in use (tests/run or dane.sh started it)
WORLD_NS=$(sed -n "s/^WORLD_NS=//p" "$WORLD_DIR/env")
[ -n "$WORLD_NS" ] || fail "no WORLD_NS in $WORLD_DIR/env"
