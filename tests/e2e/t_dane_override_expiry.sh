#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_override_expiry: docs/dane.md overrides with `until` and `reason`.
# none.dane.test (usable TLSA, nothing matches) has an override to `may`
# that expired in 2020: it no longer applies, DANE is enforced, the message
# is deferred, the log says the override expired. secure.test has an
# override to `may` valid until 2099 with a reason: mx1 presents a
# certificate that fails DANE, the message is delivered unauthenticated
# and the reason is logged.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane <<'C'
[domain none.dane.test]
tls_policy = may
until = 2020-01-31
reason = ticket 4711 key rollover
[domain secure.test]
tls_policy = may
until = 2099-12-31
reason = ticket 4712 broken TLSA
C
mx_sink none mx.none.dane.test mx.none.dane.test
mx_sink mx1 mx1.secure.test mx1.secure.test.wrongkey
relay_start "$T/relay.conf"

send r@none.dane.test
wait_deferred r@none.dane.test 20
echo "$DEFER_LINE" | grep -q ': 4\.7\.5 ' || fail "not a 4.7.5 deferral: $DEFER_LINE"
assert_log "$QID: .*with policy dane"
assert_log "2020-01-31"
[ "$(msg_count none)" = 0 ] || fail "expired override still applied"
ok "expired override ignored, DANE enforced"

send r@secure.test
wait_msg mx1 1 20
assert_unauth_delivery mx1 mx1.secure.test
assert_log "$QID: .*with policy may"
assert_log "$QID: .*ticket 4712 broken TLSA"
relay_stop
