#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_resolve_world: resolver/ against the DNS test world, one assertion set
# per case of tests/world/README.md - DNSSEC state, records, CNAME target and chain
# security, null MX, implicit MX, NXDOMAIN vs NODATA (secure and insecure),
# bogus (signature and DS), dead server. A bogus or unanswered lookup must
# never read as insecure, NODATA or NXDOMAIN. Drives the resolver through
# tests/tools/resolve_probe (key=value lines).
. "$(dirname "$0")/lib.sh"

PROBE=$B/tests/tools/resolve_probe
[ -x "$PROBE" ] || fail "missing $PROBE (make asan-build)"

# Use the shared world (tests/run) or build one for this run alone.
if [ -z "${WORLD_DIR:-}" ] || [ ! -f "$WORLD_DIR/unbound.conf" ]; then
	WORLD_DIR=$T/world
	"$top/tests/world/mkworld" start "$WORLD_DIR" || fail "mkworld start"
	trap '"$top/tests/world/mkworld" stop "$WORLD_DIR"; cleanup' EXIT
fi

# ---- names in the world (tests/world/zones.d/*.zone) ----
SEC=secure.test			# secure: MX 10 mx1, MX 20 mx2
SEC_MX1=mx1.secure.test		# A only, TLSA 3 1 1 at _25._tcp
SEC_MX2=mx2.secure.test		# A + AAAA, TLSA
INS=insecure.test		# insecure delegation (no DS, NSEC3 proof)
INS_MX=mx1.insecure.test	# A, TLSA (insecure)
UNKNOWN_DS=unknown-ds.test	# DS of an unknown digest type: insecure, not bogus
BOG_SIG=bogus.test		# every RRSIG broken (data, NODATA, NXDOMAIN)
BOG_SIG_HOST=mx1.bogus.test
PART_BOGUS=partbogus.test	# MX and TLSA signatures broken, A fine
BOG_DS=bogus-ds.test		# DS matching no key
DEAD=dead.test			# DS, server never reachable
DEAD_INS=dead-insecure.test	# no DS, server never reachable
TLSA_DEAD=tlsadead.mxhost.test	# secure A, _tcp. delegated (no DS) to a dead server
CN_EXP=alias-exp.cname.test	# secure CNAME -> host-exp.cname2.test
CN_EXP_T=host-exp.cname2.test
CN_2HOP=hop1.cname.test		# two secure hops -> host-exp.cname2.test
CN_INSEC=alias-insec.cname.test	# secure first link -> host-cn.insecure.test
CN_INSEC_T=host-cn.insecure.test
CN_FIRST_INSEC=alias.insecure.test	# insecure first link -> host-exp.cname2.test
CN_BOGUS=alias-bogus.cname.test	# secure CNAME -> mx1.bogus.test (bogus)
CN_NX=alias-nx.cname.test	# secure CNAME -> nx.cname2.test (NXDOMAIN)
DOM_ALIAS=dom-alias.cname.test	# the domain is a CNAME to secure.test
TLSA_CN_SEC=host-tc.cname.test	# _25._tcp CNAME -> tlsa-target.cname2.test (secure)
TLSA_CN_INS=host-ti.cname.test	# _25._tcp CNAME -> tlsa-target.insecure.test
NULLMX=nullmx.test		# secure MX 0 .
NULLMX_INS=nullmx.insecure.test
NOMX=nomx.test			# secure, no MX, A
NOMX_INS=nomx.insecure.test
NX_SEC=nx.secure.test
NX_INS=nx.insecure.test
DUP=dup.test			# mx1 at 10, 30, 40 and mx2 at 20
EQUAL=equal.test		# mx1..mx4 at 10, mx5 at 20
MANY=many.test			# 12 hosts

probe() {	# probe NAME ARGS...: output in $T/NAME.out
	local n=$1
	shift
	"$PROBE" -C "$WORLD_DIR/unbound.conf" -T "$WORLD_DIR/root.key" "$@" \
	    > "$T/$n.out" 2> "$T/$n.err"
	local st=$?
	[ "$st" -eq 0 ] || { cat "$T/$n.out" "$T/$n.err"; fail "probe $* exited $st"; }
}

expect() {	# expect NAME PATTERN: a line of $T/NAME.out matches
	grep -Eq -- "$2" "$T/$1.out" || { cat "$T/$1.out"; fail "$1: no line /$2/"; }
	ok "$1: /$2/"
}

expect_not() {	# expect_not NAME PATTERN
	if grep -Eq -- "$2" "$T/$1.out"; then
		cat "$T/$1.out"
		fail "$1: has a line /$2/"
	fi
	ok "$1: no /$2/"
}

addr_of() {	# the world's address for a host name
	awk -v n="$1" '$1 == n || $1 == n"." { print $2; exit }' "$WORLD_DIR/hosts"
}

# A failed lookup: state, no answer, never insecure/nodata/nxdomain.
expect_failed() {	# NAME TAG STATE
	expect "$1" "^$2 .* state=$3 answer=none .*answered=0"
	expect_not "$1" "^$2 .*(state=(secure|insecure)|answer=(data|nodata|nxdomain))"
}

tlsa_311() {	# the "3 1 1" data for a world certificate
	openssl x509 -in "$WORLD_DIR/certs/$1.crt" -noout -pubkey |
	    openssl pkey -pubin -outform DER | openssl dgst -sha256 -r | cut -d' ' -f1
}

# --- validation works with the world's anchor ---
probe check check
expect check "^check ok=1 detail=DNSKEY \.: secure"

# --- secure zone: MX, A, AAAA, TLSA, NODATA, NXDOMAIN ---
probe mx_sec mx $SEC 1
expect mx_sec "^mxresult type=MX qname=$SEC state=secure answer=data rcode=0 cname=0 .*nrr=2 malformed=0 answered=1"
expect mx_sec "^mxresult rr MX 10 $SEC_MX1$"
expect mx_sec "^mxresult rr MX 20 $SEC_MX2$"
expect mx_sec "^mx status=hosts state=secure domain=$SEC .*nhosts=2 hosts=$SEC_MX1:10,$SEC_MX2:20$"

probe host_sec host $SEC_MX1
expect host_sec "^host name=$SEC_MX1 canon=$SEC_MX1 cname=0 chain_secure=0 first_link_secure=0 first_link=none"
expect host_sec "^a type=A qname=$SEC_MX1 state=secure answer=data rcode=0 cname=0 .*nrr=1 "
a=$(addr_of $SEC_MX1)
[ -n "$a" ] || fail "no address for $SEC_MX1 in $WORLD_DIR/hosts"
expect host_sec "^a rr A $a$"
expect host_sec "^aaaa type=AAAA qname=$SEC_MX1 state=secure answer=nodata rcode=0 .*nrr=0 .*answered=1"

probe host_sec2 host $SEC_MX2
expect host_sec2 "^a type=A qname=$SEC_MX2 state=secure answer=data"
expect host_sec2 "^a rr A $(addr_of $SEC_MX2)$"
expect host_sec2 "^aaaa type=AAAA qname=$SEC_MX2 state=secure answer=data"
expect host_sec2 "^aaaa rr AAAA ::1$"

probe tlsa_sec tlsa 25 $SEC_MX1
expect tlsa_sec "^result type=TLSA qname=_25\._tcp\.$SEC_MX1 state=secure answer=data rcode=0 cname=0 .*nrr=1 "
expect tlsa_sec "^result rr TLSA 3 1 1 $(tlsa_311 $SEC_MX1) usable=1$"
probe tlsa_sec_2525 tlsa 2525 $SEC_MX1
expect tlsa_sec_2525 "^result type=TLSA qname=_2525\._tcp\.$SEC_MX1 state=secure answer=data"
expect tlsa_sec_2525 "^result rr TLSA 3 1 1 $(tlsa_311 $SEC_MX1.rsa) usable=1$"
probe tlsa_sec_nx tlsa 25 notlsa.$SEC
expect tlsa_sec_nx "^result type=TLSA qname=_25\._tcp\.notlsa\.$SEC state=secure answer=nxdomain rcode=3 .*answered=1"
probe tlsa_sec_nodata tlsa 25 nodata.$SEC
expect tlsa_sec_nodata "^result type=TLSA qname=_25\._tcp\.nodata\.$SEC state=secure answer=nodata rcode=0 .*answered=1"
probe nx_sec lookup A $NX_SEC
expect nx_sec "^result type=A qname=$NX_SEC state=secure answer=nxdomain rcode=3 .*answered=1"

# --- insecure delegation ---
probe mx_ins mx $INS 1
expect mx_ins "^mxresult type=MX qname=$INS state=insecure answer=data"
expect mx_ins "^mx status=hosts state=insecure domain=$INS .*hosts=$INS_MX:10$"
probe host_ins host $INS_MX
expect host_ins "^a type=A qname=$INS_MX state=insecure answer=data"
expect host_ins "^a rr A $(addr_of $INS_MX)$"
expect host_ins "^aaaa type=AAAA qname=$INS_MX state=insecure answer=nodata rcode=0"
probe tlsa_ins tlsa 25 $INS_MX
expect tlsa_ins "^result type=TLSA qname=_25\._tcp\.$INS_MX state=insecure answer=data"
expect tlsa_ins "^result rr TLSA 3 1 1 $(tlsa_311 $INS_MX) usable=1$"
probe tlsa_ins_nx tlsa 25 mx2.$INS
expect tlsa_ins_nx "^result type=TLSA .* state=insecure answer=nxdomain rcode=3"
probe tlsa_ins_nodata tlsa 25 nodata.$INS
expect tlsa_ins_nodata "^result type=TLSA .* state=insecure answer=nodata rcode=0"
probe nx_ins lookup A $NX_INS
expect nx_ins "^result type=A qname=$NX_INS state=insecure answer=nxdomain rcode=3 .*answered=1"
probe unknown_ds mx $UNKNOWN_DS
expect unknown_ds "^mxresult type=MX qname=$UNKNOWN_DS state=insecure answer=data"

# --- null MX, no MX, a domain that does not exist ---
probe nullmx mx $NULLMX
expect nullmx "^mxresult rr MX 0 \.$"
expect nullmx "^mx status=null state=secure domain=$NULLMX .*nhosts=0 hosts=$"
probe nullmx_ins mx $NULLMX_INS
expect nullmx_ins "^mx status=null state=insecure .*nhosts=0 hosts=$"
probe nomx mx $NOMX
expect nomx "^mxresult type=MX qname=$NOMX state=secure answer=nodata"
expect nomx "^mx status=implicit state=secure domain=$NOMX .*nhosts=1 hosts=$NOMX:0$"
probe nomx_ins mx $NOMX_INS
expect nomx_ins "^mx status=implicit state=insecure domain=$NOMX_INS .*hosts=$NOMX_INS:0$"
probe mx_nx mx $NX_SEC
expect mx_nx "^mx status=nxdomain state=secure domain=$NX_SEC .*nhosts=0"
probe mx_nx_ins mx $NX_INS
expect mx_nx_ins "^mx status=nxdomain state=insecure .*nhosts=0"

# --- MX processing on real answers: merge, shuffle, order ---
probe dup mx $DUP 1
expect dup "^mx status=hosts state=secure domain=$DUP .*nhosts=2 hosts=mx1\.$DUP:10,mx2\.$DUP:20$"
for seed in 1 2 3 4 5 6 7 8; do
	probe equal_$seed mx $EQUAL $seed
	expect equal_$seed "^mx status=hosts .*nhosts=5 hosts=(mx[1-4]\.$EQUAL:10,){4}mx5\.$EQUAL:20$"
	sed -n 's/^mx .*hosts=//p' "$T/equal_$seed.out" >> "$T/equal.orders"
done
[ "$(sort -u "$T/equal.orders" | wc -l)" -gt 1 ] || fail "equal preferences never shuffled"
ok "equal preferences shuffled ($(sort -u "$T/equal.orders" | wc -l) orders in 8 seeds)"
probe many mx $MANY 1
expect many "^mx status=hosts state=secure .*nhosts=12 hosts=mx01\.$MANY:10,mx02"

# --- CNAME chains ---
probe cn_exp host $CN_EXP
expect cn_exp "^host name=$CN_EXP canon=$CN_EXP_T cname=1 chain_secure=1 first_link_secure=1 first_link=none"
expect cn_exp "^a type=A qname=$CN_EXP state=secure answer=data rcode=0 cname=1 canon=$CN_EXP_T"
expect cn_exp "^a rr A $(addr_of $CN_EXP_T)$"
probe cn_2hop host $CN_2HOP
expect cn_2hop "^host name=$CN_2HOP canon=$CN_EXP_T cname=1 chain_secure=1 first_link_secure=1"

probe cn_insec host $CN_INSEC
expect cn_insec "^host name=$CN_INSEC canon=$CN_INSEC_T cname=1 chain_secure=0 first_link_secure=1 first_link=secure"
expect cn_insec "^a type=A qname=$CN_INSEC state=insecure answer=data rcode=0 cname=1 canon=$CN_INSEC_T"
expect cn_insec "^first_link type=CNAME qname=$CN_INSEC state=secure answer=data"
expect cn_insec "^first_link rr CNAME $CN_INSEC_T$"

probe cn_first_insec host $CN_FIRST_INSEC
expect cn_first_insec "^host name=$CN_FIRST_INSEC canon=$CN_EXP_T cname=1 chain_secure=0 first_link_secure=0 first_link=insecure"
expect cn_first_insec "^a type=A qname=$CN_FIRST_INSEC state=insecure answer=data"

probe cn_bogus host $CN_BOGUS
expect_failed cn_bogus a bogus
expect cn_bogus "^host name=$CN_BOGUS .*chain_secure=0 first_link_secure=0"

probe cn_nx host $CN_NX
expect cn_nx "^host name=$CN_NX canon=nx\.cname2\.test cname=1 chain_secure=1"
expect cn_nx "^a type=A qname=$CN_NX state=secure answer=nxdomain rcode=3 cname=1"

probe dom_alias mx $DOM_ALIAS 1
expect dom_alias "^mxresult type=MX qname=$DOM_ALIAS state=secure answer=data rcode=0 cname=1 canon=$SEC "
expect dom_alias "^mx status=hosts state=secure domain=$DOM_ALIAS canon=$SEC nhosts=2"

probe tlsa_cn_sec tlsa 25 $TLSA_CN_SEC
expect tlsa_cn_sec "^result type=TLSA qname=_25\._tcp\.$TLSA_CN_SEC state=secure answer=data rcode=0 cname=1 canon=tlsa-target\.cname2\.test "
expect tlsa_cn_sec "^result rr TLSA 3 1 1 $(tlsa_311 $TLSA_CN_SEC) usable=1$"
probe tlsa_cn_ins tlsa 25 $TLSA_CN_INS
expect tlsa_cn_ins "^result type=TLSA qname=_25\._tcp\.$TLSA_CN_INS state=insecure answer=data rcode=0 cname=1 canon=tlsa-target\.insecure\.test "

# --- bogus: broken signatures, DS matching no key ---
probe bog_mx mx $BOG_SIG
expect_failed bog_mx mxresult bogus
expect bog_mx "^mx status=error state=bogus .*nhosts=0 hosts=$"
probe bog_host host $BOG_SIG_HOST
expect_failed bog_host a bogus
expect_failed bog_host aaaa bogus
expect bog_host "reason=validation failure <$BOG_SIG_HOST\. A IN>"
probe bog_nx lookup A nx.$BOG_SIG
expect_failed bog_nx result bogus
probe bog_tlsa tlsa 25 $BOG_SIG_HOST
expect_failed bog_tlsa result bogus
probe part_mx mx $PART_BOGUS
expect_failed part_mx mxresult bogus
expect part_mx "^mx status=error state=bogus"
probe part_host host mx.$PART_BOGUS
expect part_host "^a type=A qname=mx\.$PART_BOGUS state=secure answer=data"
probe part_tlsa tlsa 25 mx.$PART_BOGUS
expect_failed part_tlsa result bogus
probe bog_ds mx $BOG_DS
expect_failed bog_ds mxresult bogus
expect bog_ds "^mx status=error state=bogus .*nhosts=0 hosts=$"
expect bog_ds "reason=validation failure <$BOG_DS\. MX IN>"
probe bog_ds_nx lookup A nonexistent.$BOG_DS
expect_failed bog_ds_nx result bogus

# --- dead servers: indeterminate, never insecure/NODATA/NXDOMAIN ---
probe dead mx $DEAD
expect_failed dead mxresult indeterminate
expect dead "^mx status=error state=indeterminate .*nhosts=0"
probe dead_a host www.$DEAD
expect_failed dead_a a indeterminate
expect_failed dead_a aaaa indeterminate
probe dead_ins mx $DEAD_INS
expect_failed dead_ins mxresult indeterminate
expect dead_ins "^mx status=error state=indeterminate .*nhosts=0"
probe dead_ins_a lookup A mx.$DEAD_INS
expect_failed dead_ins_a result indeterminate
probe tlsa_dead tlsa 25 $TLSA_DEAD
expect_failed tlsa_dead result indeterminate
probe tlsa_dead_host host $TLSA_DEAD
expect tlsa_dead_host "^a type=A qname=$TLSA_DEAD state=secure answer=data"

# --- a wrong trust anchor: validation does not work, nothing is secure ---
(cd "$T" && ldns-keygen -a ECDSAP256SHA256 -k . > kname) || fail "ldns-keygen"
ldns-key2ds -n -2 "$T/$(cat "$T/kname").key" > "$T/wrong.key" || fail "ldns-key2ds"
grep -v '^[[:space:]]*trust-anchor' "$WORLD_DIR/unbound.conf" > "$T/unbound-wrong.conf"
grep -q '^stub-zone' "$T/unbound-wrong.conf" || fail "world unbound.conf has no stub-zone"
"$PROBE" -C "$T/unbound-wrong.conf" -T "$T/wrong.key" check > "$T/wrong.out" 2>&1
expect wrong "^check ok=0 detail=DNSKEY \.: bogus"
"$PROBE" -C "$T/unbound-wrong.conf" -T "$T/wrong.key" mx $SEC > "$T/wrong_mx.out" 2>&1
expect_failed wrong_mx mxresult bogus

# --- a missing trust anchor is a start-up error ---
"$PROBE" -C "$WORLD_DIR/unbound.conf" -T "$T/no-such.key" check > "$T/nota.out" 2>&1
st=$?
[ "$st" -eq 2 ] || { cat "$T/nota.out"; fail "missing trust anchor: exit $st, want 2"; }
expect nota "^error trust anchor file $T/no-such.key: No such file"

echo "PASS"
