#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_bench_smoke: scripts/bench (make bench) cannot rot. Every benchmark
# scenario runs against danerelay at small scale (3 domains, 3 inbound
# sessions, 3 s of load each): DANE without and with outbound reuse, no
# TLS, one message per inbound connection, an open-loop fixed rate, 200
# idle sessions (all of them past EHLO at once, memory per session). Then
# Postfix as a DANE relay in one scenario, so that its private instance,
# the validating unbound and the mount namespace keep working too.
# scripts/bench --check fails a run unless every message the relay accepted
# arrived at the sink exactly once, over TLS and DANE-authenticated
# (according to the relay's own log) in the DANE scenarios, in plaintext
# without TLS, and danerelay exited 0 on SIGTERM; a run whose sink presents
# a key that no TLSA record matches must fail that check with nothing
# delivered. On top of that, this test reads the JSON lines: every scenario
# is there, with messages in it, and the header holds OpenSSL's own cost
# per handshake (build/tls_cost) and a durable write's on the spools'
# file system (build/sync_cost); and --repeat 2 gives two runs and one
# table row of medians.
# Speed is never asserted: the figures are printed only.
# Addresses: BENCH_NET.0.0/16, by default 127.(130 + TEST_INDEX % 90)
# (nothing else in the tests uses 127.130-219).
. "$(dirname "$0")/lib.sh"

LOADGEN=$B/loadgen
[ -x "$LOADGEN" ] || fail "no $LOADGEN (make asan-build)"
[ -x "$SINK" ] || fail "no $SINK (make asan-build)"
[ -x "$BIN" ] || fail "no $BIN (make asan-build)"
export BENCH_NET=${BENCH_NET:-127.$((130 + TEST_INDEX % 90))}

SCEN="dane-noreuse-3,dane-reuse-3,notls-3,perconn1-3,rate50-3,idle-200"
timeout 400 "$top/scripts/bench" --build "$B" --relays danerelay \
    --domains 3 --duration 3 --warm 0.5 --drain 30 --scenarios "$SCEN" \
    --check --out "$T/d" > "$T/bench-d.out" 2>&1
st=$?
cat "$T/bench-d.out"
[ "$st" -eq 0 ] || fail "scripts/bench (danerelay) exited with status $st"
ok "danerelay: every scenario delivered every message (bench --check)"

timeout 200 "$top/scripts/bench" --build "$B" --relays postfix \
    --domains 3 --duration 3 --warm 0.5 --drain 30 \
    --scenarios dane-reuse-3 --check --out "$T/p" > "$T/bench-p.out" 2>&1
st=$?
cat "$T/bench-p.out"
[ "$st" -eq 0 ] || fail "scripts/bench (postfix) exited with status $st"
ok "postfix: the DANE relay delivered every message (bench --check)"

# --repeat: two runs of a scenario, one row of medians with the range
timeout 200 "$top/scripts/bench" --build "$B" --relays danerelay \
    --domains 3 --duration 2 --warm 0.5 --drain 30 --scenarios notls-3 \
    --repeat 2 --check --out "$T/r" > "$T/bench-r.out" 2>&1
st=$?
cat "$T/bench-r.out"
[ "$st" -eq 0 ] || fail "scripts/bench --repeat 2 exited with status $st"
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if "scenario" in l]
assert sorted(x["run"] for x in r) == [1, 2], r' "$T/r/results.jsonl" ||
    fail "--repeat 2: not two runs in results.jsonl"
grep -Eq '^\| notls-3 \| danerelay \| [0-9]+ \| [0-9]+ \([0-9]+-[0-9]+\) \|' "$T/r/results.md" ||
    fail "--repeat 2: no median row with a range in results.md"
grep -q 'median of 2 runs' "$T/r/results.md" || fail "--repeat 2: the table does not say it shows medians"
ok "--repeat 2: two runs, one row of medians with the range"

# --check can fail: with the sink presenting a key that no TLSA record
# matches, DANE fails, nothing may arrive (no downgrade), the run fails.
timeout 200 "$top/scripts/bench" --build "$B" --relays danerelay \
    --domains 3 --duration 2 --warm 0.5 --drain 3 --scenarios dane-reuse-3 \
    --sink-cert mx.d1.bench.test --check --out "$T/n" > "$T/bench-n.out" 2>&1
st=$?
cat "$T/bench-n.out"
[ "$st" -eq 1 ] || fail "bench --check with a mismatched key exited $st, want 1"
grep -Eq '^CHECK FAILED: danerelay dane-reuse-3: missing [1-9]' "$T/bench-n.out" ||
    fail "no CHECK FAILED line for the missing messages"
python3 -c 'import json, sys
r = [json.loads(l) for l in open(sys.argv[1]) if "scenario" in l][0]
assert r["accepted"] > 0 and r["delivered"] == 0 and r["tls"] == 0, r' \
    "$T/n/results.jsonl" || fail "a message arrived although DANE failed"
ok "a key no TLSA matches: nothing delivered, bench --check fails"

# The JSON lines, read independently of --check.
python3 - "$T/d/results.jsonl" "$T/p/results.jsonl" "$SCEN" <<'EOF' || fail "results.jsonl"
import json, sys
rows = [json.loads(l) for f in sys.argv[1:3] for l in open(f)]
runs = {(r["relay"], r["scenario"]): r for r in rows if "relay" in r}
head = [r for r in rows if "machine" in r]
assert len(head) == 2 and head[0]["machine"]["nproc"] >= 1, head
# build/tls_cost ran and measured (it exits 1 unless every handshake
# authenticated by DANE and every one of the second run resumed)
for h in head:
    c = h["tls_handshake_cpu_us"]
    assert all(c[k] > 0 for k in ("full_client", "full_server",
        "resumed_client", "resumed_server")), c
    c = h["spool_sync_us"]
    assert all(c[k] > 0 for k in ("fdatasync_cpu", "fdatasync_wall",
        "dir_fsync_cpu", "dir_fsync_wall")), c
want = [("danerelay", s) for s in sys.argv[3].split(",")]
want.append(("postfix", "dane-reuse-3"))
for k in want:
    r = runs.get(k)
    assert r is not None, "no result for %s %s" % k
    if r["idle"]:
        assert r["ready_max"] == r["sessions"] and r["accepted"] == 0, r
        assert r["pss_per_session_kb"] is not None, r
        print("ok: %s %s: %d sessions idle at once, %s KB PSS each" % (
            k[0], k[1], r["ready_max"], r["pss_per_session_kb"]))
        continue
    assert r["accepted"] > 0 and r["delivered"] == r["accepted"], r
    assert r["dane"] == (r["delivered"] if r["policy"] == "dane" else 0), r
    assert r["cpu_ms_per_msg"] is not None and r["peak_pss_mb"] > 0, r
    assert r["p50_ms"] is not None, r
    print("ok: %s %s: %d accepted, %d delivered, %d DANE" % (
        k[0], k[1], r["accepted"], r["delivered"], r["dane"]))
assert runs[("danerelay", "perconn1-3")]["in_per_conn"] == 1
assert runs[("danerelay", "rate50-3")]["rate"] == 50
EOF
grep -q '^| dane-reuse-3 | postfix |' "$T/p/results.md" || fail "no Markdown row for Postfix"
grep -q '^| notls-3 | danerelay |' "$T/d/results.md" || fail "no Markdown row for danerelay"
ok "results.jsonl and results.md hold every scenario"
exit 0
