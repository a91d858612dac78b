#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_check_ns: `danerelay check --ns` asks every authoritative name server
# of a TLSA owner's zone directly and shows whether they agree, so that a
# "next" record can be seen on every secondary before the switch (RFC 7671
# 8.1). nsdiff.test (tests/world/zones.d/nsdiff.zone) lists ns.test (the
# world's NSD, current zone: current + next record) and ns2.nsdiff.test.
# This scenario serves ns2 with a real NSD of its own:
#   1. an older copy of the zone, signed with the zone's keys, without the
#      next record: --ns names ns2 as lacking it, warning (exit 1);
#   2. the current zone: every server agrees, exit 0.
# The probe of mx.nsdiff.test passes throughout (its certificate matches
# the current record, which both versions hold).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"
. "$(dirname "$0")/check_lib.sh"

command -v nsd > /dev/null || fail "nsd is not installed (scripts/install-deps)"
command -v ldns-signzone > /dev/null || fail "ldns-signzone is not installed"
base_conf "$T/relay.conf" < /dev/null

NS2_IP=$(addr_of ns2.nsdiff.test)
# the world's own name server (mkworld records it; the caller may not export it)
WORLD_NS=$(sed -n 's/^WORLD_NS=//p' "$WORLD_DIR/env")
[ -n "$WORLD_NS" ] || fail "no WORLD_NS in $WORLD_DIR/env"
MX_IP=$(addr_of mx.nsdiff.test)
# the current zone and an older one (same keys, no next record)
zone_versions nsdiff.test "$T/ns2"

NS2_PID=""
ns2_start() {	# FILE: serve nsdiff.test from $T/ns2/FILE on ns2's address
	nsd_serve "$T/ns2" nsdiff.test "$1" "$NS2_IP"
	NS2_PID=$NSD_PID
	ok "ns2 serves $1 on $NS2_IP"
}

ns2_stop() {
	kill -TERM "$NS2_PID" 2>/dev/null
	wait_pid_gone "$NS2_PID" 50 || kill -KILL "$NS2_PID" 2>/dev/null
	wait "$NS2_PID" 2>/dev/null
	untrack "$NS2_PID"
	NS2_PID=""
}

mx_sink mx mx.nsdiff.test mx.nsdiff.test

# 1. the secondary is behind: it lacks the next record
ns2_start old.signed
check behind nsdiff.test 1 --ns
O="_25\._tcp\.mx\.nsdiff\.test"
expect behind "^info: mx\.nsdiff\.test: --ns: $O is in zone nsdiff\.test, 2 name server addresses$"
expect behind "^info: mx\.nsdiff\.test: --ns: ns\.test\[$WORLD_NS\]: TLSA $O: 2 records, ttl 60, authoritative$"
expect behind "^info: mx\.nsdiff\.test: --ns: ns2\.nsdiff\.test\[$NS2_IP\]: TLSA $O: 1 record, ttl 60, authoritative$"
expect behind "^warning: mx\.nsdiff\.test: --ns: ns2\.nsdiff\.test\[$NS2_IP\] lacks TLSA 3 1 1 $NEXT, which another name server serves$"
reject behind "ns\.test\[$WORLD_NS\] lacks"
expect behind "^$O warn: --ns: name servers of nsdiff\.test disagree: 1 of 2 addresses lack records or do not answer"
expect behind "^mx\.nsdiff\.test\[$MX_IP\]:25 pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), no RSA chain$"
ns2_stop

# 2. the secondary has caught up
ns2_start new.signed
check agree nsdiff.test 0 --ns
expect agree "^info: mx\.nsdiff\.test: --ns: ns2\.nsdiff\.test\[$NS2_IP\]: TLSA $O: 2 records, ttl 60, authoritative$"
expect agree "^$O pass: --ns: all 2 name server addresses of nsdiff\.test serve the same 2 TLSA records$"
reject agree "lacks TLSA"
ns2_stop

# 3. the secondary is down: reported, never taken for agreement
check down nsdiff.test 1 --ns
expect down "^warning: mx\.nsdiff\.test: --ns: ns2\.nsdiff\.test\[$NS2_IP\]: no answer: "
expect down "^$O warn: --ns: name servers of nsdiff\.test disagree"
