#!/bin/bash
# t_queue_tool_escape: the queue tool prints no control characters from
# the daemon. The daemon runs as the unprivileged user (relay/privsep.h)
# and may be one taken over through the input it parses; the operator
# runs `danerelay queue ...` as root in a terminal. A fake daemon, run as
# danerelay on SPOOL/control, answers with escape sequences (a window
# title, a screen clear, a bell) in the body and in an ERR line: none of
# ESC, BEL or other C0/DEL bytes may reach root's stdout or stderr, and
# the text around them must.
. "$(dirname "$0")/lib.sh"

[ "$(id -u)" -eq 0 ] || skip "needs root"
id danerelay > /dev/null 2>&1 || fail "user danerelay missing (scripts/install-deps creates it)"

mkdir -m 700 "$T/spool"
chown danerelay: "$T/spool"
NO_DELIVERY=1 base_conf "$T/relay.conf"
cat > "$T/fake.py" <<'PY'
import os, socket, sys
path, ready = sys.argv[1], sys.argv[2]
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(path)
s.listen(4)
open(ready, "w").write("1")
answers = [b"OK\nqueue \x1b]0;pwned\x07listed\x1b[2J\x0f ok\n",
           b"ERR no \x1b[31msuch\x1b[0m id\x07\n"]
for a in answers:
    c, _ = s.accept()
    c.recv(4096)
    c.sendall(a)
    c.close()
PY
runuser -u danerelay -- python3 "$T/fake.py" "$T/spool/control" "$T/spool/ready" &
track $!
i=0
until [ -s "$T/spool/ready" ]; do
	i=$((i + 1))
	[ "$i" -gt 50 ] && fail "fake daemon did not start"
	sleep 0.1
done

"$BIN" -c "$T/relay.conf" queue list > "$T/list.out" 2> "$T/list.err"
st=$?
cat -v "$T/list.out" "$T/list.err"
[ "$st" -eq 0 ] || fail "queue list: exit $st"
if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$T/list.out" "$T/list.err"; then
	fail "a control character from the daemon reached root's terminal"
fi
grep -q "listed" "$T/list.out" && grep -q "ok" "$T/list.out" || fail "the text around them is gone"
ok "body: escape sequences shown as '?', text kept"

"$BIN" -c "$T/relay.conf" queue hold 0123456789ABCDE > "$T/hold.out" 2> "$T/hold.err"
st=$?
cat -v "$T/hold.out" "$T/hold.err"
[ "$st" -eq 1 ] || fail "queue hold refused: exit $st, want 1"
if LC_ALL=C grep -q "$(printf '[\001-\010\013-\037\177]')" "$T/hold.out" "$T/hold.err"; then
	fail "a control character in an ERR line reached root's terminal"
fi
grep -q "such" "$T/hold.err" || fail "the ERR text is gone"
ok "ERR line: escape sequences shown as '?', text kept"
exit 0
