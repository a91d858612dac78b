#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_test_mode: docs/dane.md test mode (RFC 7672 9.1 "audit only"):
# test_mode = yes with tls_policy = dane computes and logs every verdict
# with the words "test mode" and delivers as `may`.
#   none.dane.test: usable TLSA, nothing matches: logged "test mode: would
#     have deferred ... 4.7.5", delivered over TLS, unauthenticated
#   secure.test with mx1 offering no STARTTLS: logged, delivered in
#     plaintext
#   [domain single.test] test_mode = no, policy dane-only: not in test
#     mode there, deferred (per-domain test_mode)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane <<'C'
test_mode = yes
[domain single.test]
tls_policy = dane-only
test_mode = no
C
mx_sink none mx.none.dane.test mx.none.dane.test
mx_sink mx1 mx1.secure.test -
mx_sink single mx.single.test mx.single.test
relay_start "$T/relay.conf"

send r@none.dane.test
wait_msg none 1 20
assert_unauth_delivery none mx.none.dane.test
assert_log "$QID: .*test mode: would have deferred.*4\.7\.5"
assert_log "$QID: .*test mode.*(tlsa-invalid|no TLSA record matched)"

send r@secure.test
wait_msg mx1 1 20
assert_msg_subject "$MSG"
[ "$(env_of "$MSG" tls)" = plain ] || fail "secure.test: tls '$(env_of "$MSG" tls)', want plain (no STARTTLS offered)"
wait_log "$QID: Successful delivery" 10 || fail "no delivery line"
assert_log "$QID: .*test mode: would have.*(starttls-not-supported|STARTTLS)"
ok "test mode: delivered in plaintext with the verdict logged"

send r@single.test
wait_deferred r@single.test 20
[ "$(msg_count single)" = 0 ] || fail "single.test: delivered despite dane-only without test mode"
assert_no_log "$QID: .*test mode"
ok "per-domain test_mode = no enforces"
relay_stop
