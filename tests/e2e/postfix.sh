# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/postfix.sh - a private Postfix instance for end-to-end tests.
# Source it after lib.sh. Everything lives under one directory (default
# $T/postfix): conf/ (main.cf, master.cf), queue/, data/, maillog. Every
# master.cf service runs with chroot n; smtpd listens only on the loopback
# address:port given; nothing is looked up in DNS (relayhost in brackets).
# The instance is stopped through its own pid file (postfix -c DIR stop)
# and, as a fallback, by its master PID (tracked, so lib.sh cleanup stops it).
#
#   postfix_setup ADDR:PORT RELAYHOST [SRC [DIR]]  write config, make
#                                            directories; SRC: source address
#                                            of its SMTP client
#   postfix_start [DIR]                      start, set PF_MASTER_PID
#   postfix_stop [DIR]                       stop, wait for the master to exit
#   postfix_wait_log REGEX [SECONDS] [DIR]   wait for a line in its maillog

PF_DIR=
PF_MASTER_PID=

postfix_setup() {
	local listen=$1 relayhost=$2 src=${3:-} dir=${4:-$T/postfix}
	PF_DIR=$dir
	mkdir -p "$dir/conf" "$dir/queue" "$dir/data"
	# Postfix daemons run as the postfix user and reach the queue through
	# the path: every parent must be searchable.
	chmod 755 "$T" "$dir"
	chown postfix "$dir/data"
	: > "$dir/maillog"
	cat > "$dir/conf/main.cf" <<-EOF
	# private test instance, see tests/e2e/postfix.sh
	compatibility_level = 3.6
	queue_directory = $dir/queue
	data_directory = $dir/data
	maillog_file = $dir/maillog
	maillog_file_prefixes = $dir
	mail_owner = postfix
	setgid_group = postdrop
	myhostname = mta.client.test
	mydomain = client.test
	myorigin = client.test
	mydestination =
	local_recipient_maps =
	alias_maps =
	alias_database =
	# smtpd's address is in master.cf; 127.0.0.1 is the only address
	# on lo that Postfix accepts here (it wants assigned addresses).
	inet_interfaces = loopback-only
	inet_protocols = ipv4
	mynetworks = 127.0.0.0/8
	smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination
	# The danerelay snippet (README): every outbound message goes to the relay.
	relayhost = $relayhost
	smtp_tls_security_level = may
	smtp_tls_loglevel = 1
	${src:+smtp_bind_address = $src}
	# Tests want quick turns, not politeness.
	queue_run_delay = 2s
	minimal_backoff_time = 2s
	maximal_backoff_time = 4s
	smtp_connect_timeout = 10s
	biff = no
	EOF
	cat > "$dir/conf/master.cf" <<-EOF
	# service type  private unpriv  chroot  wakeup  maxproc command
	$listen inet n       -       n       -       -       smtpd
	pickup    unix  n       -       n       60      1       pickup
	cleanup   unix  n       -       n       -       0       cleanup
	qmgr      unix  n       -       n       300     1       qmgr
	tlsmgr    unix  -       -       n       1000?   1       tlsmgr
	rewrite   unix  -       -       n       -       -       trivial-rewrite
	bounce    unix  -       -       n       -       0       bounce
	defer     unix  -       -       n       -       0       bounce
	trace     unix  -       -       n       -       0       bounce
	verify    unix  -       -       n       -       1       verify
	flush     unix  n       -       n       1000?   0       flush
	proxymap  unix  -       -       n       -       -       proxymap
	proxywrite unix -       -       n       -       1       proxymap
	smtp      unix  -       -       n       -       -       smtp
	relay     unix  -       -       n       -       -       smtp
	showq     unix  n       -       n       -       -       showq
	error     unix  -       -       n       -       -       error
	retry     unix  -       -       n       -       -       error
	discard   unix  -       -       n       -       -       discard
	local     unix  -       n       n       -       -       local
	anvil     unix  -       -       n       -       1       anvil
	scache    unix  -       -       n       -       1       scache
	postlog   unix-dgram n  -       n       -       1       postlogd
	EOF
}

postfix_start() {
	local dir=${1:-$PF_DIR} i=0
	postfix -c "$dir/conf" check > "$dir/check.out" 2>&1 ||
	    { cat "$dir/check.out" >&2; fail "postfix check failed"; }
	postfix -c "$dir/conf" start > "$dir/start.out" 2>&1 ||
	    { cat "$dir/start.out" "$dir/maillog"; fail "postfix start failed"; }
	while :; do
		PF_MASTER_PID=$(tr -d ' \n' < "$dir/queue/pid/master.pid" 2>/dev/null)
		[ -n "$PF_MASTER_PID" ] && kill -0 "$PF_MASTER_PID" 2>/dev/null && break
		i=$((i + 1))
		[ "$i" -gt 100 ] && { cat "$dir/start.out" "$dir/maillog"; fail "postfix master did not start"; }
		sleep 0.1
	done
	track "$PF_MASTER_PID"
}

postfix_stop() {
	local dir=${1:-$PF_DIR}
	[ -n "$PF_MASTER_PID" ] || return 0
	postfix -c "$dir/conf" stop >> "$dir/start.out" 2>&1 ||
	    kill -TERM "$PF_MASTER_PID" 2>/dev/null
	wait_pid_gone "$PF_MASTER_PID" 150 || { kill -KILL "$PF_MASTER_PID"; fail "postfix master did not stop"; }
	untrack "$PF_MASTER_PID"
	PF_MASTER_PID=
}

postfix_wait_log() {
	wait_log "$1" "${2:-30}" "${3:-$PF_DIR}/maillog"
}
