#!/bin/bash
# t_check_privdrop: `danerelay check` and `danerelay resolve` started as
# root parse what the network sends (DNS answers, SMTP replies, X.509
# chains) without root: once their files are read they become `user`
# (relay/privsep.h), like the daemon. single.test's MX sends its greeting
# one byte every 2 s, so the probe sits in the SMTP dialogue while the
# test reads the uid of the check process from /proc; the same with
# user = nosuchuser falls back to nobody. resolve still works as root.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/hostile_lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root"
uid_of() { awk '/^Uid:/ { print $2, $3, $4, $5 }' "/proc/$1/status"; }
want=$(id -u danerelay) || fail "user danerelay missing (scripts/install-deps creates it)"
nobody=$(id -u nobody) || fail "user nobody missing"

hostile_start single mx.single.test trickle-greeting,trickle-greeting --interval 2
base_conf "$T/relay.conf" < /dev/null
sed 's/^tls_policy.*/tls_policy = dane/' "$T/relay.conf" > "$T/relay2.conf"
echo "user = nosuchuser" >> "$T/relay2.conf"

probe() {	# CONF WANT_UID EVENT
	local conf=$1 uid=$2 ev=$3 pid u
	"$BIN" -c "$conf" check single.test > "$T/check.out" 2>&1 &
	pid=$!
	track "$pid"
	wait_event single "^conn $ev " 30 || { cat "$T/check.out"; fail "check never reached the MX"; }
	kill -0 "$pid" 2>/dev/null || { cat "$T/check.out"; fail "check ended early"; }
	u=$(uid_of "$pid")
	kill -TERM "$pid"
	wait_pid_gone "$pid" 50 || kill -KILL "$pid"
	wait "$pid" 2>/dev/null
	untrack "$pid"
	[ "$u" = "$uid $uid $uid $uid" ] ||
	    fail "check talked SMTP with uids (real eff saved fs) $u, want all $uid"
	ok "check in the SMTP dialogue runs as uid $uid"
}
probe "$T/relay.conf" "$want" 1
probe "$T/relay2.conf" "$nobody" 2

"$BIN" -c "$T/relay.conf" resolve single.test > "$T/resolve.out" 2>&1 ||
    { cat "$T/resolve.out"; fail "resolve as root failed"; }
grep -q "mx.single.test" "$T/resolve.out" || { cat "$T/resolve.out"; fail "resolve output"; }
ok "resolve started as root works after the drop"
exit 0
