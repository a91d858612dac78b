#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_unusable: RFC 7672 2.2, 3.1.3 (docs/dane.md rule 7): a secure TLSA
# RRset whose records are all unusable (usages 0/1, unknown usage, selector
# or matching type; malformed data) makes TLS mandatory but not
# authentication. unusable.dane.test's host first offers no STARTTLS: the
# message is deferred, not sent in plaintext; then it offers TLS with a
# certificate no record names: delivered over TLS, unauthenticated.
# malformed.dane.test (only malformed records): delivered over TLS,
# unauthenticated.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink un mx.unusable.dane.test -
mx_sink mal mx.malformed.dane.test mx1.secure.test.wrongkey
relay_start "$T/relay.conf"

send r@unusable.dane.test
q1=$QID
wait_deferred r@unusable.dane.test 20
assert_log "$QID: TLSA _25\._tcp\.mx\.unusable\.dane\.test: secure"
assert_log "$QID: .*starttls-not-supported"
[ "$(msg_count un)" = 0 ] || fail "plaintext delivery to a host with a secure (unusable) TLSA RRset"
ok "no plaintext"

send r@malformed.dane.test
wait_msg mal 1 20
assert_unauth_delivery mal mx.malformed.dane.test
assert_log "$QID: TLSA _25\._tcp\.mx\.malformed\.dane\.test: secure"

sink_stop un
mx_sink un2 mx.unusable.dane.test mx1.secure.test.wrongkey
QID=$q1
SEQ=1
wait_msg un2 1 20
assert_unauth_delivery un2 mx.unusable.dane.test
relay_stop
