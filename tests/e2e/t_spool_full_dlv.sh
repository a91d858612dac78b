#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_spool_full_dlv: the spool is a 2 MB tmpfs, filled so that exactly the
# page the next message needs is free. One message to ok@ (answered 250) and
# temp@ (450) of single.test is accepted and fills the disk: when its
# delivery ends, neither recipient's journal record can be written
# (ENOSPC). The states hold in memory all the same: ok@ reaches the sink
# exactly once while temp@ is retried with backoff, and no retry storm
# follows. Once the space returns, the records are written again (the
# journal shows ok@ delivered), temp@ is accepted on a later retry and the
# message leaves the spool.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

mkdir -p "$T/fs"
mount -t tmpfs -o size=2m,mode=0755 tmpfs "$T/fs" || fail "cannot mount a tmpfs on $T/fs"
SPOOL=$T/fs/spool
FILLER=$T/fs/filler

cat > "$T/rules" <<'R'
temp@	450 4.2.0 mailbox busy
R
world_sink single mx.single.test -r "$T/rules"
dlv_conf "$T/relay.conf" <<EOF
min_backoff = 1s
max_backoff = 2s
EOF
sed -i "s|^spool_dir = .*|spool_dir = $SPOOL|" "$T/relay.conf"
relay_start "$T/relay.conf"

# Fill every page, then give back exactly one: the message takes it.
python3 - "$FILLER" <<'EOF' || fail "cannot fill the tmpfs"
import errno, os, sys
fd = os.open(sys.argv[1], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
for n in (65536, 4096, 1):
	try:
		while True:
			os.write(fd, b"F" * n)
	except OSError as e:
		assert e.errno == errno.ENOSPC, e
os.close(fd)
size = os.path.getsize(sys.argv[1])
os.truncate(sys.argv[1], size - size % 4096 - 4096)
EOF
inject sender@sender.test ok@single.test temp@single.test
q=$QID
left=$(python3 -c 'import os,sys; s=os.statvfs(sys.argv[1]); print(s.f_bavail * s.f_frsize)' "$SPOOL")
[ "$left" -eq 0 ] || fail "the spool has $left octets free after the message, want 0"
ok "the message took the last free page of the spool"

wait_log "$q: Successful delivery to <ok@single\.test>" 30 || fail "ok@ not delivered"
wait_log "$q: cannot record <(ok|temp)@single\.test> as (delivered|deferred) in the journal, kept in memory, will write it again: No space left on device" 10 ||
    fail "no journal write failure logged"
ok "journal records failed with ENOSPC"
# temp@ keeps its backoff while the disk stays full: wait for two retries
wait_log "$q: Temporary failure for <temp@single\.test> \(retry 3\)" 30 || fail "temp@ not retried while the disk is full"
[ "$(grep -c "$q: Successful delivery to <ok@" "$RELAY_LOG")" -eq 1 ] || fail "ok@ delivered more than once (log)"
n=$(grep -h '^rcpt to: <ok@single\.test>' "$T"/single.msgs/*.msg | wc -l)
[ "$n" -eq 1 ] || fail "ok@ reached the sink $n times while the disk was full, want 1"
ok "ok@ reached the sink once; temp@ retried with backoff"
# every retry of temp@ was spaced by the backoff (1s, then 2s): three
# attempts need at least 2s, and a storm would have made dozens
n=$(grep -c "$q: Temporary failure for <temp@" "$RELAY_LOG")
[ "$n" -le 4 ] || fail "temp@ tried $n times within its backoff"
n=$(grep -c "in the journal, kept in memory" "$RELAY_LOG")
[ "$n" -le 2 ] || fail "$n journal failure lines, want one per minute"
ok "journal failures logged $n time(s), not once per try"
[ ! -e "$SPOOL/msg/$q.st" ] || [ ! -s "$SPOOL/msg/$q.st" ] || fail "a journal record made it to a full disk?"

# the space returns: the records are written again, then temp@ goes through
rm -f "$FILLER"
wait_log "$q: recipient states written to the journal \(kept in memory meanwhile\)" 70 ||
    fail "the journal records were not written again after the space returned"
grep -Eq '^R 0 delivered 1 ' "$SPOOL/msg/$q.st" || { cat "$SPOOL/msg/$q.st"; fail "the journal lacks ok@ delivered"; }
ok "journal records written once the space returned"
: > "$T/rules"
kill -HUP "$(cat "$T/single.pid")"
wait_done "$q" 30
n=$(grep -h '^rcpt to: <ok@single\.test>' "$T"/single.msgs/*.msg | wc -l)
[ "$n" -eq 1 ] || fail "ok@ delivered $n times"
n=$(grep -h '^rcpt to: <temp@single\.test>' "$T"/single.msgs/*.msg | wc -l)
[ "$n" -eq 1 ] || fail "temp@ delivered $n times"
ok "ok@ and temp@ delivered once each"
relay_stop
left=$(find "$SPOOL/msg" -type f | wc -l)
[ "$left" -eq 0 ] || fail "$left files left in msg/"
ok "the message left the spool"
exit 0
