#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_nomatch_next_mx: RFC 7672 2.2, 3.2, 9.1 (docs/dane.md rule 6). secure.test
# has MX 10 mx1, 20 mx2, each with a secure 3 1 1 TLSA RRset. mx1 presents
# a certificate with the right name but another key (no record matches),
# mx2 offers no STARTTLS: both hosts fail, the recipient is deferred with
# 4.7.5, nothing reaches either sink (never plaintext, never
# unauthenticated, never a bounce). Then mx2 comes back with its real
# certificate: the retry skips mx1 (fails again) and delivers to mx2
# authenticated by DANE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink mx1 mx1.secure.test mx1.secure.test.wrongkey
mx_sink mx2 mx2.secure.test -
relay_start "$T/relay.conf"

send r@secure.test
wait_deferred r@secure.test
echo "$DEFER_LINE" | grep -q ': 4\.7\.5 ' || fail "deferral is not 4.7.5: $DEFER_LINE"
ok "deferred with 4.7.5"
assert_log "$QID: MX secure.test: secure"
assert_log "$QID: TLSA _25._tcp.mx1.secure.test: secure"
assert_log "$QID: DANE verification failed for mx1\.secure\.test\[$(addr_of mx1.secure.test)\]:25: .*(tlsa-invalid|no TLSA record matched)"
assert_log "$QID: .*mx2\.secure\.test.*(starttls-not-supported|STARTTLS)"
[ "$(msg_count mx1)" = 0 ] || fail "mx1 received a message without a DANE match"
[ "$(msg_count mx2)" = 0 ] || fail "mx2 received a message in plaintext"
[ "$(stat_of mx2 messages)" = 0 ] || fail "mx2 counted a message"
[ "$(stat_of mx1 tls)" -ge 1 ] 2>/dev/null || fail "the relay never completed TLS with mx1"
assert_no_log "$QID: Permanent failure"
assert_still_queued r@secure.test

# several retries later still nothing in plaintext
wait_log "$QID: Temporary failure for <r@secure.test> \(retry [1-9]" 15 ||
    fail "no retry of the deferred recipient"
[ "$(msg_count mx2)" = 0 ] || fail "mx2 received a message in plaintext on a retry"
ok "retries never downgrade"

# mx2 back with its real certificate: the next retry delivers there
sink_stop mx2
mx_sink mx2b mx2.secure.test mx2.secure.test
wait_msg mx2b 1 20
assert_dane_delivery mx2b mx2.secure.test
[ "$(msg_count mx1)" = 0 ] || fail "mx1 received a message"
relay_stop
