#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_check_ns_many: `danerelay check --ns` asks at most 16 name server
# addresses of a zone (CHECK_NS_MAX_SERVERS, relay/check_ns.h); one over
# that is named as not asked, and the rest agreeing is then no agreement.
# nsmany.test (tests/world/zones.d/nsmany.zone) lists ns.test (the world's
# NSD) and ns.nsmany.test with 16 A records: 17 addresses. A real NSD of
# this scenario serves the zone on all 16, so every address asked agrees
# and only the one not asked stands between the check and "pass": it
# must warn (exit 1), never pass.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"
. "$(dirname "$0")/check_lib.sh"

command -v nsd > /dev/null || fail "nsd is not installed (scripts/install-deps)"
base_conf "$T/relay.conf" < /dev/null

NS_ADDRS=$(awk '$1 == "ns.nsmany.test" { print $2 }' "$WORLD_DIR/hosts")
[ "$(echo "$NS_ADDRS" | wc -l)" = 16 ] ||
    fail "ns.nsmany.test has $(echo "$NS_ADDRS" | wc -l) addresses in $WORLD_DIR/hosts, want 16"
MX_IP=$(addr_of mx.nsmany.test)

mkdir -p "$T/ns"
cp "$WORLD_DIR/zones/nsmany.test.signed" "$T/ns/nsmany.signed"
# shellcheck disable=SC2086
nsd_serve "$T/ns" nsmany.test nsmany.signed $NS_ADDRS
ok "nsd serves nsmany.test on 16 addresses"

mx_sink mx mx.nsmany.test mx.nsmany.test

O="_25\._tcp\.mx\.nsmany\.test"
check many nsmany.test 1 --ns
expect many "^info: mx\.nsmany\.test: --ns: $O is in zone nsmany\.test, 16 name server addresses$"
n=$(grep -Ec "^info: mx\.nsmany\.test: --ns: (ns\.test|ns\.nsmany\.test)\[[0-9.]+\]: TLSA $O: 1 record, ttl 60, authoritative$" "$T/many.out")
[ "$n" = 16 ] || fail "$n addresses answered with the record, want 16"
ok "16 addresses asked, each serves the record"
expect many "^warning: mx\.nsmany\.test: --ns: 1 more name server address of nsmany\.test not asked \(at most 16\)$"
expect many "^$O warn: --ns: name servers of nsmany\.test cannot all be compared: 0 of 16 addresses lack records or do not answer, and 1 more not asked: "
reject many "pass: --ns"
reject many "lacks TLSA|no answer"
expect many "^mx\.nsmany\.test\[$(echo "$MX_IP" | sed 's/\./\\./g')\]:25 pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), no RSA chain$"
