#!/bin/bash
# t_log_symlink: root never writes through a log_file or acct_file symlink. Started as
# root, the daemon opens log_file before it drops to the user danerelay
# (relay/privsep.h), who may own the file and, when log_file lives in a
# directory of that user (the spool, a /var/log/danerelay of its own for
# rotation), may replace it between two starts. A daemon taken over
# through the input it parses could so point log_file at a root-only file
# and have the next start, as root, append its log lines to it. Here the
# user swaps relay.log for a symlink to a root-owned 0600 file: the start
# must refuse it and leave the file alone; then the same with acct_file.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root (the daemon drops to user danerelay)"
id danerelay > /dev/null 2>&1 || fail "user danerelay missing (scripts/install-deps creates it)"

# start_refused KEY WATCH: start the daemon once more, now that KEY's
# file is a symlink to the root-only $T/victim. It must exit non-zero,
# name KEY on stderr and leave the victim as it was. WATCH is the file a
# start that went through would log "started" to: wait for that or for the
# exit, at most 15 s.
start_refused() {
	local key=$1 watch=$2 out=$T/$1.stderr pid st i=0
	"$BIN" -c "$T/relay.conf" > "$out" 2>&1 &
	pid=$!
	track "$pid"
	while kill -0 "$pid" 2>/dev/null && ! grep -q "danerelay\[$pid\]: started" "$watch" &&
	    [ "$i" -lt 150 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	if kill -0 "$pid" 2>/dev/null; then
		kill -TERM "$pid"
		wait_pid_gone "$pid" 150 || kill -KILL "$pid"
	fi
	wait "$pid"
	st=$?
	untrack "$pid"
	cat "$out"
	[ "$(sha256sum < "$T/victim")" = "$sum" ] ||
	    { head -3 "$T/victim"; fail "root wrote to $T/victim through the $key symlink"; }
	[ "$st" -ne 0 ] || fail "a symlink as $key was accepted (exit 0)"
	grep -q "$key" "$out" || fail "the start does not say what is wrong with $key"
	ok "symlinked $key refused (exit $st), the root-only file untouched"
}

mkdir "$T/logs"
chown danerelay: "$T/logs"
chmod 700 "$T/logs"
RELAY_LOG=$T/logs/relay.log
NO_DELIVERY=1 base_conf "$T/relay.conf"
relay_start "$T/relay.conf"
[ "$(stat -c %U "$RELAY_LOG")" = danerelay ] || fail "log_file not created for the user"
relay_stop
ok "first start: log_file $RELAY_LOG created for danerelay"

printf 'root only\n' > "$T/victim"
chmod 600 "$T/victim"
sum=$(sha256sum < "$T/victim")
runuser -u danerelay -- sh -c "mv '$RELAY_LOG' '$T/logs/old.log' && ln -s '$T/victim' '$RELAY_LOG'" ||
    fail "cannot swap log_file for a symlink as danerelay"

start_refused log_file "$T/victim"

# acct_file the same way (relay/acct.c opens it as root too)
runuser -u danerelay -- sh -c "rm -f '$RELAY_LOG' && mv '$T/logs/old.log' '$RELAY_LOG'"
echo "acct_file = $T/logs/acct.csv" >> "$T/relay.conf"
relay_start "$T/relay.conf"
[ "$(stat -c %U "$T/logs/acct.csv")" = danerelay ] || fail "acct_file not created for the user"
relay_stop
runuser -u danerelay -- sh -c "rm -f '$T/logs/acct.csv' && ln -s '$T/victim' '$T/logs/acct.csv'" ||
    fail "cannot swap acct_file for a symlink as danerelay"
start_refused acct_file "$RELAY_LOG"
exit 0
