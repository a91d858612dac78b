#!/bin/bash
# t_queue_flush_pid: `queue flush` run as root signals only a process of
# the spool's owner. Started as root, the daemon drops to the user
# danerelay (relay/privsep.h) and SPOOL/lock is that user's file: a
# daemon taken over through the input it parses could write any pid into
# it, and root's `queue flush` must not then send SIGUSR1 (whose default
# action terminates) to a process of another user. Here the user writes
# the pid of a root process into SPOOL/lock: flush must fail and the
# process must live; the same through SPOOL/lock made a symbolic link to
# a root-owned pid file that its root process holds locked. With the
# daemon's own pid back, flush works.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (the daemon drops to user danerelay)"
id danerelay > /dev/null 2>&1 || fail "user danerelay missing (scripts/install-deps creates it)"

NO_DELIVERY=1 base_conf "$T/relay.conf"
relay_start "$T/relay.conf"
grep -qx "$RELAY_PID" "$T/spool/lock" || fail "SPOOL/lock does not hold the daemon's pid"
[ "$(stat -c %U "$T/spool/lock")" = danerelay ] || fail "SPOOL/lock is not the user's file"
awk '/^Uid:/ { exit !($2 != 0) }' "/proc/$RELAY_PID/status" || fail "daemon still runs as root"
ok "daemon $RELAY_PID runs as danerelay and owns SPOOL/lock"

# a root process that SIGUSR1 would terminate
sleep 600 &
victim=$!
track "$victim"
runuser -u danerelay -- sh -c "printf '%s\n' $victim > '$T/spool/lock'" ||
    fail "cannot write SPOOL/lock as danerelay"

"$BIN" -c "$T/relay.conf" queue flush > "$T/flush.out" 2>&1
st=$?
cat "$T/flush.out"
# give a delivered signal the time to act before looking
sleep 0.2
kill -0 "$victim" 2>/dev/null || fail "queue flush (as root) killed root's pid $victim named in SPOOL/lock"
[ "$st" -ne 0 ] || fail "queue flush signalled pid $victim and said it worked"
grep -q "cannot signal pid $victim" "$T/flush.out" || fail "queue flush does not say why"
ok "pid $victim of another user untouched, flush refused (exit $st)"

# the same through a symbolic link: SPOOL/lock pointing at a root-owned
# pid file that its root process holds locked (as many daemons do)
printf '%s\n' "$victim" > "$T/root.pid"
flock "$T/root.pid" sleep 600 &
holder=$!
track "$holder"
i=0
until ! flock -n "$T/root.pid" true; do
	i=$((i + 1))
	[ "$i" -gt 50 ] && fail "root.pid never locked"
	sleep 0.1
done
runuser -u danerelay -- sh -c "mv '$T/spool/lock' '$T/spool/lock.orig' && ln -s '$T/root.pid' '$T/spool/lock'" ||
    fail "cannot replace SPOOL/lock by a symlink as danerelay"
"$BIN" -c "$T/relay.conf" queue flush > "$T/flush3.out" 2>&1
st=$?
cat "$T/flush3.out"
sleep 0.2
kill -0 "$victim" 2>/dev/null || fail "queue flush (as root) followed SPOOL/lock to root's pid file and killed $victim"
[ "$st" -ne 0 ] || fail "queue flush through a symlinked SPOOL/lock said it worked"
ok "SPOOL/lock as a symlink to root's locked pid file: not followed (exit $st)"
# the daemon's own lock file (it holds the lock on it) back, its pid in it
runuser -u danerelay -- sh -c "rm -f '$T/spool/lock' && mv '$T/spool/lock.orig' '$T/spool/lock' &&
    printf '%s\n' $RELAY_PID > '$T/spool/lock'"
"$BIN" -c "$T/relay.conf" queue flush > "$T/flush2.out" 2>&1 ||
    { cat "$T/flush2.out"; fail "queue flush of the daemon failed"; }
grep -q "asked pid $RELAY_PID" "$T/flush2.out" || { cat "$T/flush2.out"; fail "queue flush output"; }
wait_log "queue flush: [0-9]+ deferred recipients? due now" 10 || fail "daemon did not hear the flush"
kill -0 "$RELAY_PID" || fail "daemon gone"
ok "queue flush still reaches the daemon"
relay_stop
exit 0
