#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_crash_soak: the crash-cycle soak, short (SOAK_CYCLES, default 10;
# scripts/soak runs 100). While 6 clients send mail back to back, the
# daemon is killed with SIGKILL at a random moment and restarted on the
# same spool, again and again; it delivers all along to three sinks on the
# test world (single.test and sender.test opportunistic, one.dane.test
# DANE-only, so deliveries are authenticated by TLSA). After the last
# cycle the spool drains and the daemon stops with status 0. Every
# recipient of every message that got 250 reached its server (0 lost),
# every copy is intact with our Received: header, no message whose final
# "." was never sent was delivered, and no bounce was made
# (tests/e2e/soak.py does the load, the kills and the count).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

world_sink single mx.single.test -q
world_sink sender mx.sender.test -q
world_sink dane mx.one.dane.test -q
dlv_conf "$T/relay.conf" <<'C'
[domain one.dane.test]
tls_policy = dane-only
C
python3 "$E2E/soak.py" --bin "$BIN" --conf "$T/relay.conf" --log "$RELAY_LOG" \
    --stderr "$T/relay.stderr" --spool "$T/spool" --addr "$NET.1" --port 10025 \
    --sink "$T/single.msgs" --sink "$T/sender.msgs" --sink "$T/dane.msgs" \
    --rcpts r@single.test,r@one.dane.test,r@sender.test \
    --pidfile "$T/helper.pid" --cycles "${SOAK_CYCLES:-10}" ${SOAK_SEED:+--seed "$SOAK_SEED"} \
    2>&1 | tee "$T/soak.out"
st=${PIPESTATUS[0]}
[ "$st" -eq 0 ] || fail "soak failed (status $st)"
# one.dane.test is dane-only: each copy there came over TLS authenticated
# by its TLSA record
grep -q 'Connection is now using .* (DANE)$' "$RELAY_LOG" || fail "no DANE-authenticated connection logged"
[ "$(sink_count dane)" -gt 0 ] || fail "nothing delivered to one.dane.test"
! grep -l '^tls: plain' "$T"/dane.msgs/*.msg > /dev/null || fail "a plaintext delivery to one.dane.test"
assert_no_log 'Permanent failure'
assert_no_log 'AddressSanitizer|runtime error' "$T/relay.stderr"
ok "$(grep '^acknowledged:' "$T/soak.out"); $(grep '^lost:' "$T/soak.out")"
