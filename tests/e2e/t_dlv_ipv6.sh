#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_ipv6: delivery over IPv6. secure.test: 10 mx1 (A only), 20 mx2
# (A .1.2 and AAAA ::1), both with a secure TLSA 3 1 1. Nothing listens on
# mx1 nor on mx2's IPv4 address; the sink on [::1]:25 presents
# mx2.secure.test's certificate. Under tls_policy = dane the message
# reaches the IPv6 address, over DANE-authenticated TLS, content intact.
# Then `danerelay check secure.test` (relay/cmd_check.c) probes the AAAA
# address as well as the A ones, with sinks on every address: the [::1]
# row passes with mx2's certificate (exit 0), fails authentication with
# mx1's, which mx2's TLSA record does not match (exit 2, the IPv4 rows
# still pass), and is critical when nothing listens on [::1]:25.
# This scenario owns [::1]:25 (the only IPv6 loopback) while it runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/check_lib.sh"

MX1=$(host_addr mx1.secure.test)
MX2=$(host_addr mx2.secure.test)
for a in "$MX1" "$MX2"; do
	python3 -c "import socket,sys; socket.create_connection((sys.argv[1], 25), 2)" "$a" 2> /dev/null &&
	    fail "something listens on $a:25: the test needs it refused"
done
sink_start v6 "[::1]:25" -H mx2.secure.test \
    -c "$WORLD_DIR/certs/mx2.secure.test.crt" -k "$WORLD_DIR/certs/mx2.secure.test.key"
dlv_conf "$T/relay.conf" < /dev/null
sed -i 's/^tls_policy = may$/tls_policy = dane/' "$T/relay.conf"
grep -q '^tls_policy = dane$' "$T/relay.conf" || fail "could not set tls_policy = dane"
relay_start "$T/relay.conf"

inject sender@sender.test v6@secure.test
q=$QID
wait_done "$q" 40
expect_delivered v6 "$q" sender@sender.test v6@secure.test
grep -q '^client: \[\?::1\]\?' "$MSGFILE" || grep -q '^client: ::1' "$MSGFILE" ||
    fail "sink saw the client at $(sed -n 's/^client: //p' "$MSGFILE"), not ::1"
grep -q '^sni: mx2\.secure\.test$' "$MSGFILE" || fail "SNI is not mx2.secure.test"
ok "delivered from ::1 with SNI mx2.secure.test"
assert_log "$q: Processing message from <sender@sender\.test> to <v6@secure\.test> with policy dane"
assert_log "$q: MX secure\.test: secure, 2 hosts \(mx1\.secure\.test, mx2\.secure\.test\)"
assert_log "$q: Connecting to \[::1\]:25 \(DNSSEC\)"
assert_log "$q: Connection is now using TLSv1\.[23] with cipher [A-Z0-9_-]+ \([0-9]+ bits\) \(DANE\)"
assert_log "$q: Successful delivery to <v6@secure\.test> \(retry 0\) in [0-9.]+s: 250 "
relay_stop

# danerelay check: the AAAA address is probed like the A ones. The sinks
# count connections: check sends no mail.
world_sink mx1 mx1.secure.test
world_sink mx2 mx2.secure.test
V6="mx2\.secure\.test\[::1\]:25"
v6_conns=$(sink_stat v6 connections)
check v6ok secure.test 0
expect v6ok "^info: mx2\.secure\.test: AAAA mx2\.secure\.test: secure, 1 record"
expect v6ok "^info: $V6: ECDSA: connected, EHLO accepted, STARTTLS offered$"
expect v6ok "^ok: $V6: ECDSA: TLSA record 1 \(3 1 1\) matched the certificate at depth 0$"
expect v6ok "^$V6 pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), no RSA chain$"
expect v6ok "^mx2\.secure\.test\[$(re_esc "$MX2")\]:25 pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), no RSA chain$"
expect v6ok "^mx1\.secure\.test\[$(re_esc "$MX1")\]:25 pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), no RSA chain$"
reject v6ok "^mx1\.secure\.test\[::1\]"
expect v6ok "^mx2\.secure\.test pass: DANE: 1 usable TLSA record at mx2\.secure\.test, every address authenticated$"
expect v6ok "^DANE OK - secure\.test"
[ "$(sink_stat v6 connections)" -gt "$v6_conns" ] || fail "check did not connect to [::1]:25"
[ "$(sink_count v6)" -eq 1 ] || fail "check sent mail to [::1]:25"
ok "check probed [::1]:25 and sent no mail"

# mx1's certificate on [::1]:25: mx2's TLSA record does not match it
sink_stop v6
sink_start v6bad "[::1]:25" -H mx2.secure.test \
    -c "$WORLD_DIR/certs/mx1.secure.test.crt" -k "$WORLD_DIR/certs/mx1.secure.test.key"
check v6bad secure.test 2
expect v6bad "^critical: $V6: ECDSA: authentication failed: .*\(tlsa-invalid\)$"
expect v6bad "^$V6 fail: ECDSA: no TLSA record matched the certificate chain \(tlsa-invalid\), no RSA chain$"
expect v6bad "^mx2\.secure\.test\[$(re_esc "$MX2")\]:25 pass: "
expect v6bad "^mx1\.secure\.test\[$(re_esc "$MX1")\]:25 pass: "
expect v6bad "^DANE CRITICAL - secure\.test"

# nothing on [::1]:25: the address cannot be reached
sink_stop v6bad
check v6down secure.test 2
expect v6down "^critical: $V6: ECDSA: connect to $V6: Connection refused$"
expect v6down "^$V6 fail: no connection \(connect to $V6: Connection refused\)$"
reject v6down "^$V6 pass: "
expect v6down "^mx2\.secure\.test\[$(re_esc "$MX2")\]:25 pass: "
expect v6down "^DANE CRITICAL - secure\.test"
[ "$(sink_count mx1)" -eq 0 ] && [ "$(sink_count mx2)" -eq 0 ] || fail "check sent mail"
exit 0
