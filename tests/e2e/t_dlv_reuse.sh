#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_reuse: several messages to the same destination share a
# connection: (1) five messages sent one after the other, each delivered
# before the next is injected, reuse the cached idle connection; (2) a
# burst of 20 with max_connections_per_domain = 2 travels over fewer
# connections than messages. The sink counts connections; its message
# files show transaction numbers above 1 on one session.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

world_sink single mx.single.test
dlv_conf "$T/relay.conf" <<'CONF'
max_connections_per_domain = 2
CONF
relay_start "$T/relay.conf"

# 1. one after the other
for i in 1 2 3 4 5; do
	inject sender@sender.test "r$i@single.test"
	wait_done "$QID"
	expect_delivered single "$QID" sender@sender.test "r$i@single.test"
done
c=$(sink_stat single connections)
m=$(sink_stat single messages)
echo "sequential: $m messages over $c connections"
[ "$m" -eq 5 ] || fail "sink counts $m messages, want 5"
[ "$c" -lt "$m" ] || fail "no connection reuse: $c connections for $m messages"
grep -l '^transaction: [2-9]' "$T"/single.msgs/*.msg > /dev/null || fail "no second transaction on a session"
ok "sequential messages reuse the connection"

# 2. a burst
inject_n 20 burst sender@sender.test burst@single.test
for q in $QIDS; do wait_done "$q"; done
for q in $QIDS; do expect_delivered single "$q" sender@sender.test burst@single.test > /dev/null; done
c2=$(( $(sink_stat single connections) - c ))
m2=$(( $(sink_stat single messages) - m ))
echo "burst: $m2 messages over $c2 connections"
[ "$m2" -eq 20 ] || fail "sink counts $m2 burst messages, want 20"
[ "$c2" -lt 10 ] || fail "burst: $c2 connections for 20 messages"
ok "burst of 20 over $c2 connections"
relay_stop
exit 0
