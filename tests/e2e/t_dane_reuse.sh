#!/bin/bash
# t_dane_reuse: issue 5 rule 15: a connection is reused, and a TLS session
# resumed, only under the same security requirements. mx.names.dane.test
# (TLSA 2 1 1 ca) presents a certificate naming only alias.dane.test.
# A message to alias.dane.test (a CNAME to names.dane.test: alias.dane.test
# is a reference identifier) is delivered with DANE; right after it a
# message to names.dane.test (reference identifiers mx.names.dane.test,
# names.dane.test only) must NOT ride on that connection or resume its
# session: it fails the name check and is deferred. A third message to
# secure.test under `may` ([domain]) and a fourth to secure.test under
# dane: the DANE one never reuses the `may` connection unauthenticated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

H=mx.names.dane.test
dane_conf dane <<'C'
connection_reuse_time = 30s
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
relay_stop
