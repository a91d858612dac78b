#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_only: docs/dane.md rule 13: `dane-only` delivers only to hosts
# authenticated by DANE. secure.test (3 1 1 matches): delivered, (DANE).
# unusable.dane.test (TLS offered, only unusable TLSA records: TLS would be
# enough under dane): deferred. insecure.test (insecure MX): deferred.
# three.test (secure MX, no TLSA): deferred.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane-only
mx_sink mx1 mx1.secure.test mx1.secure.test
mx_sink un mx.unusable.dane.test mx.unusable.dane.test
mx_sink ins mx1.insecure.test mx1.insecure.test
mx_sink t1 mx1.three.test mx1.three.test
relay_start "$T/relay.conf"

send r@secure.test
wait_msg mx1 1 20
assert_dane_delivery mx1 mx1.secure.test

for r in r@unusable.dane.test r@insecure.test r@three.test; do
	send "$r"
	wait_deferred "$r" 20
	assert_no_log "$QID: Successful delivery"
	assert_log "$QID: .*(dane-required|tlsa-invalid)"
done
[ "$(msg_count un)" = 0 ] || fail "dane-only delivered to a host with unusable TLSA"
[ "$(msg_count ins)" = 0 ] || fail "dane-only delivered to an insecure MX"
[ "$(msg_count t1)" = 0 ] || fail "dane-only delivered to a host without TLSA"
ok "dane-only: only the DANE-authenticated host got mail"
relay_stop
