#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_tlsa_silent: docs/dane.md rule 8 with a TLSA lookup that never gets an
# answer (tlsasilent.mxhost.test: MX 10 itself, secure A, _tcp delegated to
# a server that never answers; 20 mx.mxhost.test). The host is skipped
# without a connection once the lookup gives up, and the message goes to
# the backup, authenticated. A message to secure.test sent meanwhile is
# delivered too (the hanging lookup blocks nothing; no timing asserted).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink good mx.mxhost.test mx.mxhost.test
mx_sink ts tlsasilent.mxhost.test tlsasilent.mxhost.test
mx_sink mx1 mx1.secure.test mx1.secure.test
relay_start "$T/relay.conf"

send r@tlsasilent.mxhost.test
q1=$QID s1=$SEQ
send r@secure.test
wait_msg mx1 1 20
assert_dane_delivery mx1 mx1.secure.test

QID=$q1 SEQ=$s1
wait_msg good 1 40
assert_dane_delivery good mx.mxhost.test
assert_no_log "$QID: TLSA _25\._tcp\.tlsasilent\.mxhost\.test: (secure|insecure)"
assert_no_log "$QID: Connecting to \[$(addr_of tlsasilent.mxhost.test)\]"
[ "$(stat_of ts connections)" = 0 ] || fail "connected to the host whose TLSA lookup hung"
ok "host with a hanging TLSA lookup skipped"
relay_stop
