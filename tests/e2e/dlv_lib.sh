# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/dlv_lib.sh - helpers for the delivery scenarios (t_dlv_*.sh).
# Source after lib.sh. Uses the DNS test world in $WORLD_DIR (tests/run
# starts one); run alone without it, the scenario starts its own world in
# $T/world (WORLD_NS / WORLD_NET from the environment, mkworld's defaults
# otherwise) and stops it at exit. Receiving servers are the test sink on
# the world's MX host addresses (port 25), which every scenario using the
# same zone shares: each scenario stops its sinks at exit (lib.sh tracks
# them), and tests/run gives each of its lanes a world of its own, so that
# two scenarios of one world never run at once.

E2E=$top/tests/e2e
export PYTHONPATH=$E2E${PYTHONPATH:+:$PYTHONPATH}
export SMTP_ADDR=$NET.1 SMTP_PORT=10025
[ -x "$BIN" ] || fail "no $BIN (make asan-build)"
[ -x "$SINK" ] || fail "no $SINK (make asan-build)"

if [ -z "${WORLD_DIR:-}" ] || [ ! -f "$WORLD_DIR/hosts" ]; then
	WORLD_DIR=$T/world
	export WORLD_DIR
	"$top/tests/world/mkworld" start "$WORLD_DIR" > "$T/world.log" 2>&1 ||
	    { cat "$T/world.log"; fail "mkworld start"; }
	trap '"$top/tests/world/mkworld" stop "$WORLD_DIR" > /dev/null 2>&1; cleanup' EXIT
fi

# re_esc TEXT: TEXT as a literal in an extended regex.
re_esc() {
	printf '%s' "$1" | sed 's/[][\.*^$+?(){}|/]/\\&/g'
}

# host_addr NAME: the world's (first) IPv4 address of NAME.
host_addr() {
	local a
	a=$(awk -v n="$1" '$1 == n { print $2; exit }' "$WORLD_DIR/hosts")
	[ -n "$a" ] || fail "no address for $1 in $WORLD_DIR/hosts"
	echo "$a"
}

# world_sink NAME HOST [sink args]: a sink named NAME on HOST's address,
# port 25, offering STARTTLS with HOST's world certificate.
world_sink() {
	local name=$1 host=$2
	shift 2
	sink_start "$name" "$(host_addr "$host"):25" -H "$host" \
	    -c "$WORLD_DIR/certs/$host.crt" -k "$WORLD_DIR/certs/$host.key" "$@"
}

# sink_stop NAME: stop the sink NAME (SIGTERM: it flushes its stats).
sink_stop() {
	local p
	p=$(cat "$T/$1.pid" 2>/dev/null) || fail "sink $1 has no pid file"
	kill -TERM "$p" 2>/dev/null
	wait_pid_gone "$p" 50 || fail "sink $1 did not stop"
	wait "$p" 2>/dev/null
	untrack "$p"
}

# dlv_conf FILE: base_conf with short retries and timeouts; extra lines
# on stdin (they replace these defaults: the parser refuses a key twice).
dlv_conf() {
	local extra="" k
	[ -t 0 ] || extra=$(cat)
	{
		for k in "min_backoff = 1s" "max_backoff = 2s" "connect_timeout = 5s"; do
			printf '%s\n' "$extra" | grep -q "^${k%% *} *=" || echo "$k"
		done
		[ -n "$extra" ] && printf '%s\n' "$extra"
	} | base_conf "$1"
}

# inject FROM RCPT...: one message; sets QID, the sent content in $T/sent/QID.eml.
inject() {
	local from=$1 args="" r
	shift
	for r in "$@"; do args="$args --to $r"; done
	# shellcheck disable=SC2086
	QID=$(python3 "$E2E/dlv.py" inject --from "$from" $args --tag "$TEST_NAME" --out "$T/sent") ||
	    { echo "$QID"; fail "injection failed"; }
	[ -n "$QID" ] || fail "no queue id"
	echo "injected $QID from <$from> to $*"
}

# inject_n N TAG FROM RCPT...: N messages on one connection; QIDS (list).
inject_n() {
	local n=$1 tag=$2 from=$3 args="" r
	shift 3
	for r in "$@"; do args="$args --to $r"; done
	# shellcheck disable=SC2086
	QIDS=$(python3 "$E2E/dlv.py" inject --from "$from" $args --n "$n" --tag "$tag" --out "$T/sent") ||
	    { echo "$QIDS"; fail "injection failed"; }
	[ "$(echo "$QIDS" | wc -l)" -eq "$n" ] || fail "injected $(echo "$QIDS" | wc -l) of $n"
}

# sink_count NAME: number of messages the sink NAME holds.
sink_count() {
	find "$T/$1.msgs" -name '*.msg' 2> /dev/null | wc -l
}

# wait_sink_count NAME N [SECONDS]: wait until the sink holds >= N messages.
wait_sink_count() {
	local i=0 max=$(( ${3:-30} * 10 ))
	while [ "$(sink_count "$1")" -lt "$2" ]; do
		i=$((i + 1))
		[ "$i" -gt "$max" ] && return 1
		sleep 0.1
	done
	return 0
}

# sink_stat NAME KEY: a counter from the sink's stats file (0 if none yet).
sink_stat() {
	local v
	v=$(sed -n "s/^$2=//p" "$T/$1.stats" 2> /dev/null)
	echo "${v:-0}"
}

# expect_delivered SINK QID FROM RCPT...: the sink NAME holds exactly one
# copy of QID, with that envelope and the content intact; sets MSGFILE.
expect_delivered() {
	local sink=$1 qid=$2 from=$3 args="" r n
	shift 3
	for r in "$@"; do args="$args --rcpt $r"; done
	MSGFILE=$(python3 "$E2E/dlv.py" find "$T/$sink.msgs" "$qid")
	n=$(printf '%s' "$MSGFILE" | grep -c .)
	[ "$n" -eq 1 ] || fail "sink $sink holds $n copies of $qid, want 1"
	# shellcheck disable=SC2086
	python3 "$E2E/dlv.py" check "$MSGFILE" "$T/sent/$qid.eml" "$qid" --from "$from" $args ||
	    fail "sink $sink: $qid not as sent"
}

# expect_not_delivered SINK QID
expect_not_delivered() {
	local f
	f=$(python3 "$E2E/dlv.py" find "$T/$1.msgs" "$2")
	[ -z "$f" ] || fail "sink $1 got $2 ($f)"
	ok "sink $1 did not get $2"
}

# wait_done QID [SECONDS]: wait for the message's "Deleting mail file".
wait_done() {
	wait_log "$1: Deleting mail file \(all recipients done\)" "${2:-30}" ||
	    fail "$1 not done within ${2:-30}s"
	ok "$1: all recipients done"
}

# wait_spool_empty [SECONDS]: wait until no message is left in the spool
# (a DSN is committed there before its message's bounce is recorded, so an
# empty spool after the last message is done means no DSN is on its way).
wait_spool_empty() {
	local i=0 max=$(( ${1:-30} * 10 ))
	while [ -n "$(ls "$T/spool/msg" 2> /dev/null)" ]; do
		i=$((i + 1))
		[ "$i" -gt "$max" ] && fail "spool not empty after ${1:-30}s: $(ls "$T/spool/msg")"
		sleep 0.1
	done
	return 0
}

# dsn_id QID: the queue id of the DSN the relay made for QID (empty if none).
dsn_id() {
	sed -n "s/.*: $1: sender non-delivery notification: \([0-9A-Z]*\)$/\1/p" "$RELAY_LOG" | head -1
}

# dsn_files SINK: the files in SINK from the null sender.
dsn_files() {
	grep -l '^mail from: <>' "$T/$1.msgs"/*.msg 2> /dev/null
}

# relay_start_queueing: a relay ($T/relay.conf) whose mail to single.test
# and three.test stays queued, for the queue tool's scenarios: nothing may
# listen on those domains' MX hosts (checked: a connection must be
# refused), and a deferred recipient waits 10 minutes at least.
relay_start_queueing() {
	local h a
	for h in mx.single.test mx1.three.test mx2.three.test mx3.three.test; do
		a=$(host_addr "$h")
		python3 -c "import socket,sys; socket.create_connection((sys.argv[1], 25), 2)" "$a" 2> /dev/null &&
		    fail "something listens on $a:25 ($h): the test needs it refused"
	done
	dlv_conf "$T/relay.conf" <<'CONF'
min_backoff = 10m
max_backoff = 1h
CONF
	relay_start "$T/relay.conf"
}
