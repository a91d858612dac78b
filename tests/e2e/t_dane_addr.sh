#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_addr: RFC 7672 2.2.2 (docs/dane.md rule 4): address records first.
# insec.mxhost.test: secure MX to mx-insec.insecure.test whose A is
# insecure: no TLSA query for that host (its insecure TLSA would not match
# the certificate presented), delivered over TLS unauthenticated.
# partial/dead/nxhost.mxhost.test: the first host's address lookup is
# bogus / SERVFAIL / NXDOMAIN: delivery goes on via the backup
# mx.mxhost.test, authenticated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink ins mx-insec.insecure.test mx1.secure.test.wrongkey
mx_sink good mx.mxhost.test mx.mxhost.test
mx_sink b mx1.bogus.test mx1.bogus.test
relay_start "$T/relay.conf"

send r@insec.mxhost.test
wait_msg ins 1 20
assert_unauth_delivery ins mx-insec.insecure.test
assert_log "$QID: MX insec\.mxhost\.test: secure"
assert_no_log "$QID: TLSA _25\._tcp\.mx-insec\.insecure\.test"
assert_no_log "$QID: Connecting to \[$(addr_of mx-insec.insecure.test)\]:25 \(DNSSEC\)"
ok "insecure address: TLSA not queried"

n=0
for d in partial dead nxhost; do
	n=$((n + 1))
	send "r@$d.mxhost.test"
	wait_msg good $n 30
	assert_dane_delivery good mx.mxhost.test
done
[ "$(stat_of b connections)" = 0 ] || fail "connected to a host with a bogus address"
ok "failing address lookups: the next host delivered"
relay_stop
