#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_ee_expired: RFC 7672 3.1.1, 3.2.1 (docs/dane.md rule 10): DANE-EE(3)
# ignores expiry and names. expired.dane.test's TLSA holds 3 1 1 of an
# expired self-signed certificate and 2 1 1 of ca. The sink first presents
# .ca-expired (issued by ica, expired: the DANE-TA path fails with
# certificate-expired): deferred, nothing received; then .expired: the 3 1 1
# record matches, delivered authenticated. eenames.dane.test: 3 1 1 of a
# certificate naming wrong.example: delivered authenticated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

H=mx.expired.dane.test
dane_conf dane
mx_sink caexp $H $H.ca-expired
mx_sink een mx.eenames.dane.test mx.eenames.dane.test.nomatch
relay_start "$T/relay.conf"

send r@expired.dane.test
q1=$QID s1=$SEQ
wait_deferred r@expired.dane.test 20
assert_log "$QID: DANE verification failed for $H\[.*certificate-expired"
[ "$(msg_count caexp)" = 0 ] || fail "expired DANE-TA chain accepted"
ok "expired certificate under DANE-TA refused"

send r@eenames.dane.test
wait_msg een 1 20
assert_dane_delivery een mx.eenames.dane.test
assert_log "$QID: DANE match: TLSA 3 1 1 at depth 0"

sink_stop caexp
mx_sink exp $H $H.expired
QID=$q1 SEQ=$s1
wait_msg exp 1 20
assert_dane_delivery exp $H
assert_log "$QID: DANE match: TLSA 3 1 1 at depth 0"
relay_stop
