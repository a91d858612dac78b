#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_systemd_unit: scripts/danerelay.service under a real systemd. The test
# starts systemd as PID 1 of a private PID and mount namespace (unshare(1);
# the network is the host's, so the DNS test world and the sink are
# reachable on loopback) with a unit directory holding only the unit,
# unchanged, and a drop-in that points ExecStart at the binary under test
# and a test configuration. /var/spool/danerelay and /var/log/danerelay in
# the namespace are directories of this test (bind mounts), owned by the
# user as `make install` makes them; /run, /tmp and /var/tmp are private
# tmpfs, so nothing the unit's sandbox sets up lands on the host; the
# host's systemd-journald units run in it too, and systemd logs at debug
# level to that journal (shown at the end of a failed run).
# 1. `systemctl start` returns once READY=1 reached systemd (its log says
#    so): the unit is active (running) with the daemon's STATUS= text; the
#    daemon listens on port 25 (CAP_NET_BIND_SERVICE kept), runs as the
#    user danerelay without capabilities, under no_new_privs and seccomp,
#    with the unit's LimitNOFILE=.
# 2. Inside the sandbox it delivers a message to the DANE sink of the
#    test world (DNSSEC, TLSA, STARTTLS).
# 3. `systemctl reload`: systemd hears RELOADING=1 and then READY=1 from
#    the daemon's PID, the daemon logs the reload, the unit stays active
#    with the same main PID.
# 4. `systemctl stop` with a message that cannot be delivered yet: the
#    daemon exits 0 (Result=success), STATUS= had counted the message, it
#    stays in the spool.
# 5. A bad configuration: the daemon exits 2 and the unit is failed, with
#    no restart scheduled (RestartPreventExitStatus=2), the reason in the
#    journal. Control: a start-up that fails with exit 1 (log_file on the
#    file system ProtectSystem=strict makes read-only: EROFS) gets a restart
#    scheduled (Restart=on-failure).
# 6. With log_file = - (the installed default) the daemon's lines reach the
#    journal; the message kept in step 4 is recovered; stop is clean again.
# 7. With log_file = syslog they reach it through /dev/log (PrivateDevices=
#    keeps the link).
# The ASan build runs with detect_leaks=0: LeakSanitizer needs ptrace(2),
# which SystemCallFilter=@system-service refuses, and exits 1.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

[ "$(id -u)" = 0 ] || fail "needs root (systemd as PID 1 of a namespace)"
SYSTEMD=
for p in /lib/systemd/systemd /usr/lib/systemd/systemd; do
	[ -x "$p" ] && { SYSTEMD=$p; break; }
done
[ -n "$SYSTEMD" ] || fail "no systemd binary (/lib/systemd/systemd): apt-get install systemd"
for c in unshare nsenter systemctl; do
	command -v "$c" > /dev/null || fail "$c missing (util-linux, systemd)"
done
getent passwd danerelay > /dev/null || fail "no user danerelay (scripts/install-deps creates it)"

UNIT=$top/scripts/danerelay.service
R=/run/danerelay-test		# inside the namespace
SDPID=""			# systemd, as the host sees it
UNSHARE_PID=""
CGNAME=danerelay-test-$$

# The namespace's systemd keeps its cgroups below a cgroup of its own in
# each hierarchy it uses (with cgroup v1, also the devices controller, so
# that the DevicePolicy= PrivateDevices= implies is enforced); they are
# removed at exit (deepest first).
cg_roots() {
	awk '$3 == "cgroup2" || ($3 == "cgroup" && $4 ~ /(^|,)(name=systemd|devices)(,|$)/) { print $2 }' /proc/self/mounts
}

sd_cleanup() {	# EXIT-STATUS
	local d
	# systemd's view: the journal of the namespace (on its /run), kept
	# in $T with KEEP_T=1
	[ -n "$SDPID" ] && [ "${KEEP_T:-0}" = 1 ] &&
		timeout 10 nsenter -t "$SDPID" -m -p journalctl --no-pager -o verbose > "$T/journal.txt" 2>&1
	if [ -n "$SDPID" ] && [ "$1" != 0 ]; then
		echo "--- journal of the namespace (last 40 lines, without D-Bus chatter)"
		timeout 10 nsenter -t "$SDPID" -m -p journalctl --no-pager -n 200 | grep -v "Got message type=\\|Sent message type=\\|Bus private-bus" | tail -n 40
	fi
	if [ -n "$SDPID" ]; then
		# SIGKILL to a namespace's init ends every process in it
		kill -KILL "$SDPID" 2> /dev/null
		wait_pid_gone "$SDPID" 50
	fi
	[ -n "$UNSHARE_PID" ] && { wait_pid_gone "$UNSHARE_PID" 50 || kill -KILL "$UNSHARE_PID" 2> /dev/null; }
	for d in /sys/fs/cgroup/*/"$CGNAME" /sys/fs/cgroup/"$CGNAME"; do
		[ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2> /dev/null
	done
}
eval "prev_trap=$(trap -p EXIT | sed "s/^trap -- //; s/ EXIT\$//")"
# shellcheck disable=SC2064,SC2154	# the previous trap is meant to expand now
trap "sd_cleanup \$?; $prev_trap" EXIT

sc() {		# systemctl in the namespace, bounded
	timeout 30 nsenter -t "$SDPID" -m -p systemctl --no-pager "$@"
}
prop() {	# PROPERTY: its value for danerelay.service
	sc show -p "$1" --value danerelay.service
}
wait_prop() {	# PROPERTY VALUE SECONDS
	local i=0
	while [ "$(prop "$1")" != "$2" ]; do
		i=$((i + 1))
		[ "$i" -gt $(($3 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}

# the world's resolver configuration, with its paths moved to $R (/tmp is
# private to the unit)
mkdir -p "$T/run/units/danerelay.service.d"
sed -e "s|\"$WORLD_DIR\"|\"$R\"|; s|\"$WORLD_DIR/|\"$R/|" "$WORLD_DIR/unbound.conf" > "$T/run/unbound.conf"
cp "$WORLD_DIR/root.key" "$T/run/root.key"
grep -q "$WORLD_DIR" "$T/run/unbound.conf" && fail "unbound.conf still names $WORLD_DIR"
cp "$BIN" "$T/run/danerelay"
cp "$UNIT" "$T/run/units/danerelay.service"
# the targets a service's default dependencies and the unit name, empty:
# nothing else of the host's system gets started
for u in sysinit basic shutdown network-online nss-lookup; do
	printf '[Unit]\nDescription=%s (empty, for the test)\n' "$u" > "$T/run/units/$u.target"
done
J="systemd-journald.socket systemd-journald-dev-log.socket systemd-journald.service"
printf '[Unit]\nDescription=danerelay test: journald only\nWants=%s\nAfter=%s\n' "$J" "$J" \
    > "$T/run/units/danerelay-test.target"
# systemd-journald as the host has it: the daemon's stderr and systemd's
# own messages about the unit end up there (journalctl in the namespace)
for u in $J; do
	for d in /lib/systemd/system /usr/lib/systemd/system; do
		[ -f "$d/$u" ] && { cp "$d/$u" "$T/run/units/$u"; break; }
	done
	[ -f "$T/run/units/$u" ] || fail "no $u (systemd's unit directory)"
done
# ASan's leak check at exit needs ptrace(2), which the unit's
# SystemCallFilter= refuses (as it should): without this the ASan build
# exits 1 on stop. The other checks stay on.
cat > "$T/run/units/danerelay.service.d/test.conf" <<EOF
[Service]
ExecStart=
ExecStart=$R/danerelay -c $R/danerelay.conf
Environment=ASAN_OPTIONS=detect_leaks=0
EOF
mkdir "$T/spool" "$T/log"
chown danerelay:danerelay "$T/spool" "$T/log"
chmod 700 "$T/spool"
chmod 750 "$T/log"
RELAY_LOG=$T/log/relay.log
conf() {	# LOG_FILE: the configuration as the daemon sees it
	cat <<EOF
listen = $NET.1:25
hostname = relay.test
relay_clients = 127.0.0.0/8
log_file = $1
resolver_config = $R/unbound.conf
trust_anchor_file = $R/root.key
min_backoff = 1h
max_backoff = 1h
connect_timeout = 5s
EOF
}
conf /var/log/danerelay/relay.log > "$T/run/danerelay.conf"

# PID 1 of the namespace: cgroup, private mounts, then systemd
cat > "$T/ns-init.sh" <<EOF
set -e
for d in $(cg_roots | sed "s|\$|/$CGNAME|" | tr '\n' ' '); do
	echo 0 > "\$d/cgroup.procs"
done
mount -t proc proc /proc
mount -t tmpfs -o mode=755 tmpfs /run
mkdir -m 755 $R
cp -a "$T/run/." $R/
# the host's kernel messages are not this test's business
mkdir -p /run/systemd/journald.conf.d
printf '[Journal]\nReadKMsg=no\nStorage=volatile\n' > /run/systemd/journald.conf.d/test.conf
mount -t tmpfs -o mode=755 tmpfs /var/spool
mkdir /var/spool/danerelay
mount --bind "$T/spool" /var/spool/danerelay
mount -t tmpfs -o mode=755 tmpfs /var/log
mkdir /var/log/danerelay
mount --bind "$T/log" /var/log/danerelay
mount -t tmpfs -o mode=1777 tmpfs /tmp
mount -t tmpfs -o mode=1777 tmpfs /var/tmp
cd /
exec env -i container=danerelay-test SYSTEMD_UNIT_PATH=$R/units \
    PATH=/usr/sbin:/usr/bin:/sbin:/bin \
    $SYSTEMD --system --unit=danerelay-test.target --log-target=journal --log-level=debug
EOF
for d in $(cg_roots); do
	mkdir "$d/$CGNAME" || fail "cannot make cgroup $d/$CGNAME"
done
unshare --pid --fork --mount --propagation private bash "$T/ns-init.sh" > "$T/ns.out" 2>&1 &
UNSHARE_PID=$!
i=0
while [ -z "$SDPID" ]; do
	SDPID=$(pgrep -P "$UNSHARE_PID" 2> /dev/null | head -1)
	i=$((i + 1))
	[ "$i" -gt 50 ] && { cat "$T/ns.out"; fail "unshare did not fork"; }
	[ -n "$SDPID" ] || sleep 0.1
done
i=0
until [ "$(sc is-system-running 2> /dev/null)" = running ]; do
	i=$((i + 1))
	[ "$i" -gt 150 ] && { cat "$T/ns.out"; fail "systemd in the namespace did not come up"; }
	kill -0 "$SDPID" 2> /dev/null || { cat "$T/ns.out"; fail "systemd in the namespace exited"; }
	sleep 0.1
done
[ "$(readlink /proc/"$SDPID"/exe)" = "$(readlink -f "$SYSTEMD")" ] || fail "PID 1 of the namespace is not systemd"
ok "systemd $("$SYSTEMD" --version | head -1 | cut -d' ' -f2) runs as PID 1 of a private PID+mount namespace (host PID $SDPID)"

state() {	# ActiveState/SubState Result ExecMainStatus NRestarts
	echo "$(prop ActiveState)/$(prop SubState) $(prop Result) $(prop ExecMainStatus) $(prop NRestarts)"
}
journal() {	# [journalctl match]: systemd's messages about the unit
	[ $# -gt 0 ] || set -- -u danerelay.service
	timeout 30 nsenter -t "$SDPID" -m -p journalctl --no-pager -o cat "$@"
}
# wait_journal PATTERN SECONDS: wait for PATTERN in the daemon's lines in the
# journal (its stderr: SYSLOG_IDENTIFIER=danerelay, which systemd sets)
wait_journal() {
	local i=0
	until journal -t danerelay | grep -Eq -- "$1"; do
		i=$((i + 1))
		[ "$i" -gt $(($2 * 10)) ] && return 1
		sleep 0.1
	done
	return 0
}
nsproc() {	# FILE under /proc of the namespace
	timeout 10 nsenter -t "$SDPID" -m -p cat "/proc/$1"
}
setconf() {	# LOG_FILE: the daemon's configuration, conf() then stdin
	{ conf "$1"; cat; } > "/proc/$SDPID/root$R/danerelay.conf"
}
notes() {	# the daemon's notifications systemd logged, one a line
	journal | grep -E "Got notification message from PID $1 " || true
}

# 1. start
world_sink dane mx.one.dane.test -q
sc start danerelay.service || { sc status danerelay.service; fail "systemctl start danerelay failed"; }
[ "$(prop ActiveState)/$(prop SubState)" = active/running ] || fail "unit is $(state)"
MAIN=$(prop MainPID)
st=$(prop StatusText)
[ "$st" = "0 messages queued, 0 deliveries in progress" ] || fail "StatusText: '$st'"
notes "$MAIN" | grep -q '(READY=1' || { journal | tail -20; fail "systemd's log has no READY=1 from PID $MAIN"; }
ok "systemctl start returned on READY=1: active (running), StatusText '$st'"
wait_port "$NET.1" 25 5 || fail "not listening on $NET.1:25"
uid=$(id -u danerelay)
[ "$(nsproc "$MAIN/status" | awk '/^Uid:/ { print $2 " " $3 " " $4 " " $5 }')" = "$uid $uid $uid $uid" ] ||
    fail "main process not running as danerelay: $(nsproc "$MAIN/status" | grep '^Uid:')"
[ "$(nsproc "$MAIN/status" | awk '/^CapEff:/ { print $2 }')" = 0000000000000000 ] ||
    fail "capabilities left: $(nsproc "$MAIN/status" | grep '^Cap')"
nsproc "$MAIN/status" | grep -q '^NoNewPrivs:[[:space:]]*1' || fail "no_new_privs not set"
nsproc "$MAIN/status" | grep -Eq '^Seccomp:[[:space:]]*2' || fail "no seccomp filter (SystemCallFilter=)"
ok "listens on $NET.1:25, runs as danerelay (uid $uid) without capabilities, no_new_privs, seccomp filter"
# LimitNOFILE=65536, or as close as systemd could get without CAP_SYS_RESOURCE
want=65536
if [ $(( 16#$(awk '/^CapBnd:/ { print $2 }' /proc/self/status) >> 24 & 1 )) = 0 ] &&
    [ "$(ulimit -Hn)" -lt 65536 ]; then
	want=$(ulimit -Hn)
fi
assert_log "file descriptors: RLIMIT_NOFILE (raised .* to )?$want\$"

# 2. one message delivered from inside the sandbox, with DANE
export SMTP_PORT=25
inject s@sender.test r@one.dane.test
wait_done "$QID"
assert_log "$QID: DANE match: TLSA 3 1 1 at depth 0"
expect_delivered dane "$QID" s@sender.test r@one.dane.test
ok "delivered to the DANE sink from inside the sandbox"

# 3. reload
n0=$(notes "$MAIN" | wc -l)
sc reload danerelay.service || fail "systemctl reload failed"
wait_log "configuration reloaded from $R/danerelay\.conf" 10 || fail "no reload in the daemon's log"
assert_log "reloading the configuration from $R/danerelay\.conf"
i=0
until notes "$MAIN" | tail -n +$((n0 + 1)) | grep -A1000 '(RELOADING=1' | grep -q '(READY=1'; do
	i=$((i + 1))
	[ "$i" -gt 50 ] && { notes "$MAIN"; fail "systemd did not hear RELOADING=1 then READY=1"; }
	sleep 0.1
done
wait_prop SubState running 5 || fail "after reload: $(state)"
[ "$(prop MainPID)" = "$MAIN" ] || fail "main PID changed on reload"
ok "systemctl reload: RELOADING=1 then READY=1 reached systemd, same main PID, running"

# 4. stop with mail that cannot go yet: exit 0, the message stays
inject s@sender.test r@single.test
q2=$QID
wait_log "$q2: Temporary failure for <r@single\.test>" 30 || fail "$q2 not deferred"
wait_prop StatusText "1 message queued, 0 deliveries in progress" 10 ||
    fail "StatusText: '$(prop StatusText)'"
ok "StatusText follows the queue: '1 message queued, 0 deliveries in progress'"
sc stop danerelay.service || fail "systemctl stop failed"
[ "$(state)" = "inactive/dead success 0 0" ] || fail "after stop: $(state)"
assert_log "stopped$"
[ -n "$(find "$T/spool/msg" -name "$q2*")" ] || fail "$q2 not in the spool after stop"
notes "$MAIN" | grep -q '(STOPPING=1' || fail "systemd did not hear STOPPING=1"
ok "systemctl stop: exit 0 (Result=success), STOPPING=1 heard, $q2 kept in the spool"

# 5. a bad configuration fails the unit for good (exit 2, no restart)
setconf /var/log/danerelay/relay.log <<EOF
no_such_key = 1
EOF
sc start danerelay.service && fail "started with a bad configuration"
[ "$(state)" = "failed/failed exit-code 2 0" ] || fail "bad configuration: $(state), want failed/failed exit-code 2 0"
wait_journal "danerelay\.conf:[0-9]+: no_such_key: unknown key" 5 ||
    { journal -t danerelay | tail; fail "the reason is not in the journal"; }
journal | grep -q "Service will not restart (prevented by exit status)" ||
    fail "systemd did not say it prevents the restart"
ok "bad configuration: exit 2, failed/failed, no restart scheduled; the reason reaches the journal"
sc reset-failed danerelay.service
# control: an error that is not the configuration's (exit 1: log_file on
# the file system ProtectSystem=strict makes read-only) is restarted
setconf /var/spool/relay.log < /dev/null
sc start --no-block danerelay.service
wait_prop SubState auto-restart 15 || fail "exit 1: $(state), want a restart scheduled"
[ "$(prop ExecMainStatus)" = 1 ] || fail "exit 1: $(state)"
wait_journal "/var/spool/relay\.log.*[Rr]ead-only file system" 5 ||
    { journal -t danerelay | tail; fail "no read-only file system error in the journal"; }
sc stop danerelay.service
ok "control: exit 1 (log_file on the read-only /var/spool) gets a restart scheduled (Restart=on-failure)"

# 6. the installed default, log_file = - (stderr, to the journal): the
# kept message is recovered
setconf - < /dev/null
sc reset-failed danerelay.service 2> /dev/null	# unloaded once stopped
sc start danerelay.service || fail "start after the failures"
wait_journal "queue: /var/spool/danerelay: 1 messages? recovered" 5 || { journal -t danerelay | tail; fail "kept message not recovered"; }
[ "$(prop StatusText)" = "1 message queued, 0 deliveries in progress" ] || fail "StatusText: '$(prop StatusText)'"
sc stop danerelay.service || fail "systemctl stop failed"
[ "$(state)" = "inactive/dead success 0 0" ] || fail "after stop: $(state)"
ok "log_file = -: the daemon's lines reach the journal; the kept message was recovered; clean stop"

# 7. log_file = syslog: /dev/log, which PrivateDevices= keeps as a link
setconf syslog < /dev/null
sc start danerelay.service || fail "start with log_file = syslog"
i=0
until journal -t danerelay _TRANSPORT=syslog | grep -q "^started$"; do
	i=$((i + 1))
	[ "$i" -gt 50 ] && { journal -t danerelay | tail; fail "no 'started' over syslog in the journal"; }
	sleep 0.1
done
sc stop danerelay.service || fail "systemctl stop failed"
[ "$(state)" = "inactive/dead success 0 0" ] || fail "after stop: $(state)"
ok "log_file = syslog: the daemon's lines reach the journal through /dev/log"
exit 0
