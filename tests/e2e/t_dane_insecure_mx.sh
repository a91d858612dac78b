#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_insecure_mx: RFC 7672 2.2.1, 6 (docs/dane.md rule 2): an insecure MX
# RRset takes the destination out of DANE. insecure.test (MX insecure, 10
# mx1.insecure.test whose A and TLSA are insecure too) under `dane`: the
# message goes over TLS unauthenticated, even though mx1 presents a
# certificate the (insecure) TLSA does not match - proof the insecure TLSA
# is not used. nodata.insecure.test under `dane-only` ([domain] section):
# deferred, its sink (TLS offered) receives nothing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane <<'C'
[domain nodata.insecure.test]
tls_policy = dane-only
C
mx_sink mx1 mx1.insecure.test mx1.secure.test.wrongkey
mx_sink nd nodata.insecure.test nodata.insecure.test
relay_start "$T/relay.conf"

send r@insecure.test
wait_msg mx1 1 20
assert_unauth_delivery mx1 mx1.insecure.test
assert_log "$QID: MX insecure\.test: insecure"
assert_no_log "$QID: DANE verification failed"

send r@nodata.insecure.test
wait_deferred r@nodata.insecure.test 20
assert_log "$QID: MX nodata\.insecure\.test: insecure"
assert_log "$QID: .*dane-required"
[ "$(msg_count nd)" = 0 ] || fail "dane-only delivered to an insecure MX"
assert_still_queued r@nodata.insecure.test
relay_stop
