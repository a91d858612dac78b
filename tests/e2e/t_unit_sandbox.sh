#!/bin/bash
# t_unit_sandbox: the daemon runs inside the privilege limits of
# scripts/danerelay.service. The capability bounding set is read from the
# unit's CapabilityBoundingSet= line and applied with setpriv(1), together
# with NoNewPrivileges, to a daemon started as root - what systemd does
# before ExecStart. It must bind port 25, load its spool and take mail; the
# kernel must show exactly that bounding set and no_new_privs. Control:
# the same start without CAP_NET_BIND_SERVICE cannot bind port 25 and
# exits non-zero saying so (the set is not a no-op).
. "$(dirname "$0")/lib.sh"

UNIT=$top/scripts/danerelay.service
[ "$(id -u)" = 0 ] || fail "needs root (the daemon starts as root under systemd)"
command -v setpriv > /dev/null || fail "setpriv (util-linux) missing"
grep -qx 'NoNewPrivileges=yes' "$UNIT" || fail "unit lacks NoNewPrivileges=yes"
caps=$(sed -n 's/^CapabilityBoundingSet=//p' "$UNIT")
[ -n "$caps" ] || fail "unit has no CapabilityBoundingSet="
set_of() {	# CAP_X CAP_Y ... -> -all,+x,+y
	local s=-all c
	for c in "$@"; do s="$s,+$(echo "${c#CAP_}" | tr 'A-Z' 'a-z')"; done
	echo "$s"
}
# shellcheck disable=SC2086
BSET=$(set_of $caps)
echo "bounding set: $BSET"

REAL_BIN=$BIN
wrap() {	# BOUNDING-SET: a wrapper that execs the daemon under it
	cat > "$T/wrap" <<W
#!/bin/sh
exec setpriv --bounding-set $1 --no-new-privs -- "$REAL_BIN" "\$@"
W
	chmod 755 "$T/wrap"
}

NO_DELIVERY=1 base_conf "$T/relay.conf"
sed -i "s/^listen = .*/listen = $NET.1:25/" "$T/relay.conf"

wrap "$BSET"
BIN=$T/wrap relay_start "$T/relay.conf"
st=/proc/$RELAY_PID/status
grep -q '^NoNewPrivs:[[:space:]]*1' "$st" || fail "no_new_privs not set"
want=0
for c in $caps; do
	n=$(python3 -c "import sys; print({'CAP_CHOWN':0,'CAP_DAC_OVERRIDE':1,'CAP_DAC_READ_SEARCH':2,'CAP_FOWNER':3,'CAP_FSETID':4,'CAP_KILL':5,'CAP_SETGID':6,'CAP_SETUID':7,'CAP_NET_BIND_SERVICE':10}[sys.argv[1]])" "$c") ||
	    fail "unknown capability $c in the unit"
	want=$((want | (1 << n)))
done
bnd=$((16#$(awk '/^CapBnd:/ { print $2 }' "$st")))
[ "$bnd" -eq "$want" ] || fail "CapBnd $(printf %x $bnd), want $(printf %x $want)"
ok "the daemon runs with the unit's bounding set ($caps) and no_new_privs"

swaks --server "$NET.1" --port 25 --from a@relay.test --to b@example.test \
    --h-Subject sandbox --body x > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "swaks to port 25"; }
grep -q '<- *250 .*[Qq]ueued\|<- *250 2\.0\.0' "$T/swaks.out" || { cat "$T/swaks.out"; fail "no 250 for the message"; }
[ "$(ls "$T/spool/msg" | grep -vc '\.st$')" -ge 1 ] || fail "message not in the spool"
ok "bound port 25 and spooled a message inside the sandbox"
relay_stop

# control: without CAP_NET_BIND_SERVICE port 25 cannot be bound
wrap "$(echo "$BSET" | sed 's/,+net_bind_service//')"
timeout 30 "$T/wrap" -c "$T/relay.conf" > "$T/ctl.out" 2>&1; rc=$?
cat "$T/ctl.out"
[ "$rc" -ne 0 ] || fail "started without CAP_NET_BIND_SERVICE"
grep -qi 'permission denied' "$T/ctl.out" "$RELAY_LOG" || fail "no 'Permission denied' for the bind"
ok "without CAP_NET_BIND_SERVICE the bind to port 25 fails (exit $rc)"
exit 0
