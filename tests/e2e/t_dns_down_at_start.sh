#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dns_down_at_start: the daemon starts while its DNS does not answer
# (resolver_config's root server is a loopback address where nothing
# listens yet), as when systemd starts it before the network. The DNSSEC
# self-check (resolver/selfcheck.c) fails as "not confirmed", never as
# "validation does not work", so under tls_policy = dane nothing goes out
# without DANE: three messages wait, deferred 4.7.5 "DNSSEC validation not
# confirmed". Then the DNS server comes up (dnsproxy.py relaying to the
# world's NSD), without a restart:
#   none.dane.test     TLSA records match nothing the server presents
#   secure.test        TLSA records, but neither MX host offers STARTTLS
#   mx.mxhost.test     TLSA matches: delivered with (DANE)
# The first two are never delivered (counted at their sinks). min_backoff
# is 1h: the good message goes out soon after DNS returns only because a
# "not confirmed" deferral retries right after the next self-check.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"
. "$(dirname "$0")/dnsfault.sh"

fault_conf "$T/unbound.conf" .
dane_conf dane
sed -i -e "s|^resolver_config *=.*|resolver_config = $T/unbound.conf|" \
    -e "s|^min_backoff *=.*|min_backoff = 1h|" \
    -e "s|^max_backoff *=.*|max_backoff = 1h|" "$T/relay.conf"
mx_sink none mx.none.dane.test mx.none.dane.test
mx_sink nostarttls1 mx1.secure.test -
mx_sink nostarttls2 mx2.secure.test -
mx_sink good mx.mxhost.test mx.mxhost.test

relay_start "$T/relay.conf"
pid=$RELAY_PID
wait_log 'WARNING: DNSSEC validation not confirmed: DNSKEY \.: no answer' 30 ||
    fail "no 'not confirmed' warning while DNS is down"
assert_no_log 'DNSSEC validation check FAILED'
assert_no_log 'DNSSEC validation is not working'

send r@none.dane.test
Q_NONE=$QID
wait_deferred r@none.dane.test 30
echo "$DEFER_LINE" | grep -q '4\.7\.5 DNSSEC validation not confirmed' || fail "wrong deferral"
send r@secure.test
Q_NOTLS=$QID
wait_deferred r@secure.test 30
echo "$DEFER_LINE" | grep -q '4\.7\.5 DNSSEC validation not confirmed' || fail "wrong deferral"
send r@mx.mxhost.test
Q_GOOD=$QID S_GOOD=$SEQ
wait_deferred r@mx.mxhost.test 30
echo "$DEFER_LINE" | grep -q '4\.7\.5 DNSSEC validation not confirmed' || fail "wrong deferral"
# the retry comes with the next self-check, not after min_backoff (1h)
echo "$DEFER_LINE" | grep -Eq 'next attempt in ([1-9]|[1-9][0-9]|[1-2][0-9][0-9]|300)s$' ||
    fail "the deferral waits for the full backoff"
assert_no_log 'Connecting to'
ok "while DNS is down every DANE message waits, nothing is sent"

# DNS comes up; no restart
proxy_start
wait_log 'DNSSEC validation check passed: DNSKEY \.: secure \(validation confirmed after failed checks\)' 120 ||
    fail "validation not confirmed after DNS came back"
QID=$Q_GOOD SEQ=$S_GOOD
wait_msg good 1 60
assert_dane_delivery good mx.mxhost.test
kill -0 "$pid" 2>/dev/null || fail "the daemon is gone"
[ "$RELAY_PID" = "$pid" ] || fail "the daemon was restarted"

# the other two were tried with DNS up and failed DANE: deferred, never sent
QID=$Q_NONE
wait_log "$QID: DANE verification failed for mx\.none\.dane\.test\[.*\(tlsa-invalid\)" 60 ||
    fail "no DANE failure for none.dane.test"
wait_log "$QID: Temporary failure for <r@none\.dane\.test> \(retry [0-9]+\): 4\.7\.5 DANE verification failed" 30 ||
    fail "none.dane.test not deferred after the DANE failure"
QID=$Q_NOTLS
wait_log "$QID: Temporary failure for <r@secure\.test> \(retry [0-9]+\): 4\.7\.5 .*starttls-not-supported" 60 ||
    fail "secure.test not deferred for missing STARTTLS"
[ "$(msg_count none)" = 0 ] || fail "the TLSA-mismatch domain got the mail"
[ "$(msg_count nostarttls1)" = 0 ] || fail "mx1.secure.test got the mail in plaintext"
[ "$(msg_count nostarttls2)" = 0 ] || fail "mx2.secure.test got the mail in plaintext"
assert_no_log "$Q_NONE: Successful delivery"
assert_no_log "$Q_NOTLS: Successful delivery"
assert_no_log "continuing in plaintext"
ok "TLSA-mismatch and no-STARTTLS destinations never delivered, the good one with DANE"
relay_stop
proxy_stop
