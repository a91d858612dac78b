#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_logrotate: scripts/danerelay.logrotate, run by the real logrotate(8)
# against the running daemon (dropped to the user danerelay), with only its
# paths pointed at this test: the log files are renamed, new ones created
# for the user (`create`), and the postrotate `danerelay reopen` (over the
# control socket) makes the daemon write to the new files. Lines and
# accounting records after the rotation are in the new files, none in the
# old ones; nothing logged before it is lost.
. "$(dirname "$0")/lib.sh"

command -v logrotate > /dev/null || fail "logrotate missing (scripts/install-deps installs it)"
getent passwd danerelay > /dev/null || fail "no user danerelay (scripts/install-deps creates it)"
mkdir "$T/log"
chown danerelay:danerelay "$T/log"
chmod 750 "$T/log"
RELAY_LOG=$T/log/danerelay.log
NO_DELIVERY=1 base_conf "$T/relay.conf" <<CONF
acct_file = $T/log/acct.csv
CONF

# the shipped snippet, its paths moved into T, the binary and configuration
# the test's; everything else (create, postrotate, sharedscripts) unchanged
sed -e "s|/var/log/danerelay/|$T/log/|g" \
    -e "s|/usr/local/sbin/danerelay|$BIN|" \
    -e "s|/etc/danerelay/danerelay.conf|$T/relay.conf|" \
    -e "s|/var/spool/danerelay|$T/spool|" \
    "$top/scripts/danerelay.logrotate" > "$T/logrotate.conf"
grep -q "$T/log/danerelay.log" "$T/logrotate.conf" || fail "snippet: log path not found to rewrite"
grep -q "$BIN -c $T/relay.conf reopen" "$T/logrotate.conf" || fail "snippet: no reopen command"
chmod 644 "$T/logrotate.conf"

relay_start "$T/relay.conf"
send() {	# SUBJECT: one message, deferred (NO_DELIVERY), returns its queue id
	swaks --server "$NET.1" --port 10025 --from a@relay.test --to b@example.test \
	    --h-Subject "$1" --body x > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "swaks"; }
	sed -n 's/.*<- *250 .*queued as \([0-9A-Z]*\).*/\1/p' "$T/swaks.out" | tail -1
}
q1=$(send before)
[ -n "$q1" ] || { cat "$T/swaks.out"; fail "no queue id in the 250 reply"; }
wait_log "$q1: Temporary failure" 30 || fail "$q1 not deferred"
wait_log "^t,.*,$q1," 10 "$T/log/acct.csv" || fail "no accounting record for $q1"

logrotate -v -f -s "$T/logrotate.state" "$T/logrotate.conf" > "$T/lr.out" 2>&1 ||
    { cat "$T/lr.out"; fail "logrotate failed"; }
cat "$T/lr.out"
[ -f "$T/log/danerelay.log.1" ] && [ -f "$T/log/acct.csv.1" ] || { ls -l "$T/log"; fail "files not rotated"; }
[ "$(stat -c %U:%G "$T/log/danerelay.log")" = danerelay:danerelay ] || fail "new log not created for the user"
wait_log "log_file and acct_file reopened" 10 || fail "daemon did not reopen (postrotate)"
ok "logrotate renamed both files, created new ones for the user, the daemon reopened them"

q2=$(send after)
wait_log "$q2: Temporary failure" 30 || fail "$q2 not logged in the new log file"
wait_log "^t,.*,$q2," 10 "$T/log/acct.csv" || fail "no accounting record for $q2 in the new file"
head -1 "$T/log/acct.csv" | grep -q '^type,timeLogged' || fail "new accounting file lacks its header"
grep -q "$q2" "$T/log/danerelay.log.1" "$T/log/acct.csv.1" && fail "$q2 written to a rotated file"
grep -q "$q1: Temporary failure" "$T/log/danerelay.log.1" || fail "$q1's lines lost from the rotated log"
grep -q ",$q1," "$T/log/acct.csv.1" || fail "$q1's record lost from the rotated accounting file"
ok "after the rotation lines and records go to the new files only; nothing before it is lost"
relay_stop
exit 0
