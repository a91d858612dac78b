#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_queue_ctl_link: the queue tool talks only to the daemon's own socket.
# SPOOL/control replaced by a symbolic link to the real socket, by a
# regular file, by a socket owned by another user, and by a socket of the
# daemon's user whose listener runs as another user: each time `queue
# list` refuses with a clear error (exit 1), does not fall back to reading
# the spool, and the daemon sees no request. Put back, the socket works.
. "$(dirname "$0")/lib.sh"

NO_DELIVERY=1 base_conf "$T/relay.conf"
relay_start "$T/relay.conf"
S=$T/spool
q() { "$BIN" -c "$T/relay.conf" queue "$@"; }
q list > "$T/ok.out" 2>&1 || { cat "$T/ok.out"; fail "queue list against the daemon"; }
assert_log "control: uid 0 \(pid [0-9]+\): list"
n0=$(grep -c "control: uid 0 .*: list" "$RELAY_LOG")
owner=$(stat -c %U "$S")

refused() {	# WHAT PATTERN
	if q list > "$T/r.out" 2>&1; then
		cat "$T/r.out"; fail "$1: queue list succeeded"
	fi
	grep -Eq -- "$2" "$T/r.out" || { cat "$T/r.out"; fail "$1: error lacks /$2/"; }
	if grep -q "reading the spool directly" "$T/r.out"; then
		fail "$1: fell back to reading the spool"
	fi
	ok "$1: $(head -1 "$T/r.out")"
}

# 1. a symbolic link to the real socket
mv "$S/control" "$S/control.real"
ln -s control.real "$S/control"
refused "symbolic link" "^danerelay: list: $S/control is not a socket \(a symbolic link\): refused"
rm "$S/control"

# 2. a regular file
install -o "$owner" -m 600 /dev/null "$S/control"
refused "regular file" "is not a socket \(a regular file\): refused"
rm "$S/control"

# 3. a socket owned by another user
ln "$S/control.real" "$S/control"
chown nobody "$S/control"
refused "socket owned by nobody" "^danerelay: list: $S/control belongs to uid [0-9]+, not to the spool's owner \(uid [0-9]+\) nor root: refused"
chown "$owner" "$S/control"
rm "$S/control"

# 4. the owner's socket, but its listener runs as another user
mkdir -m 1777 "$T/other"
setpriv --reuid=nobody --regid=nogroup --clear-groups /usr/bin/python3 - "$T/other/sock" > "$T/other.log" 2>&1 <<'EOF' &
import socket, sys, time
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1])
s.listen(4)
s.settimeout(30)
try:
	c, _ = s.accept()
	c.sendall(b"OK\nfrom an impostor\n")
	c.close()
except socket.timeout:
	pass
EOF
IMP=$!
track "$IMP"
i=0
until [ -S "$T/other/sock" ]; do
	i=$((i + 1)); [ "$i" -gt 50 ] && fail "the impostor did not listen"; sleep 0.1
done
mv "$T/other/sock" "$S/control"
chown "$owner" "$S/control"
refused "listener not the spool's owner" "the process listening there runs as uid [0-9]+, not as the spool's owner \(uid [0-9]+\) nor root: refused"
grep -q "impostor" "$T/r.out" && fail "the impostor's answer was shown"
rm "$S/control"
kill "$IMP" 2>/dev/null; wait "$IMP" 2>/dev/null; untrack "$IMP"

# the daemon saw none of it; its socket, put back, works
n=$(grep -c "control: uid 0 .*: list" "$RELAY_LOG")
[ "$n" -eq "$n0" ] || fail "the daemon got $((n - n0)) request(s) through a refused path"
mv "$S/control.real" "$S/control"
q list > "$T/ok2.out" 2>&1 || { cat "$T/ok2.out"; fail "queue list once the socket is back"; }
ok "the daemon's own socket works again"
relay_stop
exit 0
