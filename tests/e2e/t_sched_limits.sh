#!/bin/bash
# t_sched_limits: the scheduler keeps max_connections (3) and
# max_connections_per_domain (2) while 40 messages for two domains
# (single.test, sender.test; every fifth also to both) are delivered: the
# daemon's debug line per attempt ("attempt to DOMAIN: N recipients, X in
# flight there, Y in all") never shows more, every message is delivered
# once per domain and leaves the spool, and SIGTERM exits 0 (ASan clean).
# Only upper bounds are asserted: how much overlap happens is timing.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

world_sink single mx.single.test
world_sink sender mx.sender.test
dlv_conf "$T/relay.conf" <<'C'
max_connections = 3
max_connections_per_domain = 2
C
# the same binary with -d, for the per-attempt debug line
printf '#!/bin/sh\nexec "%s" -d "$@"\n' "$BIN" > "$T/danerelay-d"
chmod +x "$T/danerelay-d"
BIN=$T/danerelay-d relay_start "$T/relay.conf"

python3 - "$NET.1" <<'PY' || fail "injection failed"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], 10025)
for i in range(40):
    dom = "single.test" if i % 2 else "sender.test"
    rcpts = ["a%d@%s" % (i, dom), "b%d@%s" % (i, dom)]
    if i % 5 == 0:
        rcpts.append("c%d@%s" % (i, "sender.test" if i % 2 else "single.test"))
    s.sendmail("s@sender.test", rcpts, "Subject: limits %d\r\n\r\nhi\r\n" % i)
s.quit()
PY
ok "40 messages injected"

i=0
while [ "$(grep -c 'Deleting mail file (all recipients done)' "$RELAY_LOG")" -lt 40 ]; do
	i=$((i + 1))
	[ "$i" -le 300 ] || fail "only $(grep -c 'Deleting mail file' "$RELAY_LOG") of 40 messages done"
	sleep 0.2
done
ok "40 messages done"

n=$(grep -c ': attempt to [a-z.]*: [0-9]* recipient' "$RELAY_LOG")
[ "$n" -eq 48 ] || fail "$n attempts, want 48 (one per message and domain)"
ok "48 attempts: one per message and domain"
maxdom=$(sed -n 's/.*, \([0-9]*\) in flight there, [0-9]* in all$/\1/p' "$RELAY_LOG" | sort -n | tail -1)
maxall=$(sed -n 's/.* in flight there, \([0-9]*\) in all$/\1/p' "$RELAY_LOG" | sort -n | tail -1)
[ -n "$maxdom" ] && [ "$maxdom" -le 2 ] || fail "per-domain in flight reached $maxdom, limit 2"
[ -n "$maxall" ] && [ "$maxall" -le 3 ] || fail "in flight reached $maxall, limit 3"
ok "at most $maxdom attempts per domain and $maxall in all (limits 2 and 3)"

d=$(grep -h '^rcpt to:' "$T"/single.msgs/*.msg | wc -l)
[ "$d" -eq 44 ] || fail "single.test got $d recipients, want 44"
d=$(grep -h '^rcpt to:' "$T"/sender.msgs/*.msg | wc -l)
[ "$d" -eq 44 ] || fail "sender.test got $d recipients, want 44"
ok "every recipient delivered once"
[ -z "$(ls "$T/spool/msg")" ] || fail "spool not empty: $(ls "$T/spool/msg")"
ok "spool empty"
relay_stop
ok "stopped cleanly"
