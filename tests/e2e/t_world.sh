#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_world: the DNS test world (tests/world/mkworld) is what its README says.
# 1. Every name of a table resolves, through libunbound (unbound-host with
#    the world's unbound.conf), with the expected DNSSEC state, rcode and
#    data; TLSA data is recomputed here with openssl from the certificates.
# 2. Files: hosts, env, root.key, certificates (chains verify, expired and
#    name variants are what certs.list says), signature validity window.
# 3. A private second world starts, stops, starts again with new keys, is
#    refused while running, and leaves no process behind.
# Uses $WORLD_DIR (started once by tests/run); without it, starts its own.
. "$(dirname "$0")/lib.sh"

MKWORLD=$top/tests/world/mkworld
for t in unbound-host openssl timeout; do
	command -v "$t" > /dev/null || fail "missing tool $t (scripts/install-deps)"
done

if [ -z "${WORLD_DIR:-}" ]; then
	WORLD_DIR=$T/world
	"$MKWORLD" start "$WORLD_DIR" || fail "mkworld start"
	trap '"$MKWORLD" stop "$WORLD_DIR"; cleanup' EXIT
fi
W=$WORLD_DIR
[ -s "$W/env" ] || fail "$W/env missing"
# shellcheck disable=SC1091
. "$W/env"
for f in unbound.conf root.key hosts nsd.conf nsd.pid zones.list; do
	[ -s "$W/$f" ] || fail "$W/$f missing"
done
ok "world in $W (NS $WORLD_NS, NET $WORLD_NET)"

# ------------------------------------------------------------ lookups

shopt -s nocasematch	# unbound-host prints hex in upper case

# lookup TYPE NAME: sets OUT (unbound-host output) and STATE (secure,
# insecure, bogus, servfail; servfail also for a timeout) and RCODE
# (NOERROR, NXDOMAIN, NODATA, SERVFAIL).
lookup() {
	local rc line i=0 pf="$T/pf.$W_ID.$1.$2"
	if [ -e "$pf" ]; then
		# started early by prefetch: wait for it (bounded)
		while [ ! -s "$pf.rc" ]; do
			i=$((i + 1))
			[ "$i" -le 400 ] || fail "prefetched lookup $1 $2 never ended"
			sleep 0.1
		done
		OUT=$(cat "$pf")
		rc=$(cat "$pf.rc")
		rm -f "$pf" "$pf.rc"
	else
		OUT=$(timeout 30 unbound-host -C "$W/unbound.conf" -v -t "$1" "$2" 2>&1)
		rc=$?
	fi
	if [ "$rc" = 124 ] || [[ $OUT == *"(SERVFAIL)"* ]]; then
		STATE=servfail RCODE=SERVFAIL
		return
	fi
	[ "$rc" = 0 ] || fail "unbound-host -t $1 $2: status $rc: $OUT"
	case $OUT in
	*"(BOGUS"*) STATE=bogus ;;
	*"(insecure)"*) STATE=insecure ;;
	*"(secure)"*) STATE=secure ;;
	*) fail "unbound-host -t $1 $2: no DNSSEC state in: $OUT" ;;
	esac
	if [[ $OUT == *"(NXDOMAIN)"* ]]; then
		RCODE=NXDOMAIN
	elif [[ $OUT =~ (has no|is not) ]] && ! [[ $OUT =~ (has (address|IPv6|DS|TLSA|CNAME)|is handled by|is an alias) ]]; then
		RCODE=NODATA
	else
		RCODE=NOERROR
	fi
	# every line must carry the same state (a chain is as weak as its
	# weakest link; unbound-host repeats the overall state per line).
	# Bash matching, no grep: process creation is slow on test machines.
	if [ "$STATE" != bogus ]; then
		while IFS= read -r line; do
			[[ $line == *"($STATE)" ]] ||
			    fail "unbound-host -t $1 $2: mixed states: $OUT"
		done <<< "$OUT"
	fi
}

# prefetch TYPE NAME: start a slow lookup (a dead or silent server) in
# the background now; lookup collects it.
W_ID=shared
prefetch() {
	local pf="$T/pf.$W_ID.$1.$2"
	: > "$pf"
	(timeout 30 unbound-host -C "$W/unbound.conf" -v -t "$1" "$2" > "$pf" 2>&1
	    echo $? > "$pf.rc") &
}

# check TYPE NAME STATE [RCODE [REGEX]]: one row of the table.
check() {
	local type=$1 name=$2 state=$3 rcode=${4:-} re=${5:-}
	lookup "$type" "$name"
	[ "$STATE" = "$state" ] ||
	    fail "$type $name: state $STATE, expected $state: $OUT"
	if [ -n "$rcode" ] && [ "$RCODE" != "$rcode" ]; then
		fail "$type $name: $RCODE, expected $rcode: $OUT"
	fi
	if [ -n "$re" ] && ! [[ $OUT =~ $re ]]; then
		fail "$type $name: output lacks /$re/: $OUT"
	fi
	ok "$type $name: $state${rcode:+ $rcode}${re:+ /$re/}"
}

# addr HOST: its address from DIR/hosts
addr() {
	awk -v h="$1" '$1 == h { print $2; exit }' "$W/hosts"
}

# tlsa_hex CERT S M: association data computed with openssl (an
# independent check of mkcerts.py)
tlsa_hex() {
	local c="$W/certs/$1.crt"
	[ -s "$c" ] || fail "no certificate $c"
	case $2 in
	0) openssl x509 -in "$c" -outform DER ;;
	1) openssl x509 -in "$c" -noout -pubkey | openssl pkey -pubin -outform DER ;;
	esac | case $3 in
	0) od -An -v -tx1 | tr -d ' \n' ;;
	1) openssl dgst -sha256 -r | cut -d' ' -f1 ;;
	2) openssl dgst -sha512 -r | cut -d' ' -f1 ;;
	esac
}

N=$WORLD_NET
prefetch MX dead.test
prefetch A mx.dead.test
prefetch MX dead-insecure.test
prefetch MX silent.test
prefetch TLSA _25._tcp.tlsadead.mxhost.test
prefetch TLSA _25._tcp.tlsasilent.mxhost.test
# the trust anchor's own DNSKEY RRset (danerelay's start-up check)
check DNSKEY . secure NOERROR 'DNSKEY record 257 3 13'
# secure.test
check MX secure.test secure NOERROR '10 mx1\.secure\.test'
check MX secure.test secure NOERROR '20 mx2\.secure\.test'
check A mx1.secure.test secure NOERROR "address $N\\.1\\.1\$|address $N\\.1\\.1 "
check AAAA mx2.secure.test secure NOERROR 'IPv6 address ::1 '
check AAAA mx1.secure.test secure NODATA
check TLSA _25._tcp.mx1.secure.test secure NOERROR \
    "3 1 1 $(tlsa_hex mx1.secure.test 1 1)"
check TLSA _25._tcp.mx2.secure.test secure NOERROR \
    "3 1 1 $(tlsa_hex mx2.secure.test 1 1)"
check TLSA _2525._tcp.mx1.secure.test secure NOERROR \
    "3 1 1 $(tlsa_hex mx1.secure.test.rsa 1 1)"
check TLSA _25._tcp.notlsa.secure.test secure NXDOMAIN
check TLSA _25._tcp.nodata.secure.test secure NODATA
check A nx.secure.test secure NXDOMAIN
check MX nx.secure.test secure NXDOMAIN
check MX pref.secure.test secure NOERROR '10 notlsa\.secure\.test'
# insecure.test and its proof of insecurity
check DS insecure.test secure NODATA
check MX insecure.test insecure NOERROR '10 mx1\.insecure\.test'
check A mx1.insecure.test insecure NOERROR "$(addr mx1.insecure.test)"
check TLSA _25._tcp.mx1.insecure.test insecure NOERROR \
    "3 1 1 $(tlsa_hex mx1.insecure.test 1 1)"
check TLSA _25._tcp.mx2.insecure.test insecure NXDOMAIN
check TLSA _25._tcp.nodata.insecure.test insecure NODATA
check A nx.insecure.test insecure NXDOMAIN
check MX nomx.insecure.test insecure NODATA
check A nomx.insecure.test insecure NOERROR
check MX nullmx.insecure.test insecure NOERROR 'handled by 0 \.'
check MX tosecure.insecure.test insecure NOERROR 'mx1\.secure\.test'
# bogus zones
check MX bogus.test bogus
check A mx1.bogus.test bogus
check A nx.bogus.test bogus
check TLSA _25._tcp.mx1.bogus.test bogus
check DS bogus-ds.test secure NOERROR 'has DS record'
check MX bogus-ds.test bogus
check A mx1.bogus-ds.test bogus
check MX partbogus.test bogus
check TLSA _25._tcp.mx.partbogus.test bogus
check A mx.partbogus.test secure NOERROR
check A nx.partbogus.test secure NXDOMAIN
# DS with an unknown digest type: insecure, not bogus
check DS unknown-ds.test secure NOERROR 'DS record [0-9]+ 13 99 '
check MX unknown-ds.test insecure NOERROR 'mx\.unknown-ds\.test'
# servers that never answer
check DS dead.test secure NOERROR 'has DS record'
check DS dead-insecure.test secure NODATA
check DS silent.test secure NOERROR 'has DS record'
check MX dead.test servfail
check A mx.dead.test servfail
check MX dead-insecure.test servfail
check MX silent.test servfail
# null MX, no MX
check MX nullmx.test secure NOERROR 'handled by 0 \.'
check MX nomx.test secure NODATA
check A nomx.test secure NOERROR "$(addr nomx.test)"
check TLSA _25._tcp.nomx.test secure NOERROR "3 1 1 $(tlsa_hex nomx.test 1 1)"
# delivery zones
check MX single.test secure NOERROR '10 mx\.single\.test'
check MX three.test secure NOERROR '30 mx3\.three\.test'
check MX equal.test secure NOERROR '20 mx5\.equal\.test'
check MX dup.test secure NOERROR '30 mx1\.dup\.test'
check A mx.multi.test secure NOERROR "$N\\.14\\.2"
check MX many.test secure NOERROR '120 mx12\.many\.test'
check A mxa.many.test secure NOERROR "$N\\.15\\.110"
check MX sender.test secure NOERROR '10 mx\.sender\.test'
# secure MX, hosts of every kind
check MX insec.mxhost.test secure NOERROR 'mx-insec\.insecure\.test'
check A mx-insec.insecure.test insecure NOERROR
check MX bogus.mxhost.test secure NOERROR 'mx1\.bogus\.test'
check MX partial.mxhost.test secure NOERROR '20 mx\.mxhost\.test'
check MX dead.mxhost.test secure NOERROR 'mx\.dead\.test'
check MX nxhost.mxhost.test secure NOERROR 'nx\.secure\.test'
check MX tlsabogus.mxhost.test secure NOERROR 'mx\.partbogus\.test'
check A tlsadead.mxhost.test secure NOERROR
check TLSA _25._tcp.tlsadead.mxhost.test servfail
check A tlsasilent.mxhost.test secure NOERROR
check TLSA _25._tcp.tlsasilent.mxhost.test servfail
check TLSA _25._tcp.mx.mxhost.test secure NOERROR
# CNAME chains
check MX cn-exp.cname.test secure NOERROR 'alias-exp\.cname\.test'
check A alias-exp.cname.test secure NOERROR 'alias for host-exp\.cname2\.test'
check TLSA _25._tcp.host-exp.cname2.test secure NOERROR \
    "3 1 1 $(tlsa_hex host-exp.cname2.test 1 1)"
check TLSA _25._tcp.alias-exp.cname.test secure NXDOMAIN
check A alias-orig.cname.test secure NOERROR 'host-orig\.cname2\.test'
check TLSA _25._tcp.alias-orig.cname.test secure NOERROR \
    "3 1 1 $(tlsa_hex host-orig.cname2.test 1 1)"
check TLSA _25._tcp.host-orig.cname2.test secure NXDOMAIN
check A hop1.cname.test secure NOERROR 'hop2\.cname2\.test.*|host-exp\.cname2\.test'
check A alias-insec.cname.test insecure NOERROR 'alias for host-cn\.insecure\.test'
check CNAME alias-insec.cname.test secure NOERROR 'host-cn\.insecure\.test'
check TLSA _25._tcp.alias-insec.cname.test secure NOERROR
check MX cn-first-insec.cname.test secure NOERROR 'alias\.insecure\.test'
check A alias.insecure.test insecure NOERROR 'host-exp\.cname2\.test'
check A alias-bogus.cname.test bogus
check A alias-nx.cname.test secure NXDOMAIN
check CNAME alias-nx.cname.test secure NOERROR 'nx\.cname2\.test'
check MX dom-alias.cname.test secure NOERROR '10 mx1\.secure\.test'
check TLSA _25._tcp.host-tc.cname.test secure NOERROR \
    "tlsa-target\\.cname2\\.test has TLSA record 3 1 1 $(tlsa_hex host-tc.cname.test 1 1)"
check TLSA _25._tcp.host-ti.cname.test insecure NOERROR 'tlsa-target\.insecure\.test'
check CNAME _25._tcp.host-ti.cname.test secure NOERROR 'tlsa-target\.insecure\.test'
# DANE examples (every form computed here from the certificates)
for s in 0 1; do
	for m in 0 1 2; do
		check TLSA _25._tcp.mx.ee.dane.test secure NOERROR \
		    "3 $s $m $(tlsa_hex mx.ee.dane.test $s $m)"
		check TLSA _25._tcp.mx.ee$s$m.dane.test secure NOERROR \
		    "3 $s $m $(tlsa_hex mx.ee$s$m.dane.test $s $m)"
		check TLSA _25._tcp.mx.ta$s$m.dane.test secure NOERROR \
		    "2 $s $m $(tlsa_hex ca $s $m)"
	done
done
check TLSA _25._tcp.mx.ee.dane.test secure NOERROR "2 1 1 $(tlsa_hex ica 1 1)"
check TLSA _25._tcp.mx.one.dane.test secure NOERROR \
    "3 1 1 $(tlsa_hex mx.one.dane.test 1 1)"
check TLSA _25._tcp.mx.unusable.dane.test secure NOERROR '4 1 1 '
check TLSA _25._tcp.mx.malformed.dane.test secure NOERROR '\\# 3 030101'
check TLSA _25._tcp.mx.expired.dane.test secure NOERROR \
    "3 1 1 $(tlsa_hex mx.expired.dane.test.expired 1 1)"
check TLSA _25._tcp.mx.names.dane.test secure NOERROR "2 1 1 $(tlsa_hex ca 1 1)"
check MX alias.dane.test secure NOERROR 'alias for names\.dane\.test'
check MX names.insecure.test insecure NOERROR 'mx\.names\.dane\.test'

# ------------------------------------------------------------ files

# hosts: one address per line, unique, inside WORLD_NET
dups=$(awk '{ print $2 }' "$W/hosts" | sort | uniq -d)
[ -z "$dups" ] || fail "addresses used twice in hosts: $dups"
awk -v n="$N." 'index($2, n) != 1 { bad = 1 } END { exit bad }' "$W/hosts" ||
    fail "a host address outside $N.0.0/16"
[ "$(addr mx1.secure.test)" = "$N.1.1" ] || fail "hosts lacks mx1.secure.test"
[ "$(grep -c '^mx\.multi\.test ' "$W/hosts")" = 2 ] ||
    fail "hosts: mx.multi.test should have two lines"
ok "hosts: $(wc -l < "$W/hosts") lines, addresses unique"

# every host has a self-signed certificate naming it
while read -r h a; do
	[ -s "$W/certs/$h.crt" ] && [ -s "$W/certs/$h.key" ] &&
	    [ -s "$W/certs/$h.chain.crt" ] || fail "no certificate files for $h"
done < "$W/hosts"
c=$W/certs
openssl x509 -in "$c/mx1.secure.test.crt" -noout -ext subjectAltName |
    grep -q 'DNS:mx1.secure.test' || fail "mx1.secure.test cert lacks its name"
openssl x509 -in "$c/mx1.secure.test.crt" -noout -pubkey |
    grep -q 'BEGIN PUBLIC KEY' || fail "cannot read mx1.secure.test.crt"
[ "$(openssl x509 -in "$c/mx1.secure.test.crt" -noout -pubkey | openssl pkey -pubin -noout -text | head -1)" != "" ] ||
    fail "mx1 key unreadable"
openssl pkey -in "$c/mx1.secure.test.rsa.key" -noout -text | grep -q 'Private-Key: (2048 bit' ||
    fail "mx1.secure.test.rsa is no RSA-2048 key"
openssl pkey -in "$c/mx1.secure.test.key" -noout -text | grep -q 'NIST CURVE: P-256' ||
    fail "mx1.secure.test is no P-256 key"
# keys belong to their certificates
for n in mx1.secure.test mx1.secure.test.rsa mx.names.dane.test.ca ca ica; do
	[ "$(openssl x509 -in "$c/$n.crt" -noout -pubkey)" = \
	    "$(openssl pkey -in "$c/$n.key" -pubout)" ] ||
	    fail "$n.key does not belong to $n.crt"
done
# the CA chain verifies; names and dates are what certs.list says
for n in mx1.secure.test.ca mx.ee.dane.test.ca mx.names.dane.test.ca \
    mx.names.dane.test.nexthop mx.ta11.dane.test mx.taica.dane.test; do
	openssl verify -CAfile "$c/ca.crt" -untrusted "$c/ica.crt" "$c/$n.crt" \
	    > /dev/null 2>&1 || fail "$n does not verify to ca"
	[ "$(grep -c 'BEGIN CERTIFICATE' "$c/$n.chain.crt")" = 3 ] ||
	    fail "$n.chain.crt is not leaf+ica+ca"
done
openssl verify -CAfile "$c/ca.crt" -untrusted "$c/ica.crt" \
    "$c/mx.expired.dane.test.ca-expired.crt" 2>&1 | grep -q 'expired' ||
    fail "mx.expired.dane.test.ca-expired is not expired"
openssl x509 -in "$c/mx1.secure.test.expired.crt" -noout -checkend 0 > /dev/null &&
    fail "mx1.secure.test.expired is not expired"
openssl x509 -in "$c/mx1.secure.test.crt" -noout -checkend 864000 > /dev/null ||
    fail "mx1.secure.test expires within 10 days"
openssl verify -CAfile "$c/ca.crt" "$c/ca.crt" > /dev/null 2>&1 || fail "ca not self-signed"
openssl verify -CAfile "$c/otherca.crt" -untrusted "$c/ica.crt" \
    "$c/mx1.secure.test.ca.crt" > /dev/null 2>&1 && fail "otherca verifies ca's leaf"
openssl x509 -in "$c/mx1.secure.test.nomatch.crt" -noout -ext subjectAltName |
    grep -q 'DNS:wrong.example' || fail "nomatch cert names"
openssl x509 -in "$c/mx.names.dane.test.partial.crt" -noout -ext subjectAltName |
    grep -q 'DNS:m\*.names.dane.test' || fail "partial wildcard cert names"
[ "$(openssl x509 -in "$c/mx1.secure.test.wrongkey.crt" -noout -pubkey)" != \
    "$(openssl x509 -in "$c/mx1.secure.test.crt" -noout -pubkey)" ] ||
    fail "wrongkey has the right key"
ok "certificates: chains, keys, names, dates"

# root.key is the fake root's KSK (a DNSKEY 257 record)
grep -Eq '^\.[[:space:]]+([0-9]+[[:space:]]+)?IN[[:space:]]+DNSKEY[[:space:]]+257 3 13 ' "$W/root.key" ||
    fail "root.key is no DNSKEY 257 for . : $(cat "$W/root.key")"
ok "root.key is the root KSK"
for k in 'do-not-query-localhost: no' 'local-zone: "test." nodefault' \
    "trust-anchor-file: \"$W/root.key\"" "stub-addr: $WORLD_NS" \
    'infra-cache-max-rtt:' 'outbound-msg-retry:' 'cache-max-ttl:'; do
	grep -qF -- "$k" "$W/unbound.conf" || fail "unbound.conf lacks $k"
done
ok "unbound.conf has the settings of WORLD-SPEC"

# signature windows: every RRSIG valid from at least an hour ago to at
# least 20 days ahead (fresh on every run, never expiring between runs)
now=$(date -u +%Y%m%d%H%M%S)
lo=$(date -u -d '-1 hour' +%Y%m%d%H%M%S)
hi=$(date -u -d '+20 days' +%Y%m%d%H%M%S)
n=$(cat "$W"/zones/*.signed | awk -v lo="$lo" -v hi="$hi" '
	$4 == "RRSIG" { n++; if ($9 < hi || $10 > lo) { print "bad window: " $0 > "/dev/stderr"; bad = 1 } }
	END { print n + 0; exit bad }') || fail "RRSIG outside the window [$lo, $hi]"
[ "$n" -gt 100 ] || fail "only $n RRSIGs in the zones"
ok "$n RRSIGs valid from before $lo to after $hi (now $now)"

# ------------------------------------------------------------ restarts

# A private world on addresses of this test: start, refuse a second start,
# stop, start again (new keys), stop twice; nothing left running.
P=$T/private
export WORLD_NS=$NET.53 WORLD_NET=127.$((200 + TEST_INDEX % 50))
"$MKWORLD" start "$P" > "$T/p1.log" 2>&1 || { cat "$T/p1.log"; fail "private world start 1"; }
pid1=$(cat "$P/nsd.pid")
spid1=$(cat "$P/silent.pid")
track "$pid1"
track "$spid1"
W=$P W_ID=private
check MX secure.test secure NOERROR '10 mx1\.secure\.test'
key1=$(cat "$P/root.key")
ds1=$(grep 'secure.test.*DS' "$P/zones/test.zone")
if "$MKWORLD" start "$P" > "$T/p2.log" 2>&1; then
	fail "a second start on a running world succeeded"
fi
grep -q 'already running' "$T/p2.log" || fail "second start: $(cat "$T/p2.log")"
kill -0 "$pid1" || fail "the refused start stopped the running world"
ok "a second start on a running world is refused"
"$MKWORLD" stop "$P" || fail "private world stop 1"
kill -0 "$pid1" 2>/dev/null && fail "nsd $pid1 still runs after stop"
kill -0 "$spid1" 2>/dev/null && fail "silent server $spid1 still runs after stop"
untrack "$pid1"
untrack "$spid1"
"$MKWORLD" start "$P" > "$T/p3.log" 2>&1 || { cat "$T/p3.log"; fail "private world start 2"; }
pid2=$(cat "$P/nsd.pid")
spid2=$(cat "$P/silent.pid")
track "$pid2"
track "$spid2"
check MX secure.test secure NOERROR '10 mx1\.secure\.test'
check MX bogus.test bogus
[ "$(cat "$P/root.key")" != "$key1" ] || fail "the root key did not change"
[ "$(grep 'secure.test.*DS' "$P/zones/test.zone")" != "$ds1" ] ||
    fail "secure.test's DS did not change"
ok "restarted with fresh keys"
"$MKWORLD" stop "$P" || fail "private world stop 2"
"$MKWORLD" stop "$P" || fail "a second stop failed"
kill -0 "$pid2" 2>/dev/null && fail "nsd $pid2 still runs after stop"
kill -0 "$spid2" 2>/dev/null && fail "silent server still runs after stop"
untrack "$pid2"
untrack "$spid2"
ok "stop is idempotent and leaves nothing running"
echo "PASS t_world"
