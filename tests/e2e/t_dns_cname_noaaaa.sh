#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dns_cname_noaaaa: RFC 7672 2.1.3 for a CNAME'd MX host. cn-insec.cname.test
# has MX 10 alias-insec.cname.test, a secure CNAME to host-cn.insecure.test
# (insecure A); the secure TLSA record at _25._tcp.alias-insec.cname.test
# names the host's key. The name server of insecure.test answers A but
# never AAAA (dnsproxy.py --drop AAAA in front of the world's NSD): the
# expansion cannot be settled, so the host is a lookup failure, the mail
# is deferred and nothing reaches the server (which would accept it, in
# plaintext too). When the server answers again the same message goes out
# authenticated by the TLSA record at the original name (first link
# secure), without a restart.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"
. "$(dirname "$0")/dnsfault.sh"

# libunbound marks the silent server unusable for infra-host-ttl: 5 s
# rather than the relay's 30 s lets the retry after it answers again come
# sooner (t_dns_down_at_start proves the 30 s default).
FAULT_INFRA_TTL=5 fault_conf "$T/unbound.conf" insecure.test
dane_conf dane
sed -i "s|^resolver_config *=.*|resolver_config = $T/unbound.conf|" "$T/relay.conf"
mx_sink cn host-cn.insecure.test host-cn.insecure.test
proxy_start --drop AAAA
relay_start "$T/relay.conf"
wait_log 'DNSSEC validation check passed' 30 || fail "no validation check"

send r@cn-insec.cname.test
wait_deferred r@cn-insec.cname.test 60
assert_log "$QID: Skipping alias-insec\.cname\.test: 4\.4\.3 lookup failure while following the CNAME of alias-insec\.cname\.test: AAAA lookup indeterminate"
echo "$DEFER_LINE" | grep -q '4\.4\.3 lookup failure while following the CNAME' ||
    fail "the deferral does not name the lookup failure"
grep -q '^drop AAAA host-cn\.insecure\.test' "$PROXY_LOG" || fail "the AAAA query never reached the server"
assert_no_log "$QID: TLSA "
assert_no_log "$QID: Connecting to"
[ "$(stat_of cn connections)" = 0 ] || fail "connected to the host whose lookup failed"
[ "$(msg_count cn)" = 0 ] || fail "the mail went out"
ok "an unanswered AAAA for a CNAME'd MX host defers, nothing is sent"

# the server answers again: the retry settles the expansion
proxy_stop
proxy_start
wait_msg cn 1 60
assert_log "$QID: Address alias-insec\.cname\.test: .*CNAME to host-cn\.insecure\.test \(chain insecure, first link secure\)"
assert_log "$QID: TLSA _25\._tcp\.alias-insec\.cname\.test: secure, 1 record .*base domain alias-insec\.cname\.test \(original\)"
assert_msg_subject "$MSG"
assert_msg_tls "$MSG"
assert_msg_sni "$MSG" alias-insec.cname.test
# the address itself is insecure (no "(DNSSEC)"); the session is DANE's
assert_log "$QID: Connecting to \[$(addr_of host-cn.insecure.test)\]:25$"
assert_log "$QID: Connection is now using TLSv1\.[23] with cipher .*\(DANE\)"
assert_log "$QID: DANE match: TLSA 3 1 1 at depth 0, subject CN=host-cn\.insecure\.test"
relay_stop
proxy_stop
