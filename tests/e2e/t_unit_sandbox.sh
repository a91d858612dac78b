#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_unit_sandbox: the daemon runs inside the privilege limits of
# scripts/danerelay.service, and needs every capability the unit keeps.
# The bounding set is read from the unit's CapabilityBoundingSet= line and
# applied with setpriv(1), with no_new_privs, to a daemon started as root,
# as systemd does before ExecStart; the log directory belongs to the user
# (0750) as `make install` creates it, the listener is on port 25.
# 1. With the unit's set: it binds port 25, drops to the user danerelay
#    (uid from /proc, no effective capability left), takes a message.
# 2. Without each capability in turn, start-up fails, for its reason:
#    CAP_NET_BIND_SERVICE the bind to port 25; CAP_SETUID, CAP_SETGID the
#    drop; CAP_CHOWN handing a new spool to the user; CAP_DAC_OVERRIDE
#    opening the log file in the user's directory.
. "$(dirname "$0")/lib.sh"

UNIT=$top/scripts/danerelay.service
[ "$(id -u)" = 0 ] || fail "needs root (the daemon starts as root under systemd)"
command -v setpriv > /dev/null || fail "setpriv (util-linux) missing"
getent passwd danerelay > /dev/null || fail "no user danerelay (scripts/install-deps creates it)"
grep -qx 'NoNewPrivileges=yes' "$UNIT" || fail "unit lacks NoNewPrivileges=yes"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[ -n "$caps" ] || fail "unit has no CapabilityBoundingSet="
lc() { echo "${1#CAP_}" | tr 'A-Z' 'a-z'; }
bset() {	# CAP_X ... -> -all,+x,...
	local s=-all c
	for c in "$@"; do s="$s,+$(lc "$c")"; done
	echo "$s"
}
capnum() {
	case $1 in
	CAP_CHOWN) echo 0 ;; CAP_DAC_OVERRIDE) echo 1 ;; CAP_DAC_READ_SEARCH) echo 2 ;;
	CAP_FOWNER) echo 3 ;; CAP_SETGID) echo 6 ;; CAP_SETUID) echo 7 ;;
	CAP_NET_BIND_SERVICE) echo 10 ;; *) fail "unexpected capability $1 in the unit" ;;
	esac
}
# shellcheck disable=SC2086
FULL=$(bset $caps)
echo "bounding set: $FULL"

REAL_BIN=$BIN
wrap() {	# BOUNDING-SET: a wrapper that execs the daemon under it
	printf '#!/bin/sh\nexec setpriv --bounding-set %s --no-new-privs -- "%s" "$@"\n' \
	    "$1" "$REAL_BIN" > "$T/wrap"
	chmod 755 "$T/wrap"
}

mkdir "$T/log"
chown danerelay:danerelay "$T/log"
chmod 750 "$T/log"
RELAY_LOG=$T/log/relay.log
NO_DELIVERY=1 base_conf "$T/relay.conf"
sed -i "s/^listen = .*/listen = $NET.1:25/" "$T/relay.conf"

# 1. the unit's set
wrap "$FULL"
BIN=$T/wrap relay_start "$T/relay.conf"
st=/proc/$RELAY_PID/status
grep -q '^NoNewPrivs:[[:space:]]*1' "$st" || fail "no_new_privs not set"
want=0
for c in $caps; do want=$((want | (1 << $(capnum "$c")))); done
bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' "$st")))
[ "$bnd" -eq "$want" ] || fail "CapBnd $(printf %x $bnd), want $(printf %x $want)"
uid=$(id -u danerelay)
[ "$(awk '/^Uid:/ { print $2 " " $3 " " $4 " " $5 }' "$st")" = "$uid $uid $uid $uid" ] ||
    fail "not running as danerelay: $(grep '^Uid:' "$st")"
[ "$(awk '/^CapEff:/ { print $2 }' "$st")" = 0000000000000000 ] || fail "capabilities left: $(grep '^Cap' "$st")"
ok "runs as danerelay (uid $uid), no capability left, bounding set = the unit's, no_new_privs"
swaks --server "$NET.1" --port 25 --from a@relay.test --to b@example.test \
    --h-Subject sandbox --body x > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "swaks to port 25"; }
grep -q '<- *250 2\.0\.0' "$T/swaks.out" || { cat "$T/swaks.out"; fail "no 250 for the message"; }
[ "$(find "$T/spool/msg" -type f ! -name '*.st' | wc -l)" -ge 1 ] || fail "message not in the spool"
ok "bound port 25 and spooled a message inside the sandbox"
relay_stop

# 2. each capability is needed
without() {	# CAP WHY-REGEX: start without CAP, expect failure saying WHY
	local set rc
	set=$(echo "$FULL" | sed "s/,+$(lc "$1")//")
	wrap "$set"
	: > "$RELAY_LOG"
	timeout 60 "$T/wrap" -c "$T/relay.conf" > "$T/without.out" 2>&1; rc=$?
	cat "$T/without.out"
	[ "$rc" -ne 0 ] || fail "started without $1"
	[ "$rc" -ne 124 ] || fail "hung without $1"
	grep -q ': started' "$RELAY_LOG" && fail "logged 'started' without $1"
	grep -Eqi -- "$2" "$T/without.out" "$RELAY_LOG" || fail "without $1: no /$2/ in the output or the log"
	ok "without $1: start-up fails (exit $rc): /$2/"
}
without CAP_NET_BIND_SERVICE 'listen .*:25: permission denied'
without CAP_SETUID 'cannot drop privileges'
without CAP_SETGID 'cannot drop privileges'
without CAP_DAC_OVERRIDE 'log_file .*permission denied'
rm -rf "$T/spool"
without CAP_CHOWN 'spool_dir .*chown'
exit 0
