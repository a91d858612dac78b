#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_journal_fsync_eio: write(2) succeeds but fdatasync(2) fails, for real.
# The spool is an ext2 file system (4 KiB blocks) on a loop device whose
# backing file lives on a tmpfs. The blocks of three journals are punched
# out of the backing file and the tmpfs is filled: the spool's page cache
# still takes writes, but writing back a new block or a punched one finds
# no space, so fdatasync returns ENOSPC/EIO and Linux marks the pages clean
# (their data is lost on disk, though reading the file still shows it).
# Checked:
# - a message received then gets 452, never 250 (the fsync before 250);
# - a recipient deferred again gets its journal record written, the sync
#   fails, and the record is written AGAIN (not just synced again) with
#   backoff until a sync works; `queue hold` likewise writes its record
#   again;
# - `queue hold @DOMAIN` over two more messages of that domain whose syncs
#   fail (relay/queue_ctl.c, qop_synced): a line `ID: hold, but not made
#   durable: REASON` per message, the log line `ID: hold by the operator
#   (uid N) not made durable: REASON` per message, the count line `hold
#   @DOMAIN: 0 messages held, 1 already held, 2 failed`, exit status 1;
# - after the space returns, a clean stop, unmounting and mounting the file
#   system again (nothing from the page cache survives that), the journal
#   on disk holds the second deferral and the hold (queue list, offline);
#   no message is lost and no journal holds a bad record.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

command -v mkfs.ext2 >/dev/null || fail "mkfs.ext2 missing (e2fsprogs)"
mkdir -p "$T/fs" "$T/mnt"
mount -t tmpfs -o size=24m,mode=0755 tmpfs "$T/fs" || fail "cannot mount a tmpfs on $T/fs"
truncate -s 16m "$T/fs/img"
# inode tables written now, so that only data blocks need tmpfs pages later
mkfs.ext2 -q -F -b 4096 -E lazy_itable_init=0 "$T/fs/img" || fail "mkfs.ext2"
mount -o loop,errors=continue "$T/fs/img" "$T/mnt" ||
    skip "cannot mount a loop device here (no loop support in this kernel or container)"
SPOOL=$T/mnt/spool	# below the root: lost+found is no part of a spool

cat > "$T/rules" <<'R'
temp	450 4.2.0 mailbox busy
R
world_sink single mx.single.test -r "$T/rules"
dlv_conf "$T/relay.conf" <<EOF
min_backoff = 1h
max_backoff = 1h
EOF
sed -i "s|^spool_dir = .*|spool_dir = $SPOOL|" "$T/relay.conf"
relay_start "$T/relay.conf"
q() { "$BIN" -c "$T/relay.conf" queue "$@"; }

inject sender@sender.test temp1@single.test
A=$QID
inject sender@sender.test temp2@single.test
B=$QID
inject sender@sender.test temp3@single.test
C=$QID
for m in $A $B $C; do
	wait_log "$m: Temporary failure for <temp[123]@single\.test> \(retry 1\)" 30 || fail "$m not deferred"
done
i=0
until grep -q '^R 0 deferred 1 ' "$SPOOL/msg/$A.st" 2>/dev/null; do
	i=$((i + 1)); [ "$i" -gt 100 ] && fail "no journal record for $A"; sleep 0.1
done
for m in $B $C; do
	i=0
	until grep -q '^R 0 deferred 1 ' "$SPOOL/msg/$m.st" 2>/dev/null; do
		i=$((i + 1)); [ "$i" -gt 100 ] && fail "no journal record for $m"; sleep 0.1
	done
done
# every block the spool has so far goes to the backing file; the blocks of
# the three journals are punched out of it, then the tmpfs is filled
sync -f "$SPOOL"
for m in $A $B $C; do
	blk=$(debugfs -R "blocks /spool/msg/$m.st" "$T/fs/img" 2>/dev/null | tr -d ' ')
	case $blk in ''|*[!0-9]*) fail "no single block for msg/$m.st: '$blk'" ;; esac
	fallocate -p -o $((blk * 4096)) -l 4096 "$T/fs/img" || fail "cannot punch block $blk"
done
dd if=/dev/zero of="$T/fs/fill" bs=64k 2>/dev/null
left=$(python3 -c 'import os,sys; s=os.statvfs(sys.argv[1]); print(s.f_bavail * s.f_frsize)' "$T/fs")
[ "$left" -lt 65536 ] || fail "the backing tmpfs still has $left octets"
ok "the backing tmpfs is full; the spool's file system does not know"

# 1. a new message: its data cannot reach the disk, so no 250
python3 - "$NET.1" 10025 > "$T/full.out" 2>&1 <<'EOF'
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], int(sys.argv[2]), timeout=30)
s.ehlo("c.test")
try:
	s.sendmail("s@sender.test", ["x@single.test"], b"Subject: full\r\n\r\n" + (b"x" * 100 + b"\r\n") * 200)
	print("ACCEPTED")
except smtplib.SMTPDataError as e:
	print("DATA", e.smtp_code, e.smtp_error.decode())
s.quit()
EOF
grep -q "^DATA 452 4.3.1" "$T/full.out" || { cat "$T/full.out"; fail "a message whose fsync failed was not answered 452"; }
ok "fsync of a new message failed: 452 4.3.1, not 250"

# 2. A deferred again, B held: the records are written, their syncs fail
q flush "$A" > "$T/flush.out" 2>&1 || { cat "$T/flush.out"; fail "queue flush"; }
wait_log "$A: Temporary failure for <temp1@single\.test> \(retry 2\)" 30 || fail "$A not retried"
q hold "$B" > "$T/hold.out" 2>&1 && { cat "$T/hold.out"; fail "queue hold said the hold is durable"; }
grep -q "^$B: hold, but not made durable: " "$T/hold.out" || { cat "$T/hold.out"; fail "queue hold output"; }
ok "queue hold: $(grep "^$B" "$T/hold.out")"
wait_log "$A: queue: recipient journal not synced: (No space left on device|Input/output error)" 10 ||
    fail "no failed journal sync logged"
wait_log "$A: recipient journal records not durable, kept in memory, will write them again" 10 ||
    fail "the failed sync did not lead to writing the record again"
# written again with backoff (1s, 2s, 4s): the journal, as the page cache
# shows it, grows by a record per try; a storm would add dozens
sleep 5
n=$(grep -c '^R 0 deferred 2 ' "$SPOOL/msg/$A.st")
[ "$n" -ge 2 ] || fail "the record of $A was written $n time(s) in 5s, want it written again"
[ "$n" -le 5 ] || fail "the record of $A was written $n times in 5s: no backoff"
nb=$(grep -c '^H 1 ' "$SPOOL/msg/$B.st")
[ "$nb" -ge 2 ] || fail "the hold record of $B was written $nb time(s), want it written again"
ok "while syncs fail: $A's record written $n times, $B's hold $nb times in 5s"
# B is held (in memory) already; A and C get their hold records written
# and the syncs fail
rc=0
q hold @single.test > "$T/hold-dom.out" 2>&1 || rc=$?
cat "$T/hold-dom.out"
[ "$rc" -eq 1 ] || fail "queue hold @single.test exited $rc with its syncs failing, want 1"
for m in $A $C; do
	grep -Eq "^$m: hold, but not made durable: (No space left on device|Input/output error)\$" "$T/hold-dom.out" ||
	    fail "queue hold @single.test: no 'not made durable' line for $m"
	assert_log "$m: hold by the operator \(uid [0-9]+\) not made durable: (No space left on device|Input/output error)"
done
grep -q "^$B: held already\$" "$T/hold-dom.out" || fail "queue hold @single.test: $B not 'held already'"
grep -q "^hold @single\.test: 0 messages held, 1 already held, 2 failed\$" "$T/hold-dom.out" ||
    fail "queue hold @single.test: count line"
assert_log "queue hold @single\.test by uid [0-9]+: 0 messages held, 1 already held, 2 failed"
ok "queue hold @single.test with failing syncs: 2 not made durable, exit 1"
n=$(grep -c "recipient journal records not durable" "$RELAY_LOG")
[ "$n" -le 2 ] || fail "$n lines for the failed syncs in 5s, want one a minute"

# 3. the space returns: the next rewrite is durable
rm -f "$T/fs/fill"
wait_log "recipient journal writes work again" 40 || fail "no 'recipient journal writes work again'"
ok "the journal works again"
relay_stop
umount "$T/mnt" || fail "cannot unmount the spool"
mount -o loop "$T/fs/img" "$T/mnt" || fail "cannot mount the spool again"
"$BIN" -c "$T/relay.conf" queue list > "$T/off.txt" 2>&1
cat "$T/off.txt"
grep -Eq "^ +deferred +<temp1@single\.test> +attempts 2" "$T/off.txt" ||
    fail "after a remount the journal lacks $A's second deferral: the record written before the failed sync was lost"
grep -q "^$B! .*(held)" "$T/off.txt" || fail "after a remount $B is not held"
for m in $A $B $C; do
	grep -q "^$m" "$T/off.txt" || fail "after a remount $m is missing"
done
grep -Eq "bad journal record|cannot read the recipient journal" "$T/off.txt" &&
    fail "after a remount a journal is damaged"
ok "on disk after a remount: $A deferred twice, $B held, $C queued, no bad record"
umount "$T/mnt"
exit 0
