#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_tlsa_cmd: `danerelay tlsa` prints the TLSA records to publish (RFC 6698
# 2.1, RFC 7671 8.1 current + next). Every digest is compared with the
# openssl pipelines operators run by hand, for RSA and ECDSA keys, both
# selectors and all three matching types; usage 2 labels root and
# intermediate; a rollover prints current and next; bad input exits 2
# with a reason. Needs no daemon and no DNS.
. "$(dirname "$0")/lib.sh"

cd "$T" || fail "cd $T"
ossl() { openssl "$@" 2>/dev/null || fail "openssl $*"; }

# A private CA (root, intermediate) and leaves with RSA and ECDSA keys.
mk_key() {	# FILE rsa|ec
	if [ "$2" = rsa ]; then ossl genpkey -algorithm RSA -pkeyopt rsa_keygen_bits:2048 -out "$1"
	else ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1"; fi
}
mk_key root.key ec
ossl req -x509 -new -key root.key -subj "/CN=Test Root" -days 30 -out root.pem \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign
mk_key int.key ec
ossl req -new -key int.key -subj "/CN=Test Intermediate" -out int.csr
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign\n' > ca.ext
ossl x509 -req -in int.csr -CA root.pem -CAkey root.key -CAcreateserial -days 30 \
    -extfile ca.ext -out int.pem
printf 'subjectAltName=DNS:mx1.example.test\n' > leaf.ext
for alg in rsa ec; do
	mk_key "$alg.key" "$alg"
	ossl req -new -key "$alg.key" -subj "/CN=mx1.example.test" -out "$alg.csr"
	ossl x509 -req -in "$alg.csr" -CA int.pem -CAkey int.key -CAcreateserial \
	    -days 30 -extfile leaf.ext -out "$alg.pem"
	cat "$alg.pem" int.pem root.pem > "$alg-chain.pem"
done

# der SELECTOR CERT: the DER the record is computed over, by openssl.
der() {
	if [ "$1" = 1 ]; then
		openssl x509 -noout -pubkey -in "$2" | openssl pkey -pubin -outform DER
	else
		openssl x509 -outform DER -in "$2"
	fi
}
# want MTYPE: association data of stdin, as the how-to's pipelines give it.
want() {
	case $1 in
	0) od -An -v -tx1 | tr -d ' \n' ;;
	1) openssl sha256 -r | cut -d' ' -f1 ;;
	2) openssl sha512 -r | cut -d' ' -f1 ;;
	esac
}
# got ARGS...: the data field of the single TLSA line printed.
got() {
	"$BIN" tlsa "$@" > out.txt 2> err.txt || { cat err.txt; fail "tlsa $* exited $?"; }
	[ "$(grep -c ' IN TLSA ' out.txt)" = 1 ] || { cat out.txt; fail "tlsa $*: not one record"; }
	awk '/ IN TLSA /{ print $NF }' out.txt
}

for alg in rsa ec; do
	for sel in 0 1; do
		for mt in 0 1 2; do
			w=$(der "$sel" "$alg.pem" | want "$mt")
			g=$(got --selector "$sel" --mtype "$mt" "$alg.pem")
			[ -n "$w" ] && [ "$g" = "$w" ] ||
			    fail "$alg 3 $sel $mt: got $g, openssl says $w"
			grep -q "^_25\._tcp\.mx1\.example\.test\. 3600 IN TLSA 3 $sel $mt $w\$" out.txt ||
			    { cat out.txt; fail "$alg 3 $sel $mt: record line"; }
		done
	done
	ok "$alg leaf: 3 0|1 0|1|2 equal the openssl pipelines"
done

# The default is 3 1 1 for the leaf, owner from the certificate's name.
"$BIN" tlsa --host MX.Example.TEST. --port 2525 --ttl 1800 ec.pem > out.txt || fail "tlsa --host"
w=$(der 1 ec.pem | want 1)
grep -q "^_2525\._tcp\.mx\.example\.test\. 1800 IN TLSA 3 1 1 $w\$" out.txt ||
    { cat out.txt; fail "--host/--port/--ttl"; }
ok "--host, --port and --ttl shape the owner and TTL; 3 1 1 by default"

# Usage 2: one record per issuer, the intermediate marked as the one to publish.
"$BIN" tlsa --usage 2 ec-chain.pem > out.txt || { cat out.txt; fail "tlsa --usage 2"; }
wi=$(der 1 int.pem | want 1); wr=$(der 1 root.pem | want 1)
grep -q "IN TLSA 2 1 1 $wi\$" out.txt || { cat out.txt; fail "2 1 1 for the intermediate"; }
grep -q "IN TLSA 2 1 1 $wr\$" out.txt || { cat out.txt; fail "2 1 1 for the root"; }
grep -q "depth 1: CN=Test Intermediate (intermediate" out.txt || { cat out.txt; fail "intermediate label"; }
grep -q "depth 2: CN=Test Root (root)" out.txt || { cat out.txt; fail "root label"; }
ok "usage 2 prints the intermediate's and the root's records, labelled"

# Current + next: a next certificate with a new key, and a bare next key.
ossl pkey -in rsa.key -pubout -out rsa.pub
"$BIN" tlsa ec.pem rsa.pem > out.txt || fail "tlsa current next"
grep -q "IN TLSA 3 1 1 $(der 1 ec.pem | want 1)\$" out.txt &&
    grep -q "IN TLSA 3 1 1 $(der 1 rsa.pem | want 1)\$" out.txt &&
    grep -q "^; next certificate: CN=mx1.example.test" out.txt ||
    { cat out.txt; fail "current + next certificate"; }
for k in rsa.key rsa.pub; do
	"$BIN" tlsa ec.pem --next-key "$k" > out.txt || fail "tlsa --next-key $k"
	[ "$(grep -c ' IN TLSA 3 1 1 ' out.txt)" = 2 ] &&
	    grep -q "IN TLSA 3 1 1 $(der 1 rsa.pem | want 1)\$" out.txt ||
	    { cat out.txt; fail "--next-key $k"; }
done
ok "current + next: a next certificate, a next private or public key"

# Renewal with the same key: one record covers both.
ossl x509 -req -in ec.csr -CA int.pem -CAkey int.key -CAcreateserial -days 60 \
    -extfile leaf.ext -out ec-renewed.pem
"$BIN" tlsa ec.pem ec-renewed.pem > out.txt || fail "tlsa same key"
[ "$(grep -c ' IN TLSA ' out.txt)" = 1 ] && grep -q "keeps the current key" out.txt ||
    { cat out.txt; fail "same-key renewal"; }
ok "a renewal that keeps the key prints one record and says so"

# Bad input: exit 2, a reason on stderr, nothing on stdout.
expect_bad() {	# PATTERN ARGS...
	local pat=$1 rc
	shift
	"$BIN" tlsa "$@" > out.txt 2> err.txt
	rc=$?
	[ "$rc" = 2 ] || fail "tlsa $*: exit $rc, want 2"
	grep -q -- "$pat" err.txt || { cat err.txt; fail "tlsa $*: stderr lacks '$pat'"; }
	grep -q ' IN TLSA ' out.txt && fail "tlsa $*: printed a record"
	ok "tlsa $*: exit 2, '$pat'"
}
echo "not a certificate" > junk.pem
cat rsa.pem root.pem > wrong-chain.pem
expect_bad "no PEM certificate" junk.pem
expect_bad "cannot read" "$T/missing.pem"
expect_bad "did not issue" --usage 2 wrong-chain.pem
expect_bad "needs the issuing certificates" --usage 2 ec.pem
expect_bad "the next key is the current one" ec.pem --next-key ec.key
expect_bad "no PEM key" ec.pem --next-key junk.pem
expect_bad "usages 0 and 1 are not for SMTP" --usage 1 ec.pem
expect_bad "needs --selector 1" --selector 0 ec.pem --next-key rsa.key
expect_bad "not a host name" --host 'bad host' ec.pem
expect_bad "usage:" ec.pem rsa.pem int.pem

# Under usage 3 a broken chain is a warning: the leaf's record still prints.
"$BIN" tlsa wrong-chain.pem > out.txt 2> err.txt || fail "usage 3, broken chain: exit $?"
grep -q "did not issue.*warning only" err.txt &&
    grep -q "IN TLSA 3 1 1 $(der 1 rsa.pem | want 1)\$" out.txt ||
    { cat out.txt err.txt; fail "usage 3 with a broken chain"; }
ok "usage 3 with a broken chain file: the leaf's record and a warning"
exit 0
