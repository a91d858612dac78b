#!/bin/bash
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

SEC=sec.test; SEC_MX1=mx1.sec.test; SEC_MX2=mx2.sec.test
INS=ins.test; INS_MX=mx.ins.test
BOG_DS=bds.test; BOG_SIG=bog.test; BOG_SIG_HOST=mx.bog.test
DEAD=dead.test
CNAME_SEC=alias.sec.test; CNAME_INS=alias2.sec.test
NULLMX=null.sec.test; NX_SEC=nx.sec.test

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
expect sec "TLSA base $SEC_MX1 (host name)"
expect sec "TLSA _25._tcp.$SEC_MX1: secure, 1 record"
expect_re sec "TLSA 3 1 1 [0-9a-f]{64} \(usable\)"
expect sec "TLSA verdict: secure, 1 usable, 0 unusable: authenticated TLS required"
expect sec "result: every lookup answered"
# host order: mx1 before mx2
[ "$(grep -n "^host 1: $SEC_MX1" "$T/sec.out" | cut -d: -f1)" -lt \
  "$(grep -n "^host 2: $SEC_MX2" "$T/sec.out" | cut -d: -f1)" ] || fail "host order"

resolve ins $INS 0
expect ins "MX $INS: insecure, 1 record"
expect ins "mx: insecure, 1 host (MX insecure: DANE does not apply to the domain itself)"
expect ins "address $(addr_of $INS_MX) (insecure)"
expect ins "TLSA not looked up: address records not secure"

resolve cname_sec $CNAME_SEC 0
expect cname_sec "mx: implicit: no MX records, $CNAME_SEC itself"
expect cname_sec "CNAME $CNAME_SEC -> $SEC_MX1: chain secure"
expect cname_sec "TLSA base $SEC_MX1 (expanded name)"
expect cname_sec "TLSA _25._tcp.$SEC_MX1: secure, 1 record"

resolve cname_ins $CNAME_INS 0
expect cname_ins "CNAME $CNAME_INS -> $INS_MX: chain not secure, first link secure"
expect cname_ins "TLSA base $CNAME_INS (original name, first CNAME secure)"

resolve nullmx $NULLMX 0
expect nullmx "mx: null MX: $NULLMX accepts no mail (RFC 7505, secure)"

resolve nx $NX_SEC 0
expect nx "MX $NX_SEC: secure, NXDOMAIN"
expect nx "mx: nxdomain: $NX_SEC does not exist (secure)"

resolve bogds $BOG_DS 1
expect bogds "MX $BOG_DS: bogus: validation failure"
expect bogds "mx: error: MX lookup bogus, delivery defers"
expect bogds "result: 1 lookup failed (bogus or indeterminate)"

resolve bogsig $BOG_SIG 1
expect bogsig "A $BOG_SIG_HOST: bogus: validation failure"

resolve dead $DEAD 1
expect dead "MX $DEAD: indeterminate"
expect dead "mx: error: MX lookup indeterminate, delivery defers"

# remote_port and the caps
resolve port $SEC 0 "$T/port.conf"
expect port "resolve $SEC port 587"
expect port "TLSA _587._tcp.$SEC_MX1:"
expect port "mx: 1 more host not tried (max_mx_hosts 1)"
expect port "not tried (max_mx_addresses reached)"

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
