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
