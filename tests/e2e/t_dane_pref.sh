#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_pref: RFC 7672 2.2.1 (docs/dane.md rule 3): a less preferred MX host
# with TLSA never pre-empts a more preferred one without. pref.secure.test
# has MX 10 notlsa.secure.test (secure, TLSA secure NXDOMAIN), 20
# mx1.secure.test (TLSA 3 1 1). Under `dane` the message goes to notlsa
# (over TLS, unauthenticated) and mx1 is never contacted.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink notlsa notlsa.secure.test notlsa.secure.test
mx_sink mx1 mx1.secure.test mx1.secure.test
relay_start "$T/relay.conf"

send r@pref.secure.test
wait_msg notlsa 1 20
assert_unauth_delivery notlsa notlsa.secure.test
assert_log "$QID: MX pref\.secure\.test: secure, 2 hosts \(notlsa\.secure\.test, mx1\.secure\.test\)"
[ "$(stat_of mx1 connections)" = 0 ] || fail "the relay connected to the backup mx1"
[ "$(msg_count mx1)" = 0 ] || fail "the backup mx1 got the message"
ok "the backup with TLSA did not pre-empt the preferred host"
relay_stop
