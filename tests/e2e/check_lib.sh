# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/check_lib.sh - helpers for the scenarios of `danerelay check`
# (relay/cmd_check.c: t_check_*.sh, t_dlv_ipv6.sh). Source after lib.sh.

# check NAME DOMAIN WANT_STATUS [args]: run `danerelay -c CONF check DOMAIN
# [args]` (CONF: $CHECK_CONF, default $T/relay.conf) with its output in
# $T/NAME.out (shown) and stderr in $T/NAME.err; fails unless it exits
# with WANT_STATUS (0 ok, 1 warning, 2 critical, 3 unknown).
check() {
	local name=$1 dom=$2 want=$3 st
	shift 3
	"$BIN" -c "${CHECK_CONF:-$T/relay.conf}" check "$dom" "$@" \
	    > "$T/$name.out" 2> "$T/$name.err"
	st=$?
	cat "$T/$name.out"
	[ "$st" -eq "$want" ] || { cat "$T/$name.err"; fail "check $dom $*: exit $st, want $want"; }
	ok "check $dom $*: exit $st"
}

# expect NAME REGEX: a line of $T/NAME.out matches the extended REGEX.
expect() {
	grep -Eq -- "$2" "$T/$1.out" || fail "$1: no line /$2/"
	ok "$1: /$2/"
}

# reject NAME REGEX: no line of $T/NAME.out matches.
reject() {
	if grep -Eq -- "$2" "$T/$1.out"; then
		grep -E -- "$2" "$T/$1.out" | head -3
		fail "$1: has /$2/"
	fi
	ok "$1: lacks /$2/"
}

# nsd_serve DIR ZONE FILE ADDR...: a private NSD of its own serving ZONE
# from DIR/FILE on port 53 of each ADDR (IPv4 or IPv6; check --ns only
# asks port 53), in the foreground, tracked, logging to DIR/nsd.log; waits
# (10 s at most) until it says it started. NSD_PID is its pid. With
# NSD_SETSID=1 it leads its own process group (setsid execs nsd in place:
# the pid is nsd's), so that a signal to the group also reaches the server
# processes NSD forks.
nsd_serve() {
	local dir=$1 zone=$2 file=$3 a v4=no v6=no i=0
	shift 3
	{
		echo "server:"
		for a in "$@"; do
			printf '\tip-address: %s\n' "$a"
			case $a in *:*) v6=yes ;; *) v4=yes ;; esac
		done
		cat <<NSD
	port: 53
	do-ip4: $v4
	do-ip6: $v6
	server-count: 1
	username: ""
	chroot: ""
	zonesdir: "$dir"
	database: ""
	zonelistfile: "$dir/zonelist"
	xfrdfile: "$dir/xfrd"
	xfrdir: "$dir"
	pidfile: ""
	logfile: "$dir/nsd.log"
	verbosity: 1
	zonefiles-write: 0
	reuseport: no
remote-control:
	control-enable: no
zone:
	name: "$zone."
	zonefile: "$file"
NSD
	} > "$dir/nsd.conf"
	: > "$dir/nsd.log"
	if [ "${NSD_SETSID:-0}" = 1 ]; then
		setsid nsd -d -c "$dir/nsd.conf" < /dev/null >> "$dir/nsd.log" 2>&1 &
	else
		nsd -d -c "$dir/nsd.conf" < /dev/null >> "$dir/nsd.log" 2>&1 &
	fi
	NSD_PID=$!
	track "$NSD_PID"
	until grep -q 'nsd started' "$dir/nsd.log"; do
		i=$((i + 1))
		if [ "$i" -gt 100 ] || ! kill -0 "$NSD_PID" 2>/dev/null; then
			cat "$dir/nsd.log"
			fail "nsd for $zone did not start on $*"
		fi
		sleep 0.1
	done
}

# spki311 CERT: the "3 1 1" digest of CERT (the usual openssl pipeline).
spki311() {
	openssl x509 -in "$1" -noout -pubkey | openssl pkey -pubin -outform DER |
	    openssl dgst -sha256 -r | cut -d' ' -f1
}

# zone_versions ZONE DIR: the world's ZONE (tests/world/zones.d) publishes
# a current and a next TLSA record for mx.ZONE (certificates mx.ZONE.crt
# and mx.ZONE.next.crt): checks both are there, sets CUR and NEXT (their
# digests) and ZONE_FILE (the unsigned zone), and writes DIR/new.signed
# (the world's signed zone) and DIR/old.signed (the same keys, without the
# next record), for a second name server to serve either.
zone_versions() {
	local zone=$1 dir=$2 keys=$WORLD_DIR/keys/$1
	NEXT=$(spki311 "$CERTS/mx.$zone.next.crt")
	CUR=$(spki311 "$CERTS/mx.$zone.crt")
	ZONE_FILE=$WORLD_DIR/zones/$zone.zone
	grep -qi "$NEXT" "$ZONE_FILE" || fail "the world's $zone has no next record $NEXT"
	grep -qi "$CUR" "$ZONE_FILE" || fail "the world's $zone has no current record $CUR"
	mkdir -p "$dir"
	grep -vi "$NEXT" "$ZONE_FILE" > "$dir/old.zone"
	grep -qi "$NEXT" "$dir/old.zone" && fail "next record still in the old zone"
	ldns-signzone -o "$zone." -f "$dir/old.signed" "$dir/old.zone" \
	    "$keys/$(cat "$keys/zsk")" "$keys/$(cat "$keys/ksk")" ||
	    fail "ldns-signzone failed"
	cp "$WORLD_DIR/zones/$zone.signed" "$dir/new.signed"
}
