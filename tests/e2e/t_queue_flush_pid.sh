#!/bin/bash
# t_queue_flush_pid: nothing signals the pid in SPOOL/lock. Started as
# root, the daemon drops to the user danerelay (relay/privsep.h), so
# SPOOL/lock is that user's file: a daemon taken over through the input it
# parses could write any pid into it (or make it a symbolic link to a
# root-owned pid file that its root process holds locked), and root's
# `queue flush` must never send a signal to it (SIGUSR1 terminates by
# default). Both ways, the root process lives and the flush reaches the
# daemon over its control socket.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (the daemon drops to user danerelay)"
id danerelay > /dev/null 2>&1 || fail "user danerelay missing (scripts/install-deps creates it)"

NO_DELIVERY=1 base_conf "$T/relay.conf"
relay_start "$T/relay.conf"
[ "$(stat -c %U "$T/spool/lock")" = danerelay ] || fail "SPOOL/lock is not the user's file"
awk '/^Uid:/ { exit !($2 != 0) }' "/proc/$RELAY_PID/status" || fail "daemon still runs as root"
ok "daemon $RELAY_PID runs as danerelay and owns SPOOL/lock"

# a root process that SIGUSR1 would terminate
sleep 600 &
victim=$!
track "$victim"

flush() {	# NAME: queue flush as root, must reach the daemon, victim lives
	local n
	n=$(grep -c "queue flush by uid 0" "$RELAY_LOG")
	"$BIN" -c "$T/relay.conf" queue flush > "$T/$1.out" 2>&1 ||
	    { cat "$T/$1.out"; fail "$1: queue flush failed"; }
	i=0
	while [ "$(grep -c "queue flush by uid 0" "$RELAY_LOG")" -le "$n" ]; do
		i=$((i + 1))
		[ "$i" -gt 100 ] && fail "$1: the daemon did not log the flush"
		sleep 0.1
	done
	kill -0 "$victim" 2>/dev/null || fail "$1: queue flush (as root) killed root's pid $victim"
	ok "$1: flush reached the daemon, pid $victim untouched"
}

runuser -u danerelay -- sh -c "printf '%s\n' $victim > '$T/spool/lock'" ||
    fail "cannot write SPOOL/lock as danerelay"
flush pid

printf '%s\n' "$victim" > "$T/root.pid"
flock "$T/root.pid" sleep 600 &
track $!
runuser -u danerelay -- sh -c "mv '$T/spool/lock' '$T/spool/lock.orig' && ln -s '$T/root.pid' '$T/spool/lock'" ||
    fail "cannot replace SPOOL/lock by a symlink as danerelay"
flush symlink
runuser -u danerelay -- sh -c "rm -f '$T/spool/lock' && mv '$T/spool/lock.orig' '$T/spool/lock'"
relay_stop
exit 0
