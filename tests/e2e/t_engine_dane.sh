#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_engine_dane: relay/delivery.c alone (tests/tools/dlv_drive) on the test
# world with real TLS sinks: DANE match and failure (rules 3, 6), TLSA bogus
# host skipped (8), CNAME base domains (5), dane-only on an insecure MX (2),
# null MX / bogus MX (1), per-recipient 250/450/550, connection reuse (15),
# test mode, an override's reason and an expired override.
. "$(dirname "$0")/lib.sh"

if [ -z "${WORLD_DIR:-}" ] || [ ! -f "$WORLD_DIR/unbound.conf" ]; then
	WORLD_DIR=$T/world
	"$top/tests/world/mkworld" start "$WORLD_DIR" || fail "mkworld start"
	trap '"$top/tests/world/mkworld" stop "$WORLD_DIR"; cleanup' EXIT
fi
DRIVE=$B/tests/tools/dlv_drive
[ -x "$DRIVE" ] || fail "no $DRIVE (make unit / asan-build)"
CERTS=$WORLD_DIR/certs
addr() { awk -v n="$1" '$1 == n { print $2; exit }' "$WORLD_DIR/hosts"; }

mkdir -p "$T/spool"
cat > "$T/conf" <<EOF
spool_dir = $T/spool
resolver_config = $WORLD_DIR/unbound.conf
trust_anchor_file = $WORLD_DIR/root.key
hostname = relay.test
tls_policy = dane
connection_reuse_time = 10s
[domain insecure.test]
tls_policy = dane-only
reason = dane-only trial
[domain single.test]
tls_policy = may
[domain one.dane.test]
test_mode = yes
[domain three.test]
tls_policy = encrypt
[domain unusable.dane.test]
tls_policy = dane-only
[domain .secure.test]
tls_policy = none
until = 2020-01-01
reason = old exception
EOF
printf 'r450 450 4.2.0 try later\nr550 550 5.1.1 user unknown\n' > "$T/rules"

# drive NAME ARGS...: run one attempt, output in $T/NAME.out
drive() {
	local name=$1
	shift
	timeout 120 "$DRIVE" -c "$T/conf" "$@" > "$T/$name.out" 2>&1 ||
	    { cat "$T/$name.out"; fail "$name: driver exited $?"; }
	RELAY_LOG=$T/$name.out
}
sink_stop() {
	kill -TERM "$SINK_PID"
	wait_pid_gone "$SINK_PID" 50 || fail "sink $SINK_PID did not stop"
	untrack "$SINK_PID"
}

MX1=$(addr mx1.secure.test)
[ -n "$MX1" ] || fail "no mx1.secure.test in hosts"

# rule 6: a matching DANE-EE record
sink_start good "$MX1:25" -c "$CERTS/mx1.secure.test.crt" -k "$CERTS/mx1.secure.test.key"
drive good s@sender.test r1@secure.test r2@secure.test
assert_log 'MX secure.test: secure, 2 hosts \(mx1.secure.test, mx2.secure.test\)'
assert_log 'Address mx1.secure.test: A secure \(1\), AAAA nodata secure'
assert_log 'TLSA _25._tcp.mx1.secure.test: secure, 1 record \(1 usable, 0 unusable\)'
assert_log "Connecting to \[$MX1\]:25 \(DNSSEC\)"
assert_log 'Connection is now using TLSv1.[23] with cipher .* \(DANE\)'
assert_log 'DANE match: TLSA 3 1 1 at depth 0, subject CN=mx1.secure.test'
assert_log 'Successful delivery to <r1@secure.test> \(retry 0\) in [0-9.]+s: 250'
assert_log '^OUTCOME 0 OK 2.0.0 mx1.secure.test'
assert_log '^OUTCOME 1 OK'

# no TLS client (-N): a host with usable TLSA records is not used, never
# in plaintext (the sink above would take plaintext mail)
n0=$(ls "$T/good.msgs" | wc -l)
drive notls -N s@sender.test r@secure.test
assert_log 'no TLS client available for mx1\.secure\.test\[.*which requires TLS'
assert_log '^OUTCOME 0 TEMP 4.7.5 '
assert_no_log 'Successful delivery'
[ "$(ls "$T/good.msgs" | wc -l)" = "$n0" ] || fail "plaintext delivery without a TLS client"

# rule 15: three messages, one connection
drive reuse -n 3 s@sender.test r@secure.test
[ "$(grep -c '^OUTCOME 0 OK' "$T/reuse.out")" = 3 ] || fail "reuse: not 3 delivered"
assert_log 'Reusing connection to mx1.secure.test\['
sink_stop
grep -q '^connections=2$' "$T/good.stats" || { cat "$T/good.stats"; fail "reuse: want 2 connections (1 + 1 for 3 messages)"; }
ok "3 messages over one connection"

# rule 6: no record matches: never delivered, 4.7.5 tlsa-invalid
sink_start bad "$MX1:25" -c "$CERTS/mx1.secure.test.wrongkey.crt" -k "$CERTS/mx1.secure.test.wrongkey.key"
drive wrong s@sender.test r@secure.test
assert_log "DANE verification failed for mx1.secure.test\[$MX1\]:25: .*\(tlsa-invalid\)"
assert_no_log 'Successful delivery'
assert_log '^OUTCOME 0 TEMP 4.7.5 .* tlsa-invalid \| 4.7.5 DANE verification failed for mx1'
sink_stop
grep -q '^messages=0$' "$T/bad.stats" || fail "a message reached the wrong-key server"
ok "nothing delivered to the wrong key"

# per-recipient outcomes, policy may (override without reason)
SINGLE=$(addr mx.single.test)
sink_start single "$SINGLE:25" -c "$CERTS/mx.single.test.crt" -k "$CERTS/mx.single.test.key" -r "$T/rules"
drive rcpts s@sender.test ok@single.test r450@single.test r550@single.test
assert_log 'with policy may'
assert_log 'Connection is now using .* \(unauthenticated\)'
assert_log '^OUTCOME 0 OK 2.0.0'
assert_log '^OUTCOME 1 TEMP 4.2.0 .*450 4.2.0 try later'
assert_log '^OUTCOME 2 PERM 5.1.1 .*550 5.1.1 user unknown'
sink_stop

# test mode: the wrong certificate is reported, delivery goes on as may
ONE=$(addr mx.one.dane.test)
sink_start one "$ONE:25" -c "$CERTS/mx1.secure.test.crt" -k "$CERTS/mx1.secure.test.key"
drive testmode s@sender.test r@one.dane.test
assert_log 'with policy dane \(test mode\)'
assert_log 'test mode: would have used DANE for mx.one.dane.test'
assert_log 'test mode: would have deferred: 4.7.5 .*tlsa-invalid'
assert_log '^OUTCOME 0 OK'
sink_stop

# rule 8: TLSA bogus at the first host: skipped, never connected
drive tlsabogus s@sender.test r@tlsabogus.mxhost.test
assert_log 'TLSA _25._tcp.mx.partbogus.test: bogus'
assert_log 'Skipping mx.partbogus.test: 4.7.5 .*\(dnssec-invalid\)'
assert_no_log "Connecting to \[$(addr mx.partbogus.test)\]"
assert_log '^OUTCOME 0 TEMP 4.7.5 .*dnssec-invalid'

# rule 5: secure chain, TLSA at the expanded name first, then the original
drive cname s@sender.test r@cn-orig.cname.test
assert_log 'TLSA _25._tcp.host-orig.cname2.test: nxdomain secure, base domain host-orig.cname2.test \(expanded\)'
assert_log 'TLSA _25._tcp.alias-orig.cname.test: secure, 1 record .*base domain alias-orig.cname.test \(original\)'

# rule 2: dane-only and an insecure MX: deferred, no connection
drive daneonly s@sender.test r@insecure.test
assert_log 'Override \[domain insecure.test\] applies: dane-only trial'
assert_log 'MX insecure.test: insecure, 1 host'
assert_no_log 'Connecting to'
assert_log '^OUTCOME 0 TEMP 4.7.5 - dane-required'

# rule 1 and RFC 7505
drive nullmx s@sender.test r@nullmx.test
assert_log '^OUTCOME 0 PERM 5.1.10'
drive nxdomain s@sender.test r@nx.secure.test
assert_log 'Override \[domain .secure.test\] expired on 2020-01-01, no longer applies: old exception'
assert_log 'with policy dane$'
assert_log '^OUTCOME 0 PERM 5.1.2'
drive bogusmx s@sender.test r@bogus.test
assert_log 'MX bogus.test: bogus'
assert_log '^OUTCOME 0 TEMP 4.7.5 - dnssec-invalid'
assert_no_log 'Connecting to'

# failover: 421 banner, then no STARTTLS under encrypt, then delivered
T1=$(addr mx1.three.test); T2=$(addr mx2.three.test); T3=$(addr mx3.three.test)
sink_start t1 "$T1:25" -b "421 4.3.2 go away"
P1=$SINK_PID
sink_start t2 "$T2:25" -n
P2=$SINK_PID
sink_start t3 "$T3:25" -c "$CERTS/mx3.three.test.crt" -k "$CERTS/mx3.three.test.key"
drive three s@sender.test r@three.test
assert_log "mx1.three.test\[$T1\]:25 failed: .*421 4.3.2 go away.*trying the next MX host"
assert_log "mx2.three.test\[$T2\]:25 failed: 4.7.4 .*STARTTLS.*starttls-not-supported"
assert_log '^OUTCOME 0 OK 2.0.0 mx3.three.test'
sink_stop
# encrypt with no TLS anywhere left: 4.7.4 starttls-not-supported decides
drive three2 s@sender.test r@three.test
assert_log '^OUTCOME 0 TEMP 4.7.4 .*starttls-not-supported'
SINK_PID=$P2; sink_stop
SINK_PID=$P1; sink_stop

# rules 7 and 13: only unusable records; dane-only refuses the host
drive unusable s@sender.test r@unusable.dane.test
assert_log 'TLSA _25._tcp.mx.unusable.dane.test: secure, [0-9]+ records? \(0 usable'
assert_log 'Skipping mx.unusable.dane.test: 4.7.5 .*dane-only requires DANE'
assert_no_log 'Connecting to'
assert_log '^OUTCOME 0 TEMP 4.7.5'

# rule 11: DANE-TA reference identifiers
NM=$(addr mx.names.dane.test)
ta_case() {	# CERTVARIANT DOMAIN WANT(OK|TEMP)
	sink_start "ta-$1-$2" "$NM:25" -c "$CERTS/mx.names.dane.test.$1.chain.crt" \
	    -k "$CERTS/mx.names.dane.test.$1.key"
	drive "ta-$1-$2" s@sender.test "r@$2"
	assert_log "^OUTCOME 0 $3 "
	sink_stop
}
ta_case nexthop names.dane.test OK
assert_log 'DANE match: TLSA 2 1 1 at depth [12]'
ta_case partial names.dane.test TEMP
ta_case alias alias.dane.test OK
assert_log 'reference identifiers: mx.names.dane.test, alias.dane.test, names.dane.test'
ta_case nexthop names.insecure.test TEMP
assert_log 'reference identifiers: mx.names.dane.test$'
ta_case ca names.insecure.test OK

# rule 14: the real port: _2525._tcp holds the RSA certificate's record
sed -e 's/^tls_policy = dane$/tls_policy = dane\nremote_port = 2525/' "$T/conf" > "$T/conf-2525"
sink_start p2525 "$MX1:2525" -c "$CERTS/mx1.secure.test.rsa.crt" -k "$CERTS/mx1.secure.test.rsa.key"
timeout 120 "$DRIVE" -c "$T/conf-2525" s@sender.test r@secure.test > "$T/p2525.out" 2>&1 ||
    fail "p2525: driver exited"
RELAY_LOG=$T/p2525.out
assert_log 'Delivering message to secure.test:2525'
assert_log 'TLSA _2525._tcp.mx1.secure.test: secure, 1 record'
assert_log "Connecting to \[$MX1\]:2525 \(DNSSEC\)"
assert_log '^OUTCOME 0 OK'
sink_stop

# MAIL 4xx: next host; MAIL 5xx: bounce
sink_start m1 "$T1:25" -c "$CERTS/mx1.three.test.crt" -k "$CERTS/mx1.three.test.key" -m "451 4.3.0 mail busy"
P1=$SINK_PID
sink_start m2 "$T2:25" -c "$CERTS/mx2.three.test.crt" -k "$CERTS/mx2.three.test.key"
drive mail4 s@sender.test r@three.test
assert_log "refused the sender: 451 4.3.0 mail busy, trying the next host"
assert_log '^OUTCOME 0 OK 2.0.0 mx2.three.test'
sink_stop
SINK_PID=$P1; sink_stop
sink_start m5 "$T1:25" -c "$CERTS/mx1.three.test.crt" -k "$CERTS/mx1.three.test.key" -m "553 5.7.1 sender refused"
drive mail5 s@sender.test r@three.test r2@three.test
assert_log '^OUTCOME 0 PERM 5.7.1 mx1.three.test .*553 5.7.1 sender refused'
assert_log '^OUTCOME 1 PERM 5.7.1'
sink_stop

# test mode with dane-only on an insecure MX: the verdict is logged, the
# mail goes out as with may
sed -e 's/^reason = dane-only trial$/reason = dane-only trial\ntest_mode = yes/' "$T/conf" > "$T/conf-tm"
I1=$(addr mx1.insecure.test)
sink_start ins "$I1:25" -c "$CERTS/mx1.insecure.test.crt" -k "$CERTS/mx1.insecure.test.key"
timeout 120 "$DRIVE" -c "$T/conf-tm" s@sender.test r@insecure.test > "$T/tm.out" 2>&1 ||
    fail "tm: driver exited"
RELAY_LOG=$T/tm.out
assert_log 'with policy dane-only \(test mode\)'
assert_log 'test mode: would have deferred: 4.7.5 MX RRset of insecure.test is not DNSSEC-signed'
assert_log 'test mode: would have skipped mx1.insecure.test: 4.7.5'
assert_log "Connecting to \[$I1\]:25$"
assert_log '^OUTCOME 0 OK 2.0.0 mx1.insecure.test'
sink_stop

# rule 16 (resolver/selfcheck.c): a wrong trust anchor makes the root's
# keys bogus: validation is "not confirmed", dane and dane-only defer 4.7.5
# before any lookup, never deliver without DANE
grep -v '^[[:space:]]*trust-anchor' "$WORLD_DIR/unbound.conf" > "$T/unbound-wrong.conf"
awk '{ print $1, $2, $3, $4, $5, $6, "AAAA" substr($7, 5) }' "$WORLD_DIR/root.key" > "$T/wrong.key"
sed -e "s|^resolver_config = .*|resolver_config = $T/unbound-wrong.conf|" \
    -e "s|^trust_anchor_file = .*|trust_anchor_file = $T/wrong.key|" \
    -e "s|^tls_policy = dane$|tls_policy = dane-only|" "$T/conf" > "$T/conf-wrong"
timeout 120 "$DRIVE" -c "$T/conf-wrong" s@sender.test r@secure.test > "$T/v16.out" 2>&1 ||
    fail "v16: driver exited"
RELAY_LOG=$T/v16.out
assert_log 'WARNING: DNSSEC validation not confirmed: DNSKEY \.: bogus'
assert_log '^OUTCOME 0 TEMP 4.7.5 - - \| 4.7.5 DNSSEC validation not confirmed'
assert_no_log 'Connecting to'
sed -i -e "s|^tls_policy = dane-only$|tls_policy = dane|" "$T/conf-wrong"
timeout 120 "$DRIVE" -c "$T/conf-wrong" s@sender.test r@secure.test > "$T/v16b.out" 2>&1 ||
    fail "v16b: driver exited"
RELAY_LOG=$T/v16b.out
assert_log '^OUTCOME 0 TEMP 4.7.5 - - \| 4.7.5 DNSSEC validation not confirmed'
assert_no_log 'Connecting to'
# a resolver that does not validate (answers insecure for the signed
# root): dane-only defers (dane-required), dane warns loudly
sed 's/^\([[:space:]]*module-config:\).*/\1 "iterator"/' "$WORLD_DIR/unbound.conf" > "$T/unbound-noval.conf"
sed -e "s|^resolver_config = .*|resolver_config = $T/unbound-noval.conf|" \
    -e "s|^tls_policy = dane$|tls_policy = dane-only|" "$T/conf" > "$T/conf-noval"
timeout 120 "$DRIVE" -c "$T/conf-noval" s@sender.test r@secure.test > "$T/v16c.out" 2>&1 ||
    fail "v16c: driver exited"
RELAY_LOG=$T/v16c.out
assert_log 'WARNING: DNSSEC validation check FAILED: DNSKEY \.: insecure'
assert_log '^OUTCOME 0 TEMP 4.7.5 - dane-required \| 4.7.5 DNSSEC validation is not working.*\(dane-required\)'
assert_no_log 'Connecting to'
sed -i -e "s|^tls_policy = dane-only$|tls_policy = dane|" "$T/conf-noval"
timeout 120 "$DRIVE" -c "$T/conf-noval" s@sender.test r@secure.test > "$T/v16d.out" 2>&1 ||
    fail "v16d: driver exited"
RELAY_LOG=$T/v16d.out
assert_log 'WARNING: DNSSEC validation is not working: DANE cannot be used for secure.test'

ok "engine DANE scenarios"
