#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_sched_limits: the scheduler keeps max_connections (3) and
# max_connections_per_domain (2) while 40 messages for two domains
# (single.test, sender.test; every fifth also to both) are delivered,
# measured at the receiving servers: both sinks hold each reply to the
# final "." for 400 ms and append every transaction's start and end to one
# events file (sink -E, one O_APPEND write each, so the file has one
# order). Each transaction lies inside the relay's attempt, so the peak of
# overlapping transactions per server and in all is a lower bound of the
# relay's concurrency: it must stay within 2 per domain and 3 in all, and
# (with transactions that long) reach those limits, which shows the
# measurement sees overlap. Every message is delivered once per domain (48
# transactions), leaves the spool, and SIGTERM exits 0 (ASan clean).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

world_sink single mx.single.test -w 400 -E "$T/events"
world_sink sender mx.sender.test -w 400 -E "$T/events"
dlv_conf "$T/relay.conf" <<'C'
max_connections = 3
max_connections_per_domain = 2
C
relay_start "$T/relay.conf"

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

# peak overlapping transactions per server address and in all
awk '$1 == "+" { c[$2]++; t++; n++; if (c[$2] > m[$2]) m[$2] = c[$2]; if (t > mt) mt = t }
     $1 == "-" { c[$2]--; t-- }
     END { for (a in m) print a, m[a]; print "all", mt + 0; print "transactions", n + 0 }' \
    "$T/events" > "$T/peaks"
cat "$T/peaks"
n=$(awk '$1 == "transactions" { print $2 }' "$T/peaks")
[ "$n" -eq 48 ] || fail "$n transactions at the sinks, want 48 (one per message and domain)"
ok "48 transactions: one per message and domain"
for h in mx.single.test mx.sender.test; do
	p=$(awk -v a="$(host_addr "$h"):25" '$1 == a { print $2 }' "$T/peaks")
	[ -n "$p" ] && [ "$p" -le 2 ] || fail "$h saw ${p:-no} overlapping transactions, limit 2 per domain"
	[ "$p" -eq 2 ] || fail "$h never saw 2 overlapping transactions: the measurement proves nothing"
	ok "$h: at most $p at once (limit 2 per domain)"
done
p=$(awk '$1 == "all" { print $2 }' "$T/peaks")
[ "$p" -le 3 ] || fail "$p overlapping transactions in all, limit 3"
[ "$p" -eq 3 ] || fail "never 3 overlapping transactions in all: the measurement proves nothing"
ok "at most $p at once in all (limit 3)"
[ "$(sink_stat single busy_peak)" -le 2 ] && [ "$(sink_stat sender busy_peak)" -le 2 ] ||
    fail "a sink's own busy_peak exceeds 2"

d=$(grep -h '^rcpt to:' "$T"/single.msgs/*.msg | wc -l)
[ "$d" -eq 44 ] || fail "single.test got $d recipients, want 44"
d=$(grep -h '^rcpt to:' "$T"/sender.msgs/*.msg | wc -l)
[ "$d" -eq 44 ] || fail "sender.test got $d recipients, want 44"
ok "every recipient delivered once"
# "Deleting mail file" is logged when the removal is handed to the commit
# workers (queue/commit.c), which run it a moment later: wait for it
wait_spool_empty 5
ok "spool empty"
relay_stop
ok "stopped cleanly"
