#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_notlsa: RFC 7672 2.2 (docs/dane.md rule 9): no TLSA records (secure
# NXDOMAIN at _25._tcp.notlsa.secure.test, secure NODATA at
# _25._tcp.nodata.secure.test). Under `dane` the host is treated as `may`:
# notlsa.secure.test receives the message over TLS, unauthenticated, and
# a host offering no STARTTLS (nodata.secure.test) gets it in plaintext.
# Then the relay is restarted under `dane-only`: the same notlsa host fails
# and the message is deferred.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink nt notlsa.secure.test notlsa.secure.test
mx_sink nd nodata.secure.test -
relay_start "$T/relay.conf"

send r@notlsa.secure.test
wait_msg nt 1 20
assert_unauth_delivery nt notlsa.secure.test
assert_log "$QID: TLSA _25\._tcp\.notlsa\.secure\.test: "

send r@nodata.secure.test
wait_msg nd 1 20
assert_msg_subject "$MSG"
[ "$(env_of "$MSG" tls)" = plain ] || fail "nodata: tls '$(env_of "$MSG" tls)', want plain"
ok "no TLSA and no STARTTLS: plaintext, as may"
assert_log "$QID: TLSA _25\._tcp\.nodata\.secure\.test: "
relay_stop

# dane-only: the same destinations defer
: > "$RELAY_LOG"
dane_conf dane-only
relay_start "$T/relay.conf"
send r@notlsa.secure.test
wait_deferred r@notlsa.secure.test 20
assert_log "$QID: .*dane-required"
[ "$(msg_count nt)" = 1 ] || fail "dane-only delivered to a host without TLSA"
ok "dane-only: no TLSA -> host fails"
relay_stop
