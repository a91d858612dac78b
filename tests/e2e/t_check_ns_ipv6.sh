#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_check_ns_ipv6: `danerelay check --ns` (relay/check_ns.c) asks a name
# server that has only an IPv6 address. nsv6.test
# (tests/world/zones.d/nsv6.zone) lists ns.test (the world's NSD, IPv4,
# current zone: current + next record) and ns6.nsv6.test, whose only
# address is AAAA ::1. This scenario serves ns6 with a real NSD of its own
# on [::1]:53 (port 53: check_ns asks every server there):
#   1. the current zone: ns6 is listed by its IPv6 address, every server
#      agrees, exit 0;
#   2. an older copy of the zone, signed with the zone's keys, without the
#      next record: --ns names ns6[::1] as lacking it, warning (exit 1);
#   3. NSD stopped (SIGSTOP to its process group): the query times out,
#      the row says ns6 did not answer, the verdict is not agreement (1);
#   4. NSD gone (SIGTERM): the query is refused (ICMPv6 port unreachable),
#      reported the same way (1).
#   5. NSD serves the current zone again, but the AAAA lookup of
#      ns6.nsv6.test fails (tests/e2e/dnsproxy.py in front of the world's
#      NSD for nsv6.test swallows it): ns6's address is unknown, so it is
#      named as not asked and the rest does not count as agreement (1).
#   6. Over TCP: on [::1]:53 dnsproxy.py relays to the world's NSD but
#      truncates every UDP answer (TC); check_ns asks again over TCP to
#      [::1]:53 and gets both records: every server agrees (0).
# The probe of mx.nsv6.test passes throughout (its certificate matches the
# current record, which both versions hold).
# This scenario owns [::1]:53 (the only IPv6 loopback) while it runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"
. "$(dirname "$0")/check_lib.sh"
. "$(dirname "$0")/dnsfault.sh"

command -v nsd > /dev/null || fail "nsd is not installed (scripts/install-deps)"
command -v ldns-signzone > /dev/null || fail "ldns-signzone is not installed"
command -v setsid > /dev/null || fail "setsid is not installed (util-linux)"
base_conf "$T/relay.conf" < /dev/null

# the world's own name server (mkworld records it; the caller may not export it)
WORLD_NS=$(sed -n 's/^WORLD_NS=//p' "$WORLD_DIR/env")
[ -n "$WORLD_NS" ] || fail "no WORLD_NS in $WORLD_DIR/env"
MX_IP=$(addr_of mx.nsv6.test)
# the current zone and an older one (same keys, no next record)
zone_versions nsv6.test "$T/ns6"
grep -Eq '^ns6(\.nsv6\.test\.)?[[:space:]].*AAAA[[:space:]]+::1$' "$ZONE_FILE" ||
    fail "the world's nsv6.test has no AAAA ::1 for ns6"
grep -Eq '^ns6(\.nsv6\.test\.)?[[:space:]].*[[:space:]]A[[:space:]]' "$ZONE_FILE" &&
    fail "ns6.nsv6.test has an A record: it must be reachable over IPv6 only"

# [::1]:53 must be free (UDP: nothing answers; TCP: nothing accepts)
python3 - <<'EOF' || fail "something already serves [::1]:53: this scenario needs it"
import socket, sys
for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
    s = socket.socket(socket.AF_INET6, kind)
    try:
        s.bind(("::1", 53))
    except OSError as e:
        print("bind [::1]:53:", e)
        sys.exit(1)
    s.close()
EOF

NS6_PID=""
ns6_start() {	# FILE: serve nsv6.test from $T/ns6/FILE on [::1]:53
	# its own process group, so that step 3 stops the server processes
	# NSD forks as well
	NSD_SETSID=1 nsd_serve "$T/ns6" nsv6.test "$1" ::1
	NS6_PID=$NSD_PID
	[ "$(ps -o pgid= -p "$NS6_PID" | tr -d ' ')" = "$NS6_PID" ] ||
	    fail "nsd $NS6_PID does not lead its own process group"
	ok "ns6 serves $1 on [::1]:53 (pid $NS6_PID)"
}

ns6_stop() {
	kill -CONT -- "-$NS6_PID" 2>/dev/null
	kill -TERM "$NS6_PID" 2>/dev/null
	wait_pid_gone "$NS6_PID" 50 || kill -KILL -- "-$NS6_PID" 2>/dev/null
	wait "$NS6_PID" 2>/dev/null
	untrack "$NS6_PID"
	NS6_PID=""
}

# a failed step may leave NSD's group stopped: continue it, so that the
# cleanup's SIGTERM reaches every process of it
trap '[ -n "$NS6_PID" ] && kill -CONT -- "-$NS6_PID" 2>/dev/null; dane_exit' EXIT

mx_sink mx mx.nsv6.test mx.nsv6.test

O="_25\._tcp\.mx\.nsv6\.test"
MXP="^mx\.nsv6\.test\[$(echo "$MX_IP" | sed 's/\./\\./g')\]:25 pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), no RSA chain$"

# 1. ns6 serves the current zone: asked at [::1], agrees
ns6_start new.signed
check agree nsv6.test 0 --ns
expect agree "^info: mx\.nsv6\.test: --ns: $O is in zone nsv6\.test, 2 name server addresses$"
expect agree "^info: mx\.nsv6\.test: --ns: ns\.test\[$WORLD_NS\]: TLSA $O: 2 records, ttl 60, authoritative$"
expect agree "^info: mx\.nsv6\.test: --ns: ns6\.nsv6\.test\[::1\]: TLSA $O: 2 records, ttl 60, authoritative$"
expect agree "^$O pass: --ns: all 2 name server addresses of nsv6\.test serve the same 2 TLSA records$"
reject agree "ns6\.nsv6\.test\[[0-9.]+\]"
reject agree "lacks TLSA|no answer"
expect agree "$MXP"
ns6_stop

# 2. ns6 is behind: it lacks the next record
ns6_start old.signed
check behind nsv6.test 1 --ns
expect behind "^info: mx\.nsv6\.test: --ns: ns6\.nsv6\.test\[::1\]: TLSA $O: 1 record, ttl 60, authoritative$"
expect behind "^warning: mx\.nsv6\.test: --ns: ns6\.nsv6\.test\[::1\] lacks TLSA 3 1 1 $NEXT, which another name server serves$"
reject behind "ns\.test\[$WORLD_NS\] lacks"
expect behind "^$O warn: --ns: name servers of nsv6\.test disagree: 1 of 2 addresses lack records or do not answer"
reject behind "pass: --ns"
expect behind "$MXP"

# 3. ns6 stopped (every process of its group): the query goes unanswered
kill -STOP -- "-$NS6_PID" || fail "cannot stop nsd's process group $NS6_PID"
ok "nsd for ns6 stopped (SIGSTOP to group $NS6_PID)"
check silent nsv6.test 1 --ns
expect silent "^warning: mx\.nsv6\.test: --ns: ns6\.nsv6\.test\[::1\]: no answer: no answer in 2 x 3000 ms$"
expect silent "^info: mx\.nsv6\.test: --ns: ns\.test\[$WORLD_NS\]: TLSA $O: 2 records, ttl 60, authoritative$"
expect silent "^$O warn: --ns: name servers of nsv6\.test disagree: 1 of 2 addresses lack records or do not answer"
reject silent "pass: --ns"
ns6_stop

# 4. ns6 gone: nothing listens on [::1]:53, the query is refused
check down nsv6.test 1 --ns
expect down "^warning: mx\.nsv6\.test: --ns: ns6\.nsv6\.test\[::1\]: no answer: connection refused$"
expect down "^$O warn: --ns: name servers of nsv6\.test disagree: 1 of 2 addresses lack records or do not answer"
reject down "pass: --ns"
expect down "$MXP"

# 5. ns6 would agree, but its address cannot be looked up: the AAAA
# query for ns6.nsv6.test (and every query after it) goes unanswered
ns6_start new.signed
fault_conf "$T/unbound.conf" nsv6.test
sed "s|^resolver_config *=.*|resolver_config = $T/unbound.conf|" "$T/relay.conf" > "$T/fault.conf"
grep -q "^resolver_config = $T/unbound.conf$" "$T/fault.conf" || fail "could not set resolver_config"
proxy_start --silent-from AAAA:ns6.nsv6.test
CHECK_CONF=$T/fault.conf check lookup nsv6.test 1 --ns
grep -q '^drop AAAA ns6\.nsv6\.test' "$PROXY_LOG" || fail "the AAAA query for ns6 never reached the proxy"
grep -q '^fwd NS nsv6\.test' "$PROXY_LOG" || fail "the NS query for nsv6.test did not go through the proxy"
expect lookup "^info: mx\.nsv6\.test: --ns: $O is in zone nsv6\.test, 1 name server address$"
expect lookup "^warning: mx\.nsv6\.test: --ns: ns6\.nsv6\.test: not asked: AAAA lookup: rcode 2 \(SERVFAIL\)"
expect lookup "^info: mx\.nsv6\.test: --ns: ns\.test\[$WORLD_NS\]: TLSA $O: 2 records, ttl 60, authoritative$"
expect lookup "^$O warn: --ns: name servers of nsv6\.test cannot all be compared: 0 of 1 addresses lack records or do not answer, and 1 name server address is unknown"
reject lookup "pass: --ns"
reject lookup "ns6\.nsv6\.test\["
expect lookup "$MXP"
proxy_stop
ns6_stop

# 6. ns6 answers over UDP truncated only: the full answer comes over TCP
PROXY_ADDR=::1 proxy_start --truncate-udp
check tcp nsv6.test 0 --ns
expect tcp "^info: mx\.nsv6\.test: --ns: ns6\.nsv6\.test\[::1\]: TLSA $O: 2 records, ttl 60, authoritative$"
expect tcp "^$O pass: --ns: all 2 name server addresses of nsv6\.test serve the same 2 TLSA records$"
grep -q '^truncated TLSA _25\._tcp\.mx\.nsv6\.test$' "$PROXY_LOG" ||
    fail "no truncated UDP answer was sent for the TLSA query"
grep -q '^tcp TLSA _25\._tcp\.mx\.nsv6\.test$' "$PROXY_LOG" ||
    fail "check_ns did not ask again over TCP"
ok "truncated over UDP, answered over TCP at [::1]:53"
proxy_stop
