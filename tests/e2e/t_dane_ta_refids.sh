#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_ta_refids: RFC 7672 3.2.2 (docs/dane.md rule 11), the reference
# identifiers through a CNAME'd destination and an insecure MX.
# alias.dane.test is a CNAME to names.dane.test (secure MX 10
# mx.names.dane.test, TLSA 2 1 1 ca): a certificate naming only
# alias.dane.test passes. names.insecure.test has an insecure MX to the
# same host: only the MX host name counts, so a certificate naming
# names.insecure.test fails (deferred) and one naming mx.names.dane.test
# then passes.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

H=mx.names.dane.test

# refids_are LIST: the reference identifiers logged for $QID, as a set
refids_are() {
	local got
	got=$(grep -E "$QID: .*reference identifiers: " "$RELAY_LOG" | head -1 |
	    sed 's/.*reference identifiers: //; s/[;)].*//' | tr -d ' ' | tr ',' '\n' | sort | tr '\n' ' ')
	[ "$got" = "$(echo "$1" | tr ' ' '\n' | sort | tr '\n' ' ')" ] ||
	    fail "reference identifiers for $QID: '$got', want '$1'"
	ok "reference identifiers: $1"
}

dane_conf dane
mx_sink alias $H $H.alias
relay_start "$T/relay.conf"

send r@alias.dane.test
wait_msg alias 1 20
assert_dane_delivery alias $H
refids_are "mx.names.dane.test alias.dane.test names.dane.test"
sink_stop alias

mx_sink insn $H $H.insecure-nexthop
send r@names.insecure.test
wait_deferred r@names.insecure.test 20
assert_log "$QID: MX names\.insecure\.test: insecure"
refids_are "mx.names.dane.test"
assert_log "$QID: DANE verification failed for $H\[.*certificate-host-mismatch"
[ "$(msg_count insn)" = 0 ] || fail "insecure next-hop name accepted as a reference identifier"
ok "insecure MX: the next-hop domain is no reference identifier"
sink_stop insn
mx_sink ca $H $H.ca
wait_msg ca 1 20
assert_msg_subject "$MSG"
assert_msg_tls "$MSG"
assert_msg_sni "$MSG" $H
wait_log "$QID: Successful delivery to <r@names.insecure.test>" 10 || fail "no delivery line"
assert_log "$QID: DANE match: TLSA 2 1 1"
relay_stop
