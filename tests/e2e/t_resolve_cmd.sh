#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_resolve_cmd: `danerelay -c FILE resolve DOMAIN` on the DNS test world
# prints what delivery will see - MX hosts in order with the MX RRset's
# state, each address with its state, the TLSA base domains tried (host
# name, CNAME-expanded then original, or original when only the first
# CNAME is secure) - and exits 0 only if every lookup was answered.
. "$(dirname "$0")/lib.sh"

if [ -z "${WORLD_DIR:-}" ] || [ ! -f "$WORLD_DIR/unbound.conf" ]; then
	WORLD_DIR=$T/world
	"$top/tests/world/mkworld" start "$WORLD_DIR" || fail "mkworld start"
	trap '"$top/tests/world/mkworld" stop "$WORLD_DIR"; cleanup' EXIT
fi

# names: tests/world/zones.d/*.zone
SEC=secure.test; SEC_MX1=mx1.secure.test; SEC_MX2=mx2.secure.test
INS=insecure.test; INS_MX=mx1.insecure.test
BOG_DS=bogus-ds.test
BOG_HOST_DOM=bogus.mxhost.test; BOG_SIG_HOST=mx1.bogus.test	# secure MX, bogus host
DEAD=dead.test
CN_EXP=cn-exp.cname.test; CN_EXP_ALIAS=alias-exp.cname.test; CN_EXP_T=host-exp.cname2.test
CN_ORIG=cn-orig.cname.test; CN_ORIG_ALIAS=alias-orig.cname.test
CN_INSEC=cn-insec.cname.test; CN_INSEC_ALIAS=alias-insec.cname.test; CN_INSEC_T=host-cn.insecure.test
CN_FIRST_INSEC=cn-first-insec.cname.test
NULLMX=nullmx.test; NX_SEC=nx.secure.test; NOMX=nomx.test
MANY=many.test

base_conf "$T/relay.conf"
base_conf "$T/port.conf" <<EOF
remote_port = 587
max_mx_hosts = 1
max_mx_addresses = 1
EOF

resolve() {	# resolve NAME DOMAIN WANT_STATUS [CONF]
	"$BIN" -c "${4:-$T/relay.conf}" resolve "$2" > "$T/$1.out" 2> "$T/$1.err"
	local st=$?
	cat "$T/$1.out"
	[ "$st" -eq "$3" ] || { cat "$T/$1.err"; fail "resolve $2: exit $st, want $3"; }
	ok "resolve $2: exit $st"
}

expect() {	# NAME PATTERN (fixed string)
	grep -qF -- "$2" "$T/$1.out" || fail "$1: no line with '$2'"
	ok "$1: '$2'"
}

expect_re() {	# NAME REGEX
	grep -Eq -- "$2" "$T/$1.out" || fail "$1: no line /$2/"
	ok "$1: /$2/"
}

addr_of() {
	awk -v n="$1" '$1 == n || $1 == n"." { print $2; exit }' "$WORLD_DIR/hosts"
}

resolve sec $SEC 0
expect sec "resolve $SEC port 25"
expect sec "validation: ok: DNSKEY .: secure"
expect sec "MX $SEC: secure, 2 records"
expect sec "mx: secure, 2 hosts"
expect sec "host 1: $SEC_MX1 pref 10"
expect sec "host 2: $SEC_MX2 pref 20"
expect sec "A $SEC_MX1: secure, 1 record"
expect sec "address $(addr_of $SEC_MX1) (DNSSEC)"
expect sec "AAAA $SEC_MX1: secure, NODATA"
expect sec "TLSA base $SEC_MX1 (host name)"
expect sec "TLSA _25._tcp.$SEC_MX1: secure, 1 record"
expect_re sec "TLSA 3 1 1 [0-9a-f]{64} \(usable\)"
expect sec "TLSA verdict: secure, 1 usable, 0 unusable: authenticated TLS required"
expect sec "address ::1 (DNSSEC)"
expect sec "TLSA _25._tcp.$SEC_MX2: secure, 1 record"
expect sec "result: every lookup answered"
[ "$(grep -n "^host 1: $SEC_MX1" "$T/sec.out" | cut -d: -f1)" -lt \
  "$(grep -n "^host 2: $SEC_MX2" "$T/sec.out" | cut -d: -f1)" ] || fail "host order"

resolve ins $INS 0
expect ins "MX $INS: insecure, 1 record"
expect ins "mx: insecure, 1 host (MX insecure: DANE does not apply to the domain itself)"
expect ins "address $(addr_of $INS_MX) (insecure)"
expect ins "TLSA not looked up: address records not secure"

resolve cn_exp $CN_EXP 0
expect cn_exp "host 1: $CN_EXP_ALIAS pref 10"
expect cn_exp "CNAME $CN_EXP_ALIAS -> $CN_EXP_T: chain secure"
expect cn_exp "TLSA base $CN_EXP_T (expanded name)"
expect cn_exp "TLSA _25._tcp.$CN_EXP_T: secure, 1 record"
grep -qF "TLSA base $CN_EXP_ALIAS (original name)" "$T/cn_exp.out" &&
    fail "cn_exp: original name tried after a secure expanded TLSA RRset"
ok "cn_exp: original name not needed"

resolve cn_orig $CN_ORIG 0
expect cn_orig "TLSA base host-orig.cname2.test (expanded name)"
expect cn_orig "TLSA base $CN_ORIG_ALIAS (original name)"
expect cn_orig "TLSA _25._tcp.$CN_ORIG_ALIAS: secure, 1 record"

resolve cn_insec $CN_INSEC 0
expect cn_insec "CNAME $CN_INSEC_ALIAS -> $CN_INSEC_T: chain not secure, first link secure"
expect cn_insec "TLSA base $CN_INSEC_ALIAS (original name, first CNAME secure)"
expect cn_insec "TLSA _25._tcp.$CN_INSEC_ALIAS: secure, 1 record"
grep -qF "TLSA base $CN_INSEC_T" "$T/cn_insec.out" && fail "cn_insec: insecure target used"
ok "cn_insec: insecure target's TLSA not looked up"

resolve cn_first_insec $CN_FIRST_INSEC 0
expect cn_first_insec "chain not secure, first link not secure"
expect cn_first_insec "TLSA not looked up: CNAME chain not secure"

resolve nullmx $NULLMX 0
expect nullmx "mx: null MX: $NULLMX accepts no mail (RFC 7505, secure)"

resolve nomx $NOMX 0
expect nomx "mx: implicit: no MX records, $NOMX itself (RFC 5321 5.1, secure)"
expect nomx "TLSA _25._tcp.$NOMX: secure, 1 record"

resolve nx $NX_SEC 0
expect nx "MX $NX_SEC: secure, NXDOMAIN"
expect nx "mx: nxdomain: $NX_SEC does not exist (secure)"

resolve bogds $BOG_DS 1
expect bogds "MX $BOG_DS: bogus: validation failure"
expect bogds "mx: error: MX lookup bogus, delivery defers"
expect bogds "result: 1 lookup failed (bogus or indeterminate)"

resolve boghost $BOG_HOST_DOM 1
expect boghost "MX $BOG_HOST_DOM: secure, 1 record"
expect boghost "A $BOG_SIG_HOST: bogus: validation failure"
expect boghost "TLSA not looked up: no address"

resolve dead $DEAD 1
expect dead "MX $DEAD: indeterminate"
expect dead "mx: error: MX lookup indeterminate, delivery defers"

# remote_port and the caps
resolve port $SEC 0 "$T/port.conf"
expect port "resolve $SEC port 587"
expect port "TLSA _587._tcp.$SEC_MX1: secure, NXDOMAIN"
expect port "mx: 1 more host not tried (max_mx_hosts 1)"
resolve caps $MANY 0 "$T/port.conf"
expect caps "mx: 11 more hosts not tried (max_mx_hosts 1)"
resolve addrs addrs.$MANY 0 "$T/port.conf"
expect addrs "not tried (max_mx_addresses reached)"
[ "$(grep -c '^    address .*(DNSSEC)' "$T/addrs.out")" -eq 1 ] || fail "more than 1 address tried"
ok "addrs: one address tried"

# a missing trust anchor: configuration error, exit 2
grep -v '^trust_anchor_file' "$T/relay.conf" > "$T/nota.conf"
echo "trust_anchor_file = $T/no-such.key" >> "$T/nota.conf"
"$BIN" -c "$T/nota.conf" resolve $SEC > "$T/nota.out" 2>&1
st=$?
cat "$T/nota.out"
[ "$st" -eq 2 ] || fail "missing trust anchor: exit $st, want 2"
grep -q "no-such.key" "$T/nota.out" || fail "missing trust anchor not named"
ok "missing trust anchor: exit 2"
echo PASS
