#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_reuse: docs/dane.md rule 15: a connection is reused, and a TLS session
# resumed, only under the same security requirements. mx.names.dane.test
# (TLSA 2 1 1 ca) presents a certificate naming only alias.dane.test.
# A message to alias.dane.test (a CNAME to names.dane.test: alias.dane.test
# is a reference identifier) is delivered with DANE; right after it a
# message to names.dane.test (reference identifiers mx.names.dane.test,
# names.dane.test only) must NOT ride on that connection or resume its
# session: it fails the name check and is deferred. Then mx1.secure.test
# presents a certificate its TLSA does not match: a message to
# tosecure.insecure.test (policy may by [domain], MX mx1.secure.test) is
# delivered unauthenticated; right after it a message to secure.test
# (dane) must not reuse that connection: deferred (mx2 is down).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

H=mx.names.dane.test
dane_conf dane <<'C'
connection_reuse_time = 30s
[domain tosecure.insecure.test]
tls_policy = may
C
mx_sink n $H $H.alias
relay_start "$T/relay.conf"

send r@alias.dane.test
wait_msg n 1 20
assert_dane_delivery n $H
send r@names.dane.test
wait_deferred r@names.dane.test 20
[ "$(msg_count n)" = 1 ] || fail "names.dane.test delivered over alias.dane.test's connection or session"
assert_log "$QID: DANE verification failed for $H\[.*certificate-host-mismatch"
ok "a DANE connection for other reference identifiers was not reused"

mx_sink m1 mx1.secure.test mx1.secure.test.wrongkey
send r@tosecure.insecure.test
wait_msg m1 1 20
assert_unauth_delivery m1 mx1.secure.test
send r@secure.test
wait_deferred r@secure.test 20
[ "$(msg_count m1)" = 1 ] || fail "secure.test (dane) delivered over the may connection"
assert_log "$QID: DANE verification failed for mx1\.secure\.test"
ok "an unauthenticated connection was not reused for a DANE destination"
relay_stop
