#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dns_silent_midway: the name server of secure.test stops answering in the
# middle of a delivery's lookups. It answers the MX and address queries of
# mx1.secure.test, then swallows the TLSA query for it and every query
# after (dnsproxy.py --silent-from). Both MX hosts have TLSA records and
# accept mail (over TLS, and in plaintext if asked): the TLSA lookup that
# never completes is a lookup failure (RFC 7672 2.1.3), mx2's lookups get
# no answer either, and the mail is deferred; nothing reaches either
# server. When the server answers again, the same message goes out
# authenticated by DANE, without a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"
. "$(dirname "$0")/dnsfault.sh"

# libunbound marks the silent server unusable for infra-host-ttl: 5 s
# rather than the relay's 30 s lets the retry after it answers again come
# sooner (t_dns_down_at_start proves the 30 s default).
FAULT_INFRA_TTL=5 fault_conf "$T/unbound.conf" secure.test
dane_conf dane
sed -i "s|^resolver_config *=.*|resolver_config = $T/unbound.conf|" "$T/relay.conf"
mx_sink mx1 mx1.secure.test mx1.secure.test
mx_sink mx2 mx2.secure.test mx2.secure.test
proxy_start --silent-from TLSA:_25._tcp.mx1.secure.test
relay_start "$T/relay.conf"
wait_log 'DNSSEC validation check passed' 30 || fail "no validation check"

send r@secure.test
wait_deferred r@secure.test 90
grep -q '^fwd MX secure\.test' "$PROXY_LOG" || fail "the MX query was not answered"
grep -q '^fwd A mx1\.secure\.test' "$PROXY_LOG" || fail "the A query was not answered"
grep -q '^drop TLSA _25\._tcp\.mx1\.secure\.test' "$PROXY_LOG" || fail "the server did not go silent at the TLSA query"
assert_log "$QID: MX secure\.test: secure, 2 hosts"
assert_log "$QID: TLSA _25\._tcp\.mx1\.secure\.test: indeterminate"
assert_log "$QID: Skipping mx1\.secure\.test: 4\.4\.3 TLSA lookup for mx1\.secure\.test failed"
assert_no_log "$QID: Connecting to"
[ "$(stat_of mx1 connections)" = 0 ] || fail "connected to mx1"
[ "$(stat_of mx2 connections)" = 0 ] || fail "connected to mx2"
ok "a server that stops answering mid-lookup defers the mail, nothing is sent"

proxy_stop
proxy_start
wait_msg mx1 1 90
assert_dane_delivery mx1 mx1.secure.test
[ "$(msg_count mx2)" = 0 ] || fail "mx2 got a copy"
relay_stop
proxy_stop
