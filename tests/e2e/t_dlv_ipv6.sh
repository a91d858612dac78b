#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_ipv6: delivery over IPv6. secure.test: 10 mx1 (A only), 20 mx2
# (A .1.2 and AAAA ::1), both with a secure TLSA 3 1 1. Nothing listens on
# mx1 nor on mx2's IPv4 address; the sink on [::1]:25 presents
# mx2.secure.test's certificate. Under tls_policy = dane the message
# reaches the IPv6 address, over DANE-authenticated TLS, content intact.
# This scenario owns [::1]:25 (the only IPv6 loopback) while it runs.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

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
exit 0
