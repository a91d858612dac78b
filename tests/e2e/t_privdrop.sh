#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_privdrop: started as root with user = danerelay, the daemon drops root
# for good (relay/privsep.c): /proc/PID/status shows the user's uid and gid
# (real, effective, saved, fs), no other group and NoNewPrivs; mail still
# flows to a sink end to end; the spool, its directories and files and the
# log file belong to the user with modes 0700/0600; a SIGHUP reloads as
# the user and keeps the root-only TLS key loaded at start (STARTTLS still
# works). Then: a spool left by a root-run danerelay is taken over, a
# spool writable by others is refused (exit 2), an unknown user is refused
# (exit 2, naming useradd), `user = root` keeps root with a warning, and
# started as danerelay itself it runs as that user with no change.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/inbound.sh"

U=$(id -u danerelay 2> /dev/null) || fail "no user danerelay (scripts/install-deps creates it)"
G=$(id -g danerelay)
[ "$(id -u)" = 0 ] || fail "this scenario must start the daemon as root"

world_sink single mx.single.test
make_cert relay.test
chmod 600 "$T/relay.test.key"		# root only: read before the drop
dlv_conf "$T/relay.conf" <<C
user = danerelay
tls_cert_file = $T/relay.test.crt
tls_key_file = $T/relay.test.key
C
relay_start "$T/relay.conf"

# 1. credentials
st=/proc/$RELAY_PID/status
uids=$(awk '/^Uid:/ { print $2, $3, $4, $5 }' "$st")
gids=$(awk '/^Gid:/ { print $2, $3, $4, $5 }' "$st")
groups=$(awk '/^Groups:/ { $1 = ""; print }' "$st" | xargs)
nnp=$(awk '/^NoNewPrivs:/ { print $2 }' "$st")
echo "Uid: $uids / Gid: $gids / Groups: $groups / NoNewPrivs: $nnp"
[ "$uids" = "$U $U $U $U" ] || fail "daemon uids are '$uids', want $U (danerelay) four times"
[ "$gids" = "$G $G $G $G" ] || fail "daemon gids are '$gids', want $G four times"
[ "$groups" = "$G" ] || fail "supplementary groups '$groups', want only $G"
[ "$nnp" = 1 ] || fail "NoNewPrivs is '$nnp'"
ok "daemon runs as danerelay ($U:$G), no_new_privs set"
assert_log "running as user danerelay \(uid $U, gid $G\), root dropped for good"

# 2. mail flows end to end
inject sender@sender.test r1@single.test
q=$QID
wait_done "$q" 30
expect_delivered single "$q" sender@sender.test r1@single.test
ok "delivered end to end as danerelay"

# 3. a deferred message (sender.test's MX is down) shows the file modes
inject sender@sender.test r2@sender.test
qd=$QID
wait_log "$qd: Temporary failure for <r2@sender\.test>" 30 || fail "$qd not deferred"
mode() { stat -c '%U:%G %a' "$1"; }
# the spool itself 0710: its group reaches the control socket, nothing else
[ "$(mode "$T/spool")" = "danerelay:danerelay 710" ] || fail "$T/spool is $(mode "$T/spool")"
for d in "$T/spool/tmp" "$T/spool/msg" "$T/spool/corrupt"; do
	[ "$(mode "$d")" = "danerelay:danerelay 700" ] || fail "$d is $(mode "$d")"
done
for f in "$T/spool/lock" "$T/spool/msg/$qd" "$T/spool/msg/$qd.st"; do
	[ "$(mode "$f")" = "danerelay:danerelay 600" ] || fail "$f is $(mode "$f")"
done
[ "$(stat -c %U "$RELAY_LOG")" = danerelay ] || fail "log file belongs to $(stat -c %U "$RELAY_LOG")"
ok "spool 0710, its directories 0700, files 0600, all danerelay's; log file danerelay's"

# 4. SIGHUP as the user: the root-only key is kept, STARTTLS still works
kill -HUP "$RELAY_PID"
wait_log "configuration reloaded from" 10 || fail "SIGHUP reload failed as the user"
assert_log "cannot re-read $(re_esc "$T/relay.test.key") as the unprivileged user .*keeping the ones loaded at start"
python3 - "$NET.1" <<'PY' || fail "STARTTLS after the reload"
import smtplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
s = smtplib.SMTP(sys.argv[1], 10025, timeout=10)
s.ehlo("client.test")
assert s.has_extn("starttls"), "no STARTTLS offered after the reload"
code, _ = s.starttls(context=ctx)
assert code == 220, code
s.ehlo("client.test")
s.quit()
print("ok: STARTTLS works after a SIGHUP run as danerelay")
PY
relay_stop

# 5. a spool left by a danerelay that ran as root is taken over; in msg/,
# a symbolic link and a hard link to root's files elsewhere and a FIFO are
# left to root (never chowned through, never opened)
chown -R root:root "$T/spool"
echo secret > "$T/root-file1"
echo secret > "$T/root-file2"
chmod 600 "$T/root-file1" "$T/root-file2"
ln -s "$T/root-file1" "$T/spool/msg/odd-symlink"
ln "$T/root-file2" "$T/spool/msg/odd-hardlink"
mkfifo -m 600 "$T/spool/msg/odd-fifo"
# a root-owned file left in the spool stops the start (exit 2), by name
"$BIN" -c "$T/relay.conf" > "$T/hardlink.out" 2>&1
rc=$?
[ "$rc" = 2 ] || { cat "$T/hardlink.out"; fail "a hard link to a root file in msg/: exit $rc, want 2"; }
grep -q "spool/msg/odd-hardlink belongs to uid 0, but danerelay runs as uid $U" "$T/hardlink.out" ||
    { cat "$T/hardlink.out"; fail "no clear message for the hard link"; }
assert_log "spool $(re_esc "$T/spool"): [0-9]+ entries owned by root given to user danerelay; 3 left to root \(not a regular file, or a file with another link\)"
[ "$(mode "$T/root-file2")" = "root:root 600" ] || fail "root-file2 became $(mode "$T/root-file2") through a hard link"
rm "$T/spool/msg/odd-hardlink"
relay_start "$T/relay.conf"
assert_log "spool $(re_esc "$T/spool"): 0 entries owned by root given to user danerelay; 2 left to root"
[ "$(mode "$T/spool/msg/$qd")" = "danerelay:danerelay 600" ] || fail "taken-over file is $(mode "$T/spool/msg/$qd")"
for f in "$T/root-file1" "$T/root-file2"; do
	[ "$(mode "$f")" = "root:root 600" ] || fail "$f became $(mode "$f") through a link in the spool"
done
f=$(find "$T/spool" -name odd-fifo)
[ -n "$f" ] && [ "$(stat -c %U "$f")" = root ] || fail "the FIFO was chowned or lost: '$f'"
ok "root-owned spool taken over; links and a FIFO left to root"
relay_stop
find "$T/spool" -name 'odd-*' -exec rm -f {} +

# 6. a spool another user can write is refused
chmod 770 "$T/spool"
"$BIN" -c "$T/relay.conf" > "$T/refused.out" 2>&1
rc=$?
cat "$T/refused.out"
[ "$rc" = 2 ] || fail "writable spool: exit $rc, want 2"
grep -q "spool_dir $T/spool is writable by group or others (mode 0770)" "$T/refused.out" ||
    fail "no clear message for a group-writable spool"
chmod 700 "$T/spool"
ok "group-writable spool refused with exit 2"

# 7. an unknown user: exit 2 and how to create it
sed 's/^user = .*/user = danerelay-nosuch/' "$T/relay.conf" > "$T/nouser.conf"
"$BIN" -c "$T/nouser.conf" > "$T/nouser.out" 2>&1
rc=$?
cat "$T/nouser.out"
[ "$rc" = 2 ] || fail "unknown user: exit $rc, want 2"
grep -q "danerelay-nosuch does not exist; create it with \`useradd --system" "$T/nouser.out" ||
    fail "no useradd hint"
"$BIN" -c "$T/nouser.conf" -t > /dev/null 2>&1 && fail "-t accepts an unknown user"
ok "unknown user refused with exit 2 and a useradd hint"

# 8. user = root keeps root, with a warning
mkdir -m 700 "$T/rootspool"
sed -e 's/^user = .*/user = root/' -e "s|^spool_dir = .*|spool_dir = $T/rootspool|" \
    "$T/relay.conf" > "$T/root.conf"
relay_start "$T/root.conf"
assert_log "user = root: running as root, privileges are not dropped"
[ "$(awk '/^Uid:/ { print $3 }' "/proc/$RELAY_PID/status")" = 0 ] || fail "user = root did not keep root"
ok "user = root keeps root, with a warning"
relay_stop

# 9. started as danerelay (not root): runs as that user, changes nothing
install -d -m 700 -o danerelay -g danerelay "$T/userdir"
sed -e '/^user = /d' -e '/^tls_/d' -e "s|^spool_dir = .*|spool_dir = $T/userdir/spool|" \
    -e "s|^log_file = .*|log_file = $T/userdir/relay.log|" "$T/relay.conf" > "$T/user.conf"
chmod 644 "$T/user.conf"
printf '#!/bin/sh\nexec setpriv --reuid=danerelay --regid=danerelay --clear-groups -- "%s" "$@"\n' \
    "$BIN" > "$T/danerelay-user"
chmod 755 "$T/danerelay-user"
BIN=$T/danerelay-user RELAY_LOG=$T/userdir/relay.log relay_start "$T/user.conf"
RELAY_LOG=$T/userdir/relay.log assert_log "running as danerelay \(uid $U\): not started as root, no privilege change"
[ "$(awk '/^Uid:/ { print $3 }' "/proc/$RELAY_PID/status")" = "$U" ] || fail "not running as danerelay"
[ "$(mode "$T/userdir/spool")" = "danerelay:danerelay 710" ] || fail "spool is $(mode "$T/userdir/spool")"
ok "started as danerelay: runs as danerelay, spool created 0710 (0700 + group search for the control socket)"
RELAY_LOG=$T/userdir/relay.log relay_stop
exit 0
