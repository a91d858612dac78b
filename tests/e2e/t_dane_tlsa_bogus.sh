#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_tlsa_bogus: RFC 7672 2.1.2, 2.2 (docs/dane.md rule 8): a TLSA lookup
# error makes the host unreachable; the relay must not even connect to it.
# tlsabogus.mxhost.test: MX 10 mx.partbogus.test (secure A, bogus TLSA),
# 20 mx.mxhost.test (good). tlsadead.mxhost.test: MX 10 itself (secure A,
# TLSA SERVFAIL), 20 mx.mxhost.test. Both messages go to mx.mxhost.test
# authenticated; the sinks on the broken hosts see no connection at all.
# bogus TLSA with no other host (mx.partbogus.test alone behind a secure MX
# does not exist in the world) is covered by rule 6's deferral.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink good mx.mxhost.test mx.mxhost.test
mx_sink pb mx.partbogus.test mx.partbogus.test
mx_sink td tlsadead.mxhost.test tlsadead.mxhost.test
relay_start "$T/relay.conf"

send r@tlsabogus.mxhost.test
wait_msg good 1 30
assert_dane_delivery good mx.mxhost.test
assert_log "$QID: TLSA _25\._tcp\.mx\.partbogus\.test: (bogus|.*dnssec-invalid)"
assert_no_log "$QID: Connecting to \[$(addr_of mx.partbogus.test)\]"
q1=$QID

send r@tlsadead.mxhost.test
wait_msg good 2 30
assert_dane_delivery good mx.mxhost.test
assert_log "$QID: TLSA _25\._tcp\.tlsadead\.mxhost\.test: [a-zA-Z]"
assert_no_log "$QID: TLSA _25\._tcp\.tlsadead\.mxhost\.test: (secure|insecure)"
assert_no_log "$QID: Connecting to \[$(addr_of tlsadead.mxhost.test)\]"

[ "$(stat_of pb connections)" = 0 ] || fail "connected to the host with bogus TLSA"
[ "$(stat_of td connections)" = 0 ] || fail "connected to the host whose TLSA lookup failed"
ok "hosts with a TLSA lookup error never contacted"
relay_stop
