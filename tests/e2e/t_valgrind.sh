#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_valgrind: the release build (build/danerelay, -O2 -g, what `make`
# installs; not the ASan copy the other scenarios run) under valgrind's
# memcheck, through the daemon's real work on the signed test world:
#  1. inbound STARTTLS (swaks --tls) and a DANE-authenticated delivery to
#     mx1.secure.test (TLSA 3 1 1);
#  2. one message to single.test, answered 250 for ok@ and 550 for perm@:
#     a delivery, a bounce and its DSN delivered to mx.sender.test;
#  3. a deferral (nothing listens on three.test's MX hosts), the queue tool
#     on it (list, explain, hold, release; the tool runs under valgrind
#     too), SIGHUP (reload), then SIGUSR1 (flush) with a sink up: delivered;
#  4. inbound flow control: max_connections = 1, a sink slow to answer the
#     final dot (-w 1500), four messages on one session: a MAIL waits;
#  5. SIGTERM: the daemon exits 0.
# Then every valgrind log (the daemon's and each queue tool's) must say
# "ERROR SUMMARY: 0 errors" and show no definitely lost bytes, and every
# message must be at its sink. A report inside OpenSSL, libunbound or
# libevent that is not the project's doing would be suppressed in
# tests/valgrind.supp with its reason (none is today); never one of the
# project's frames.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

REL=${VG_BUILD:-$top/build}/danerelay
[ -x "$REL" ] || fail "no $REL (make vg-build; make check builds it)"
command -v valgrind > /dev/null || fail "valgrind is not installed (scripts/install-deps)"
command -v swaks > /dev/null || fail "swaks is not installed (scripts/install-deps)"
if ldd "$REL" | grep -q 'libasan\|libtsan'; then
	fail "$REL is a sanitizer build; valgrind needs the release build"
fi

# The daemon and each queue tool run under tests/valgrind (its options and
# why), one log per process in $VG. valgrind opens the daemon's log as
# root; anything that opened one after the drop to the user danerelay
# (a forked child) would need $VG writable: mode 1777, as tests/run's
# TSan report directory.
VG=$T/vg
mkdir -p "$VG" && chmod 1777 "$VG"
printf '#!/bin/bash\nexec %q exec %q %q "$@"\n' "$top/tests/valgrind" "$VG" "$REL" > "$T/vg-danerelay"
chmod +x "$T/vg-danerelay"
BIN=$T/vg-danerelay
RELAY_WAIT=60

q() { "$BIN" -c "$T/relay.conf" queue "$@"; }

for h in mx1.three.test mx2.three.test mx3.three.test; do
	a=$(host_addr "$h")
	python3 -c "import socket,sys; socket.create_connection((sys.argv[1], 25), 2)" "$a" 2> /dev/null &&
	    fail "something listens on $a:25 ($h): the deferral needs it refused"
done
echo 'perm@	550 5.1.1 user unknown' > "$T/rules"
world_sink secure mx1.secure.test
world_sink single mx.single.test -w 1500 -r "$T/rules"
world_sink sender mx.sender.test
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -days 2 -subj "/CN=relay.test" -addext "subjectAltName=DNS:relay.test" \
    -keyout "$T/relay.test.key" -out "$T/relay.test.crt" > "$T/openssl-req.out" 2>&1 ||
    { cat "$T/openssl-req.out"; fail "openssl req"; }
dlv_conf "$T/relay.conf" <<CONF
min_backoff = 10m
max_backoff = 1h
max_connections = 1
in_flow_delay = 2s
tls_cert_file = $T/relay.test.crt
tls_key_file = $T/relay.test.key
CONF
# the daemon's default policy (lib.sh's base_conf says may, which skips TLSA)
sed -i 's/^tls_policy = .*/tls_policy = dane/' "$T/relay.conf"
t0=$(mono_now)
relay_start "$T/relay.conf"
echo "valgrind: daemon up in $(awk -v a="$t0" -v b="$(mono_now)" 'BEGIN { print b - a }') s"

# --- 1. inbound STARTTLS, DANE delivery
swaks --server "$NET.1:10025" --tls --helo client.test --from s@sender.test \
    --to r@secure.test --h-Subject "$TEST_NAME dane" --body "over DANE" \
    --timeout 60 > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "swaks --tls failed"; }
grep -Eq '=== TLS started with cipher TLSv1\.[23]' "$T/swaks.out" || { cat "$T/swaks.out"; fail "swaks did not start TLS"; }
QID=$(sed -n 's/.*<~  250 .*queued as \([0-9A-Z]*\).*/\1/p' "$T/swaks.out" | head -1)
[ -n "$QID" ] || { cat "$T/swaks.out"; fail "no queue id"; }
ok "inbound STARTTLS: $QID accepted"
wait_done "$QID" 60
assert_log "$QID: Connection is now using TLSv1\.[23] with cipher .*\(DANE\)"
assert_log "$QID: DANE match: TLSA 3 1 1 at depth 0"
[ "$(sink_count secure)" -eq 1 ] || fail "mx1.secure.test holds $(sink_count secure) messages, want 1"
grep -q "^Subject: $TEST_NAME dane" "$T"/secure.msgs/*.msg || fail "mx1.secure.test: not our message"
ok "DANE-authenticated delivery to mx1.secure.test"

# --- 2. a delivery, a bounce, its DSN
inject sender@sender.test ok@single.test perm@single.test
q2=$QID
wait_log "$q2: Permanent failure for <perm@single\.test>: 550 5\.1\.1" 60 || fail "perm@ not bounced"
wait_done "$q2" 60
expect_delivered single "$q2" sender@sender.test ok@single.test
dsnid=$(dsn_id "$q2")
[ -n "$dsnid" ] || fail "no DSN for $q2"
wait_done "$dsnid" 60
[ "$(sink_count sender)" -eq 1 ] || fail "mx.sender.test holds $(sink_count sender) messages, want the DSN"
ok "ok@ delivered, perm@ bounced, DSN $dsnid delivered"

# --- 3. a deferral, the queue tool, SIGHUP, SIGUSR1
inject sender@sender.test rc@three.test
q3=$QID
wait_log "$q3: Temporary failure for <rc@three\.test> \(retry 1\): 4\.4\.1 " 60 || fail "$q3 not deferred"
q list > "$T/list.out" || { cat "$T/list.out"; fail "queue list"; }
grep -q "^$q3 " "$T/list.out" || { cat "$T/list.out"; fail "queue list lacks $q3"; }
q explain "$q3" > "$T/explain.out" || { cat "$T/explain.out"; fail "queue explain"; }
grep -q "^  <rc@three\.test>: deferred" "$T/explain.out" || { cat "$T/explain.out"; fail "queue explain: output"; }
q hold "$q3" > "$T/hold.out" || { cat "$T/hold.out"; fail "queue hold"; }
wait_log "$q3: held by the operator" 10 || fail "hold not logged"
q release "$q3" > "$T/release.out" || { cat "$T/release.out"; fail "queue release"; }
wait_log "$q3: released by the operator" 10 || fail "release not logged"
ok "queue list, explain, hold, release"
sed -i 's/^in_flow_delay = .*/in_flow_delay = 3s/' "$T/relay.conf"
kill -HUP "$RELAY_PID"
wait_log "configuration reloaded from $T/relay.conf" 60 || fail "SIGHUP: no reload"
ok "SIGHUP: configuration reloaded"
world_sink three mx1.three.test
kill -USR1 "$RELAY_PID"
wait_log "queue flush: 1 deferred recipient due now" 30 || fail "SIGUSR1: no flush"
wait_done "$q3" 60
expect_delivered three "$q3" sender@sender.test rc@three.test
ok "SIGUSR1: the deferred message delivered"

# --- 4. inbound flow control: MAIL waits for delivery to make room
python3 "$E2E/flowclient.py" --n 4 --to flow@single.test --timeout 60 > "$T/flow.out" 2>&1 ||
    { cat "$T/flow.out"; fail "flowclient failed"; }
cat "$T/flow.out"
[ "$(awk '$3 == 250' "$T/flow.out" | wc -l)" -eq 4 ] || fail "not every message accepted"
assert_log "inbound flow: delivery is behind"
w=$(awk '{ ms = int($2 * 1000); if (ms > m) m = ms } END { print m + 0 }' "$T/flow.out")
[ "$w" -ge 300 ] || fail "no MAIL waited (longest ${w} ms)"
ok "a MAIL waited ${w} ms for delivery"
wait_sink_count single 5 90 || fail "mx.single.test holds $(sink_count single) of 5"
for id in $(awk '{ print $4 }' "$T/flow.out"); do
	wait_done "$id" 30
done
ok "the four messages delivered"

# --- 5. SIGTERM: exit 0 (99 if memcheck found an error)
t0=$(mono_now)
relay_stop
echo "valgrind: daemon stopped in $(awk -v a="$t0" -v b="$(mono_now)" 'BEGIN { print b - a }') s"
ok "daemon exited 0 under valgrind"

# --- the valgrind logs: one per process, each clean
"$top/tests/valgrind" check "$VG" || fail "valgrind reports errors or definite leaks (above)"
n=$(ls "$VG"/*.log | wc -l)
grep -l "Command: $REL -c $T/relay.conf\$" "$VG"/*.log > /dev/null || fail "no valgrind log of the daemon ($REL)"
# the daemon and four queue tool runs
[ "$n" -eq 5 ] || fail "$n valgrind logs, want 5"
ok "$n valgrind logs: 0 errors, nothing definitely lost"
exit 0
