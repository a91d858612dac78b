#!/usr/bin/env python3
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
"""tests/bench/benchstat.py - the measuring half of scripts/bench.

  benchstat.py sample OUT.json ROOTPID...
      Until SIGTERM: every 250 ms the proportional set size (PSS, from
      /proc/PID/smaps_rollup) summed over each ROOTPID and all its
      descendants; keeps the peak. CPU time of the same trees (utime +
      stime + cutime + cstime of every process: a child's time folds into
      its parent's cutime/cstime when it is reaped, so the sum only grows
      while the roots live) at start and at SIGTERM, and the machine's busy
      time from /proc/stat over the same span. Writes {"cpu_ms",
      "peak_pss_kb", "samples", "machine_busy_cpus", "others_busy_cpus"
      (busy CPUs on average, all / not the measured relay: the load
      generator, the sink and whatever else runs on the machine)} to
      OUT.json.

  benchstat.py analyze [options]
      One JSON object (one line) per run from the load generator's
      accepted file ("SEQ NS" per 250), the sink's arrivals file
      ("SEQ NS tls|plain" per message received), the sampler's JSON and the
      relay's log: steady-state accepted and delivered msg/s (from --warm
      seconds after the first 250 to the last), latency percentiles from the
      relay's 250 to the arrival at the sink (messages accepted in that
      same window), CPU ms
      per delivered message, peak PSS, DANE-authenticated deliveries; for
      an idle scenario (--loadgen's ready_max, --base-pss KB before the
      sessions) the PSS each idle session adds.

  benchstat.py show RESULT.json
      One line of figures for the terminal.

  benchstat.py check RESULT.json
      Exit 1 (with "CHECK FAILED: ...") unless the run delivered every
      accepted message exactly once, each DANE-authenticated and over TLS
      under policy dane, in plaintext under policy none (bench --check).

  benchstat.py table RESULTS.jsonl
      The Markdown table of a run, with danerelay/Postfix ratios on
      danerelay's rows: delivered msg/s ("delivered x") and CPU per message
      ("CPU/msg x", 1/N: danerelay needs N times less). Several runs of a
      relay and scenario (bench --repeat) make one row of medians, the
      delivered msg/s with its range, the counts summed; the ratios are
      those of the medians.

DANE-authenticated deliveries are counted from the relay's own log.
danerelay: a delivered queue id whose connection line ends "(DANE)"
(README.md, "What the log shows"), plus deliveries over a reused connection when
every connection of the run was DANE-authenticated. Postfix (log level 1):
"Verified TLS connection established" per connection; its deliveries count
as authenticated when every TLS connection of the run was verified (Postfix
logs TLS per connection, not per message).
"""
import json
import os
import re
import signal
import sys
import time

HZ = os.sysconf("SC_CLK_TCK")


def proc_table():
    """{pid: (ppid, cpu_ticks)} of every process now."""
    t = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                s = f.read()
        except OSError:
            continue
        # the command may hold spaces and parentheses: split after the last ')'
        f = s[s.rindex(")") + 2:].split()
        # fields 4 (ppid), 14-17 (utime stime cutime cstime), 1-based
        t[int(d)] = (int(f[1]), sum(int(x) for x in f[11:15]))
    return t


def tree(roots, table):
    kids = {}
    for pid, (ppid, _) in table.items():
        kids.setdefault(ppid, []).append(pid)
    out, todo = set(), [r for r in roots if r in table]
    while todo:
        p = todo.pop()
        if p in out:
            continue
        out.add(p)
        todo.extend(kids.get(p, []))
    return out


def pss_kb(pid):
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cmd_sample(out, roots):
    roots = [int(r) for r in roots]
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))

    def cpu(table):
        return sum(table[p][1] for p in tree(roots, table))

    def busy():
        # the whole machine: jiffies not idle or iowait, and all of them
        with open("/proc/stat") as f:
            v = [int(x) for x in f.readline().split()[1:]]
        return sum(v) - v[3] - v[4], sum(v)

    table = proc_table()
    cpu0 = cpu(table)
    busy0, all0 = busy()
    peak = n = 0
    while not stop:
        table = proc_table()
        peak = max(peak, sum(pss_kb(p) for p in tree(roots, table)))
        n += 1
        time.sleep(0.25)
    cpu1 = cpu(proc_table())
    busy1, all1 = busy()
    ncpu = os.cpu_count() or 1
    with open(out, "w") as f:
        json.dump({"cpu_ms": (cpu1 - cpu0) * 1000.0 / HZ,
                   "peak_pss_kb": peak, "samples": n,
                   # how busy the machine was meanwhile, in CPUs, and how
                   # much of that was not the measured relay
                   "machine_busy_cpus": round(
                       (busy1 - busy0) * ncpu / max(1, all1 - all0), 2),
                   # (clamped: the two clocks tick apart)
                   "others_busy_cpus": max(0.0, round(
                       ((busy1 - busy0) - (cpu1 - cpu0)) * ncpu /
                       max(1, all1 - all0), 2))}, f)


def read_pairs(path, ncols):
    rows = []
    with open(path) as f:
        for line in f:
            p = line.split()
            if len(p) >= ncols:
                rows.append(p)
    return rows


def pct(sorted_vals, q):
    if not sorted_vals:
        return None
    i = min(len(sorted_vals) - 1, max(0, int(round(q * len(sorted_vals))) - 1))
    return sorted_vals[i]


def dane_danerelay(log):
    qid_re = re.compile(r"danerelay\[\d+\]: ([^:\s]+): (.*)$")
    delivered, dane_q, reused_q = set(), set(), set()
    conns = dane_conns = 0
    with open(log, errors="replace") as f:
        for line in f:
            m = qid_re.search(line)
            if not m:
                continue
            q, text = m.group(1), m.group(2)
            if text.startswith("Successful delivery to"):
                delivered.add(q)
            elif text.startswith("Connection is now using"):
                conns += 1
                if text.endswith("(DANE)"):
                    dane_conns += 1
                    dane_q.add(q)
            elif text.startswith("Reusing connection to"):
                reused_q.add(q)
    plain = len(delivered - dane_q - reused_q)
    n = len(delivered & dane_q)
    if conns > 0 and conns == dane_conns:
        n += len((delivered & reused_q) - dane_q)
    return {"delivered_log": len(delivered), "dane": n,
            "tls_connections": conns, "dane_connections": dane_conns,
            "reused_deliveries": len(delivered & reused_q),
            "new_connection_plain": plain}


def dane_postfix(log):
    sent = verified = other_tls = 0
    with open(log, errors="replace") as f:
        for line in f:
            if "status=sent" in line:
                sent += 1
            elif "Verified TLS connection established" in line:
                verified += 1
            elif re.search(r"(Untrusted|Anonymous|Trusted) TLS connection "
                           r"established", line):
                other_tls += 1
    return {"delivered_log": sent,
            "dane": sent if verified > 0 and other_tls == 0 else 0,
            "tls_connections": verified + other_tls,
            "dane_connections": verified}


def cmd_analyze(args):
    a = dict(zip(args[0::2], args[1::2]))
    acc = read_pairs(a["--accepted"], 2)
    arr = read_pairs(a["--arrivals"], 3)
    with open(a["--sample"]) as f:
        smp = json.load(f)
    warm = float(a.get("--warm", "2"))
    t_acc = {int(s): int(t) for s, t in acc}
    t_arr, tls = {}, 0
    dups = 0
    for s, t, how in arr:
        s = int(s)
        if s in t_arr:
            dups += 1
            continue
        t_arr[s] = int(t)
        tls += how == "tls"
    r = {"relay": a["--relay"], "scenario": a["--scenario"]}
    r.update(json.loads(a.get("--params", "{}")))
    r["accepted"] = len(t_acc)
    r["delivered"] = sum(1 for s in t_acc if s in t_arr)
    r["missing"] = r["accepted"] - r["delivered"]
    r["duplicates"] = dups
    r["unexpected"] = sum(1 for s in t_arr if s not in t_acc)
    r["tls"] = tls
    start = 0
    if t_acc:
        start = min(t_acc.values()) + warm * 1e9
        end = max(t_acc.values())
        span = (end - start) / 1e9
        if span > 0:
            r["accepted_per_s"] = round(
                sum(1 for t in t_acc.values() if start <= t <= end) / span, 1)
            r["delivered_per_s"] = round(
                sum(1 for t in t_arr.values() if start <= t <= end) / span, 1)
        r["backlog_at_end"] = (sum(1 for t in t_acc.values() if t <= end) -
                               sum(1 for t in t_arr.values() if t <= end))
    # latency in the steady state too: messages accepted after the warm-up
    # (the first ones wait for cold DNS caches and new connections)
    lat = sorted(max(0, t_arr[s] - t_acc[s]) / 1e6
                 for s in t_acc if s in t_arr and t_acc[s] >= start)
    for name, q in (("p50_ms", 0.5), ("p99_ms", 0.99), ("p999_ms", 0.999)):
        v = pct(lat, q)
        r[name] = round(v, 2) if v is not None else None
    r["cpu_ms"] = round(smp["cpu_ms"], 1)
    r["cpu_ms_per_msg"] = (round(smp["cpu_ms"] / r["delivered"], 3)
                           if r["delivered"] else None)
    r["peak_pss_mb"] = round(smp["peak_pss_kb"] / 1024.0, 1)
    lg = {}
    if "--loadgen" in a:
        with open(a["--loadgen"]) as f:
            lg = dict(l.strip().split("=", 1) for l in f if "=" in l)
    if r.get("idle"):
        # idle sessions: what each costs above the relay's memory at rest
        r["ready_max"] = int(lg.get("ready_max", 0))
        base = int(a.get("--base-pss", "0") or 0)
        r["base_pss_mb"] = round(base / 1024.0, 1)
        r["pss_per_session_kb"] = (
            round((smp["peak_pss_kb"] - base) / r["ready_max"], 1)
            if r["ready_max"] and base else None)
    r["machine_busy_cpus"] = smp.get("machine_busy_cpus")
    r["others_busy_cpus"] = smp.get("others_busy_cpus")
    if r["relay"] == "danerelay":
        r.update(dane_danerelay(a["--log"]))
    else:
        r.update(dane_postfix(a["--log"]))
    print(json.dumps(r, sort_keys=False))


def fmt(v, nd=0):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%%.%df" % nd) % v
    return str(v)


MEDIAN_KEYS = ("accepted_per_s", "delivered_per_s", "p50_ms", "p99_ms",
               "p999_ms", "cpu_ms_per_msg", "peak_pss_mb",
               "pss_per_session_kb", "others_busy_cpus")
SUM_KEYS = ("delivered", "dane", "missing")


def median(vals):
    v = sorted(vals)
    n = len(v)
    if n == 0:
        return None
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def merge_runs(runs):
    """One row from several runs of a relay and scenario: medians of the
    figures, sums of the counts, the range of delivered msg/s."""
    if len(runs) == 1:
        return runs[0]
    m = dict(runs[0])
    for k in MEDIAN_KEYS:
        vals = [r[k] for r in runs if r.get(k) is not None]
        m[k] = median(vals) if vals else None
    for k in SUM_KEYS:
        m[k] = sum(r.get(k, 0) for r in runs)
    if "ready_max" in m:
        m["ready_max"] = min(r.get("ready_max", 0) for r in runs)
    d = [r["delivered_per_s"] for r in runs if r.get("delivered_per_s")]
    if d:
        m["delivered_range"] = (min(d), max(d))
    m["runs"] = len(runs)
    return m


def cmd_table(path):
    rows = [json.loads(l) for l in open(path) if l.startswith("{")]
    res = [r for r in rows if "relay" in r]
    scen = []
    groups = {}
    for r in res:
        if r["scenario"] not in scen:
            scen.append(r["scenario"])
        groups.setdefault((r["relay"], r["scenario"]), []).append(r)
    by = {k: merge_runs(v) for k, v in groups.items()}
    print("| scenario | relay | accepted msg/s | delivered msg/s | "
          "p50 / p99 / p99.9 ms | CPU ms/msg | peak PSS MB | "
          "delivered / DANE / missing | delivered x | CPU/msg x | "
          "others busy CPUs |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for s in scen:
        d, p = by.get(("danerelay", s)), by.get(("postfix", s))
        for r in (p, d):
            if r is None:
                continue
            if r.get("idle"):
                print("| %s | %s | - | - | - | - | %s | %d idle sessions: "
                      "%s KB PSS each | | | %s |" % (
                          s, r["relay"], fmt(r.get("peak_pss_mb"), 1),
                          r["ready_max"], fmt(r.get("pss_per_session_kb"), 1),
                          fmt(r.get("others_busy_cpus"), 2)))
                continue
            ratio = cratio = ""
            if r is d and p and p.get("delivered_per_s") and \
                    d.get("delivered_per_s"):
                ratio = "%.1fx" % (d["delivered_per_s"] / p["delivered_per_s"])
            if r is d and p and p.get("cpu_ms_per_msg") and \
                    d.get("cpu_ms_per_msg"):
                cratio = "1/%.1f" % (p["cpu_ms_per_msg"] / d["cpu_ms_per_msg"])
            dlv = fmt(r.get("delivered_per_s"))
            if r.get("delivered_range"):
                dlv += " (%s-%s)" % (fmt(r["delivered_range"][0]),
                                     fmt(r["delivered_range"][1]))
            print("| %s | %s | %s | %s | %s / %s / %s | %s | %s | %s / %s / %s | %s | %s | %s |" % (
                s, r["relay"], fmt(r.get("accepted_per_s")),
                dlv, fmt(r.get("p50_ms"), 1),
                fmt(r.get("p99_ms"), 1), fmt(r.get("p999_ms"), 1),
                fmt(r.get("cpu_ms_per_msg"), 2), fmt(r.get("peak_pss_mb"), 1),
                r["delivered"], r["dane"], r["missing"], ratio, cratio,
                fmt(r.get("others_busy_cpus"), 2)))


def cmd_show(path):
    r = json.load(open(path))
    if r.get("idle"):
        print("%-9s %-16s %d of %d sessions idle at once, PSS %s MB at rest, "
              "%s MB peak: %s KB per session  others busy %s CPUs" % (
                  r["relay"], r["scenario"], r["ready_max"], r["sessions"],
                  r["base_pss_mb"], r["peak_pss_mb"], r["pss_per_session_kb"],
                  r["others_busy_cpus"]), flush=True)
        return
    print("%-9s %-16s accepted %6s/s delivered %6s/s  p50 %s p99 %s p99.9 %s "
          "ms  cpu %s ms/msg  pss %s MB  delivered %d dane %d missing %d "
          "dup %d  others busy %s CPUs" % (
              r["relay"], r["scenario"], r.get("accepted_per_s"),
              r.get("delivered_per_s"), r["p50_ms"], r["p99_ms"],
              r["p999_ms"], r["cpu_ms_per_msg"], r["peak_pss_mb"],
              r["delivered"], r["dane"], r["missing"], r["duplicates"],
              r["others_busy_cpus"]), flush=True)


def cmd_check(path):
    """Exit 1 unless the run delivered every accepted message exactly once,
    DANE-authenticated over TLS under policy dane, in plaintext under none."""
    r = json.load(open(path))
    bad = []
    if r.get("idle"):
        if r["ready_max"] != r["sessions"]:
            bad.append("%d of %d idle sessions at once" % (r["ready_max"],
                                                          r["sessions"]))
    elif r["accepted"] == 0:
        bad.append("nothing accepted")
    if r["missing"] or r["duplicates"] or r["unexpected"]:
        bad.append("missing %d, duplicates %d, unexpected %d" % (
            r["missing"], r["duplicates"], r["unexpected"]))
    want = r["delivered"] if r["policy"] == "dane" else 0
    if r["dane"] != want:
        bad.append("DANE-authenticated %d of %d delivered, want %d" % (
            r["dane"], r["delivered"], want))
    if r["policy"] == "dane" and r["tls"] != r["delivered"]:
        bad.append("%d of %d arrived over TLS" % (r["tls"], r["delivered"]))
    if r["policy"] == "none" and r["tls"] != 0:
        bad.append("%d arrived over TLS under no TLS" % r["tls"])
    if bad:
        print("CHECK FAILED: %s %s: %s" % (r["relay"], r["scenario"],
                                          "; ".join(bad)), flush=True)
        sys.exit(1)


def main():
    if len(sys.argv) >= 3 and sys.argv[1] == "sample":
        cmd_sample(sys.argv[2], sys.argv[3:])
    elif len(sys.argv) >= 2 and sys.argv[1] == "analyze":
        cmd_analyze(sys.argv[2:])
    elif len(sys.argv) == 3 and sys.argv[1] == "table":
        cmd_table(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "show":
        cmd_show(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "check":
        cmd_check(sys.argv[2])
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
