#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_signals: SIGHUP with a broken configuration keeps the daemon running
# on the old one and logs why (file:line); SIGHUP with a good one applies
# it (max_message_size, then log_file); SIGTERM with an idle session and a
# transaction stuck mid-DATA exits 0 promptly, leaves the accepted mail
# intact and nothing half-written, and a restart recovers exactly that mail.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

C=$T/relay.conf
base_conf "$C" < /dev/null
conf_set "$C" max_message_size 50K
relay_start "$C"

# send TAG SIZE WANT: one message of about SIZE octets, want reply code WANT;
# prints the queue id for 250.
send() {
	python3 - "$@" <<'EOF'
import os, sys, smtpclient as sc, spool
tag, size, want = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def main():
	c = sc.Client(os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], greet=True)
	c.ehlo("client.test")
	m = sc.make_content(tag, size=size, seed=size)
	r = c.send_message(tag + "@client.test", ["r@example.test"], m)
	assert r.code == want, "%s: want %d, got %r" % (tag, want, r)
	c.cmd("QUIT", 221)
	if want == 250:
		q = sc.queue_id_from(r.text)
		spool.check(os.environ["SPOOL"], q, m, tag + "@client.test", ["r@example.test"])
		print(q)
sc.run_main(main)
EOF
}

# ehlo_size: the SIZE the daemon advertises now.
ehlo_size() {
	python3 - <<'EOF'
import os, smtpclient as sc
c = sc.Client(os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], greet=True)
print([e for e in c.ehlo("client.test") if e.startswith("SIZE")][0])
c.cmd("QUIT", 221)
EOF
}

q1=$(send first 40000 250) || fail "40K message under the 50K limit: $q1"
ok "40K message accepted as $q1"

# 1. A broken configuration: old one stays.
cp "$C" "$C.good"
{ sed "s/^max_message_size.*/max_message_size = banana/" "$C.good"; echo "no_such_key = 1"; } > "$C"
kill -HUP "$RELAY_PID"
wait_log "relay\.conf:[0-9]+" 10 || fail "no log line naming the bad config's file:line after SIGHUP"
# the daemon has finished with the reload once it says it keeps the old one
wait_log "configuration reload failed" 10 || fail "no 'configuration reload failed' line"
kill -0 "$RELAY_PID" || fail "daemon died on a bad configuration"
grep -E "relay\.conf:[0-9]+" "$RELAY_LOG"
assert_log "relay\.conf:[0-9]+: max_message_size: \"banana\""
assert_log "relay\.conf:[0-9]+: no_such_key: unknown key"
assert_log "configuration reload failed \(2 errors\), keeping the current configuration"
[ "$(ehlo_size)" = "SIZE 51200" ] || fail "SIZE changed after a rejected reload: $(ehlo_size)"
q2=$(send second 40000 250) || fail "40K message after the rejected reload: $q2"
ok "still on the old configuration: SIZE 51200, $q2 accepted"

# 2. A good configuration with a smaller limit.
sed 's/^max_message_size.*/max_message_size = 10K/' "$C.good" > "$C"
n=$(wc -l < "$RELAY_LOG")
kill -HUP "$RELAY_PID"
i=0
while [ "$(ehlo_size)" != "SIZE 10240" ]; do
	i=$((i + 1)); [ "$i" -gt 50 ] && fail "SIZE still $(ehlo_size) after a good reload"
	sleep 0.2
done
tail -n +"$((n + 1))" "$RELAY_LOG" | grep -q 'configuration reloaded from .*relay\.conf' || fail "no log line for the reload"
send toobig 20000 552 > /dev/null || fail "20K message over the new 10K limit not refused"
q3=$(send third 5000 250) || fail "5K message under the new limit: $q3"
ok "new configuration applied: SIZE 10240, 20K refused, $q3 accepted"

# 3. A reload that moves the log. The daemon reloads as the user it
# dropped to (danerelay), which cannot create files in $T: the operator
# makes the new file for it, as logrotate's `create` would.
install -m 640 -o danerelay -g danerelay /dev/null "$T/relay2.log"
sed 's/^max_message_size.*/max_message_size = 10K/; s|^log_file.*|log_file = '"$T"'/relay2.log|' "$C.good" > "$C"
kill -HUP "$RELAY_PID"
wait_log . 10 "$T/relay2.log" || fail "nothing logged to the new log_file after SIGHUP"
q4=$(send fourth 3000 250) || fail "message after the log move: $q4"
wait_log "$q4: from=<fourth@client.test>" 5 "$T/relay2.log" || fail "accept line not in the new log_file"
ok "log_file change applied on SIGHUP"

# 4. SIGTERM with an idle session and a transaction stuck mid-DATA.
python3 - > "$T/term.out" 2>&1 <<'EOF' &
import os, time, smtpclient as sc
A, P = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"]
idle = sc.Client(A, P, greet=True)
idle.ehlo("idle.client.test")
busy = sc.Client(A, P, greet=True)
busy.ehlo("busy.client.test")
busy.cmd("MAIL FROM:<busy@client.test>", 250)
busy.cmd("RCPT TO:<r@example.test>", 250)
busy.cmd("DATA", 354)
busy.send(b"Subject: never finished\r\n\r\nhalf a message\r\n")
open(os.environ["T"] + "/term.ready", "w").close()
for c, n in ((idle, "idle"), (busy, "busy")):
	print(n, repr(c.expect_closed(timeout=30)))
EOF
cpid=$!
track "$cpid"
i=0
while [ ! -e "$T/term.ready" ]; do i=$((i + 1)); [ "$i" -gt 100 ] && fail "clients not ready"; sleep 0.1; done
RELAY_LOG=$T/relay2.log relay_stop
ok "SIGTERM: exit status 0 with an idle session and one mid-DATA"
# the exit line on the group commit (queue/commit.c): at least the three
# messages accepted since the log moved were committed, each with its
# fdatasync, in no more batches than operations
st=$(sed -n 's/.*spool: inbound \([0-9]*\) operations in \([0-9]*\) batches (\([0-9]*\) file syncs, \([0-9]*\) directory syncs); delivery [0-9]* operations.*/\1 \2 \3 \4/p' "$T/relay2.log")
[ -n "$st" ] || fail "no spool statistics line at exit"
set -- $st
[ "$1" -ge 3 ] && [ "$2" -le "$1" ] && [ "$3" -ge 3 ] && [ "$4" -le "$2" ] ||
    fail "implausible spool statistics: $st"
ok "exit line: inbound $1 operations in $2 batches, $3 file syncs, $4 directory syncs"
# the clients saw "421 4.3.2 ... Service shutting down" (RFC 5321 3.8),
# then the close, on both sessions
wait_pid_gone "$cpid" 100 || fail "the clients did not see their connections closed"
wait "$cpid"; st=$?
untrack "$cpid"
cat "$T/term.out"
[ "$st" -eq 0 ] || fail "the background clients exited $st"
for n in idle busy; do
	grep -qxF "$n b'421 4.3.2 relay.test Service shutting down\\r\\n'" "$T/term.out" ||
	    fail "the $n session did not get 421 4.3.2 before the close"
done
ok "both sessions got 421 4.3.2 and were closed"
[ ! -e "$SPOOL/lock" ] || python3 -c "import fcntl,sys; f=open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX|fcntl.LOCK_NB)" "$SPOOL/lock" ||
    fail "spool lock still held after exit"
assert_no_leftovers
assert_spool_count 4
for q in $q1 $q2 $q3 $q4; do
	[ -n "$(spool_ids | grep -x "$q")" ] || fail "$q missing after SIGTERM"
done
ok "accepted mail intact after SIGTERM"

# 5. Restart on the same spool: exactly those four are recovered.
relay_start "$C"
wait_log "queue: .*: 4 messages recovered, 0 incomplete removed" 10 "$T/relay2.log" ||
    fail "restart did not recover the 4 messages"
ok "restart recovered the 4 messages"
RELAY_LOG=$T/relay2.log relay_stop
