# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# tests/e2e/dane.sh - helpers for the DANE delivery scenarios
# (tests/e2e/t_dane_*.sh, docs/dane.md). Source after lib.sh. The scenarios run
# against the signed test world (tests/world): tests/run starts one and
# exports WORLD_DIR; a scenario run alone starts its own in $T/world on
# DANE_WORLD_NS / DANE_WORLD_NET (default 127.53.2.1 / 127.62) and stops
# it at exit. MX hosts are sinks on their world address, port 25.
#
#   dane_conf POLICY        $T/relay.conf: base_conf + tls_policy POLICY,
#                           1s/2s backoff; extra lines (e.g. [domain]
#                           sections) on stdin are appended
#   addr_of HOST            the host's world address
#   mx_sink NAME HOST CERT [sink args]
#                           a sink for HOST on ADDR:25 presenting
#                           certs/CERT.chain.crt (CERT "-": no certificate,
#                           so no STARTTLS); messages in $T/NAME.msgs
#   sink_stop NAME          stop that sink (by its PID)
#   send RCPT               one message through the relay; sets QID
#   wait_msg NAME [N] [S]   wait for N messages in sink NAME; sets MSG (the newest)
#   env_of FILE KEY         an envelope line of a sink message file
#   assert_dane_delivery NAME HOST [SNI]
#                           the newest message in NAME came over TLS with
#                           SNI (default HOST), the log shows a DANE match
#                           and an authenticated session for $QID
#   wait_deferred RCPT [S]  the relay logged a 4.x temporary failure for
#                           <RCPT> of $QID and the spool holds it deferred
#   msg_count NAME          messages in sink NAME
#   stat_of NAME KEY        a counter of sink NAME's stats file

E2E=$top/tests/e2e
export PYTHONPATH=$E2E${PYTHONPATH:+:$PYTHONPATH}
SPOOL=$T/spool
DANE_OWN_WORLD=""

[ -x "$BIN" ] || fail "no $BIN (make asan-build)"
[ -x "$SINK" ] || fail "no $SINK (make asan-build)"
command -v swaks > /dev/null || fail "swaks is not installed (scripts/install-deps)"

dane_exit() {
	[ -n "$DANE_OWN_WORLD" ] && "$top/tests/world/mkworld" stop "$DANE_OWN_WORLD" > /dev/null 2>&1
	cleanup
}
trap dane_exit EXIT

if [ -z "${WORLD_DIR:-}" ] || [ ! -f "$WORLD_DIR/unbound.conf" ]; then
	DANE_OWN_WORLD=$T/world
	WORLD_NS=${DANE_WORLD_NS:-127.53.2.1} WORLD_NET=${DANE_WORLD_NET:-127.62} \
	    "$top/tests/world/mkworld" start "$DANE_OWN_WORLD" > "$T/world.log" 2>&1 ||
	    { cat "$T/world.log"; fail "could not start a test world"; }
	export WORLD_DIR=$DANE_OWN_WORLD
fi
CERTS=$WORLD_DIR/certs

addr_of() {
	local a
	a=$(awk -v n="$1" '$1 == n { print $2; exit }' "$WORLD_DIR/hosts")
	[ -n "$a" ] || fail "no address for $1 in $WORLD_DIR/hosts"
	echo "$a"
}

dane_conf() {
	base_conf "$T/relay.conf" < /dev/null
	sed -i "s|^tls_policy *=.*|tls_policy = $1|" "$T/relay.conf"
	{
		echo "min_backoff = 1s"
		echo "max_backoff = 2s"
		[ -t 0 ] || cat
	} >> "$T/relay.conf"
}

mx_sink() {
	local name=$1 host=$2 cert=$3 port=${MX_PORT:-25}
	shift 3
	if [ "$cert" = - ]; then
		sink_start "$name" "$(addr_of "$host"):$port" -H "$host" "$@"
	else
		[ -f "$CERTS/$cert.chain.crt" ] || fail "no certificate $CERTS/$cert.chain.crt"
		sink_start "$name" "$(addr_of "$host"):$port" -H "$host" \
		    -c "$CERTS/$cert.chain.crt" -k "$CERTS/$cert.key" "$@"
	fi
	eval "SINK_PID_$(echo "$name" | tr -c 'A-Za-z0-9_\n' _)=$SINK_PID"
}

sink_stop() {
	local v p
	v=SINK_PID_$(echo "$1" | tr -c 'A-Za-z0-9_\n' _)
	p=${!v:-}
	[ -n "$p" ] || fail "sink_stop: no sink $1"
	kill -TERM "$p" 2>/dev/null
	wait_pid_gone "$p" 50 || kill -KILL "$p" 2>/dev/null
	wait "$p" 2>/dev/null
	untrack "$p"
	eval "$v="
}

SEQ=0
send() {
	SEQ=$((SEQ + 1))
	swaks --server "$NET.1:10025" --helo client.test --from "s@sender.test" \
	    --to "$1" --h-Subject "$TEST_NAME $SEQ" --body "test $SEQ to $1" \
	    > "$T/swaks.$SEQ.out" 2>&1 || { cat "$T/swaks.$SEQ.out"; fail "swaks to $1 failed"; }
	QID=$(sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-Z]*\)\r\{0,1\}$/\1/p' "$T/swaks.$SEQ.out")
	[ -n "$QID" ] || { cat "$T/swaks.$SEQ.out"; fail "no queue id for $1"; }
	echo "sent $QID to $1"
}

msg_count() {
	local n=0 f
	for f in "$T/$1.msgs"/*.msg; do
		[ -f "$f" ] && n=$((n + 1))
	done
	echo "$n"
}

wait_msg() {
	local name=$1 want=${2:-1} max=$(( ${3:-20} * 10 )) i=0
	while [ "$(msg_count "$name")" -lt "$want" ]; do
		i=$((i + 1))
		[ "$i" -gt "$max" ] && fail "sink $name: $(msg_count "$name") message(s) after ${3:-20} s, want $want"
		sleep 0.1
	done
	MSG=$(ls -t "$T/$name.msgs"/*.msg | head -1)
	ok "sink $name holds $want message(s)"
}

env_of() {
	sed -n "/^\$/q; s/^$2: //p" "$1"
}

stat_of() {
	sed -n "s/^$2=//p" "$T/$1.stats" 2>/dev/null
}

assert_msg_tls() {	# FILE: came over TLS
	local t
	t=$(env_of "$1" tls)
	case $t in
	TLSv1.[23]\ *) ok "message came over $t" ;;
	*) fail "message $1 came over tls: '$t'" ;;
	esac
}

assert_msg_sni() {	# FILE NAME
	local s
	s=$(env_of "$1" sni)
	[ "$s" = "$2" ] || fail "SNI '$s', want '$2'"
	ok "SNI $2"
}

assert_msg_subject() {	# FILE: the message is the one just sent ($SEQ)
	grep -q "^Subject: $TEST_NAME $SEQ\$" "$1" || fail "$1 is not message $SEQ"
}

# assert_dane_delivery SINK HOST [SNI]: the last message sent went to SINK
# over TLS with SNI, authenticated by DANE according to the log.
assert_dane_delivery() {
	local sink=$1 host=$2 sni=${3:-$2}
	assert_msg_subject "$MSG"
	assert_msg_tls "$MSG"
	assert_msg_sni "$MSG" "$sni"
	wait_log "$QID: Successful delivery to <" 10 || fail "no successful delivery line for $QID"
	assert_log "$QID: Connecting to \[$(addr_of "$host")\]:${MX_PORT:-25} \(DNSSEC\)"
	assert_log "$QID: Connection is now using TLSv1\.[23] with cipher .*\(DANE\)"
	assert_log "$QID: DANE match: TLSA [23] [01] [012] at depth [0-9]"
}

# assert_unauth_delivery SINK HOST: over TLS, not authenticated.
assert_unauth_delivery() {
	assert_msg_subject "$MSG"
	assert_msg_tls "$MSG"
	wait_log "$QID: Successful delivery to <" 10 || fail "no successful delivery line for $QID"
	assert_log "$QID: Connecting to \[$(addr_of "$2")\]:${MX_PORT:-25}"
	assert_log "$QID: Connection is now using TLSv1\.[23] with cipher .*\(unauthenticated\)"
	assert_no_log "$QID: .*\(DANE\)"
	assert_no_log "$QID: DANE match"
}

# rcpt_state QID RCPT: "STATE ATTEMPTS ERROR" from the spool ("gone" if
# the message left the spool).
rcpt_state() {
	python3 - "$SPOOL" "$1" "$2" <<'PY'
import os, sys, spool
sp, qid, rcpt = sys.argv[1:4]
if not os.path.exists(os.path.join(sp, "msg", qid)):
	print("gone")
	sys.exit(0)
m = spool.load(sp, qid)
for r in m["rcpts"]:
	if r["addr"] == rcpt:
		print(r["state"], r["attempts"], r["error"] or "-")
		break
else:
	print("norcpt")
PY
}

# wait_deferred RCPT [SECONDS]: $QID's RCPT got a temporary failure (log)
# and is deferred in the spool. Sets DEFER_LINE.
wait_deferred() {
	local r=$1 s=${2:-20} st i=0
	wait_log "$QID: Temporary failure for <$r> \(retry [0-9]+\): 4\.[0-9]+\.[0-9]+" "$s" ||
	    fail "no temporary failure logged for <$r> ($QID)"
	DEFER_LINE=$(grep -E "$QID: Temporary failure for <$r>" "$RELAY_LOG" | head -1)
	echo "$DEFER_LINE"
	while :; do
		st=$(rcpt_state "$QID" "$r")
		case $st in deferred\ *) break ;; esac
		i=$((i + 1))
		[ "$i" -gt 50 ] && fail "<$r> of $QID is '$st' in the spool, want deferred"
		sleep 0.1
	done
	ok "<$r> of $QID deferred in the spool ($st)"
}

# assert_still_queued RCPT: not delivered, still in the spool.
assert_still_queued() {
	local st
	st=$(rcpt_state "$QID" "$1")
	case $st in
	deferred\ *|pending\ *) ok "<$1> of $QID still queued ($st)" ;;
	*) fail "<$1> of $QID is '$st', want still queued" ;;
	esac
	assert_no_log "$QID: Successful delivery to <$1>"
}
