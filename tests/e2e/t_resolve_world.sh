#!/bin/bash
# t_resolve_world: resolver/ against the DNS test world, one assertion set
# per case of issue 3 - DNSSEC state, records, CNAME target and chain
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

# ---- names in the world (tests/world/README.md) ----
SEC=sec.test			# secure zone: MX 10 mx1, MX 20 mx2
SEC_MX1=mx1.sec.test		# A + AAAA, TLSA 3 1 1 at _25._tcp
SEC_MX2=mx2.sec.test		# A only, no TLSA
INS=ins.test			# insecure delegation (no DS)
INS_MX=mx.ins.test		# A, TLSA (insecure)
BOG_SIG_HOST=mx.bog.test	# A with a broken RRSIG, in a secure zone
BOG_SIG=bog.test		# its zone: MX secure, the host A bogus
BOG_DS=bds.test			# DS matching no key: everything bogus
DEAD=dead.test			# delegated to a server that never answers
CNAME_SEC=alias.sec.test	# secure CNAME -> $SEC_MX1
CNAME_INS=alias2.sec.test	# secure first link -> $INS_MX (insecure)
TLSA_ALIAS=talias.sec.test	# _25._tcp.$TLSA_ALIAS CNAME -> _25._tcp.$SEC_MX1
NULLMX=null.sec.test		# MX 0 .
NOMX=nomx.sec.test		# A, no MX
NX_SEC=nx.sec.test		# does not exist (secure denial)
NX_INS=nx.ins.test		# does not exist (insecure zone)

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

# --- validation works with the world's anchor ---
probe check check
expect check "^check ok=1 detail=DNSKEY \.: secure"

# --- secure zone: MX, A, AAAA, TLSA ---
probe mx_sec mx $SEC 1
expect mx_sec "^mxresult type=MX qname=$SEC state=secure answer=data rcode=0 cname=0 .*nrr=2 malformed=0 answered=1"
expect mx_sec "^mxresult rr MX 10 $SEC_MX1$"
expect mx_sec "^mxresult rr MX 20 $SEC_MX2$"
expect mx_sec "^mx status=hosts state=secure domain=$SEC .*nhosts=2 hosts=$SEC_MX1:10,$SEC_MX2:20$"

probe host_sec host $SEC_MX1
expect host_sec "^host name=$SEC_MX1 canon=$SEC_MX1 cname=0 chain_secure=0 first_link_secure=0 first_link=none"
expect host_sec "^a type=A qname=$SEC_MX1 state=secure answer=data rcode=0 cname=0"
a=$(addr_of $SEC_MX1)
[ -n "$a" ] || fail "no address for $SEC_MX1 in $WORLD_DIR/hosts"
expect host_sec "^a rr A $a$"
expect host_sec "^aaaa type=AAAA qname=$SEC_MX1 state=secure answer=data"

probe host_sec2 host $SEC_MX2
expect host_sec2 "^a type=A qname=$SEC_MX2 state=secure answer=data"
expect host_sec2 "^aaaa type=AAAA qname=$SEC_MX2 state=secure answer=nodata rcode=0 .*nrr=0 .*answered=1"

probe tlsa_sec tlsa 25 $SEC_MX1
expect tlsa_sec "^result type=TLSA qname=_25\._tcp\.$SEC_MX1 state=secure answer=data rcode=0 cname=0"
expect tlsa_sec "^result rr TLSA 3 1 1 [0-9a-f]{64} usable=1$"

probe tlsa_sec2 tlsa 25 $SEC_MX2
expect tlsa_sec2 "^result type=TLSA qname=_25\._tcp\.$SEC_MX2 state=secure answer=(nxdomain|nodata) "

# --- insecure delegation ---
probe mx_ins mx $INS 1
expect mx_ins "^mxresult type=MX qname=$INS state=insecure answer=data"
expect mx_ins "^mx status=hosts state=insecure domain=$INS .*hosts=$INS_MX:10$"
probe host_ins host $INS_MX
expect host_ins "^a type=A qname=$INS_MX state=insecure answer=data"
expect host_ins "^a rr A $(addr_of $INS_MX)$"
probe tlsa_ins tlsa 25 $INS_MX
expect tlsa_ins "^result type=TLSA qname=_25\._tcp\.$INS_MX state=insecure answer=data"

# --- NXDOMAIN vs NODATA, secure and insecure ---
probe nx_sec lookup A $NX_SEC
expect nx_sec "^result type=A qname=$NX_SEC state=secure answer=nxdomain rcode=3 .*answered=1"
probe nx_ins lookup A $NX_INS
expect nx_ins "^result type=A qname=$NX_INS state=insecure answer=nxdomain rcode=3 .*answered=1"
probe nodata_sec lookup AAAA $SEC_MX2
expect nodata_sec "^result type=AAAA qname=$SEC_MX2 state=secure answer=nodata rcode=0"
probe nodata_ins lookup AAAA $INS_MX
expect nodata_ins "^result type=AAAA qname=$INS_MX state=insecure answer=nodata rcode=0"

# --- null MX, no MX, domain that does not exist ---
probe nullmx mx $NULLMX
expect nullmx "^mxresult rr MX 0 \.$"
expect nullmx "^mx status=null state=secure domain=$NULLMX .*nhosts=0 hosts=$"
probe nomx mx $NOMX
expect nomx "^mxresult type=MX qname=$NOMX state=secure answer=nodata"
expect nomx "^mx status=implicit state=secure domain=$NOMX .*nhosts=1 hosts=$NOMX:0$"
probe mx_nx mx $NX_SEC
expect mx_nx "^mx status=nxdomain state=secure domain=$NX_SEC .*nhosts=0"
probe mx_nx_ins mx $NX_INS
expect mx_nx_ins "^mx status=nxdomain state=insecure .*nhosts=0"

# --- CNAME chains ---
probe cname_sec host $CNAME_SEC
expect cname_sec "^host name=$CNAME_SEC canon=$SEC_MX1 cname=1 chain_secure=1 first_link_secure=1 first_link=none"
expect cname_sec "^a type=A qname=$CNAME_SEC state=secure answer=data rcode=0 cname=1 canon=$SEC_MX1"
expect cname_sec "^a rr A $(addr_of $SEC_MX1)$"

probe cname_ins host $CNAME_INS
expect cname_ins "^host name=$CNAME_INS canon=$INS_MX cname=1 chain_secure=0 first_link_secure=1 first_link=secure"
expect cname_ins "^a type=A qname=$CNAME_INS state=insecure answer=data rcode=0 cname=1 canon=$INS_MX"
expect cname_ins "^first_link type=CNAME qname=$CNAME_INS state=secure answer=data"
expect cname_ins "^first_link rr CNAME $INS_MX$"

probe tlsa_alias tlsa 25 $TLSA_ALIAS
expect tlsa_alias "^result type=TLSA qname=_25\._tcp\.$TLSA_ALIAS state=secure answer=data rcode=0 cname=1 canon=_25\._tcp\.$SEC_MX1 "
expect tlsa_alias "^result rr TLSA 3 1 1 [0-9a-f]{64} usable=1$"

# --- bogus: broken signature, DS matching no key ---
probe bog_sig lookup A $BOG_SIG_HOST
expect_failed bog_sig result bogus
expect bog_sig "reason=validation failure <$BOG_SIG_HOST\. A IN>"
probe bog_sig_host host $BOG_SIG_HOST
expect_failed bog_sig_host a bogus
expect bog_sig_host "^host name=$BOG_SIG_HOST canon=$BOG_SIG_HOST cname=0 chain_secure=0 first_link_secure=0"
probe bog_ds mx $BOG_DS
expect_failed bog_ds mxresult bogus
expect bog_ds "^mx status=error state=bogus .*nhosts=0 hosts=$"
expect bog_ds "reason=validation failure <$BOG_DS\. MX IN>"
probe bog_ds_nx lookup A nonexistent.$BOG_DS
expect_failed bog_ds_nx result bogus

# --- dead server: indeterminate, never insecure/NODATA/NXDOMAIN ---
probe dead mx $DEAD
expect_failed dead mxresult indeterminate
expect dead "^mx status=error state=indeterminate .*nhosts=0"
probe dead_a lookup A www.$DEAD
expect_failed dead_a result indeterminate
probe dead_tlsa tlsa 25 mx.$DEAD
expect_failed dead_tlsa result indeterminate

# --- a wrong trust anchor: validation does not work, nothing is secure ---
(cd "$T" && ldns-keygen -a ECDSAP256SHA256 -k . > kname) || fail "ldns-keygen"
ldns-key2ds -n -2 "$T/$(cat "$T/kname").key" > "$T/wrong.key" || fail "ldns-key2ds"
grep -v '^[[:space:]]*trust-anchor' "$WORLD_DIR/unbound.conf" > "$T/unbound-wrong.conf"
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
