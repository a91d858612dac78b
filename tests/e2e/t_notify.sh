#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_notify: the sd_notify protocol (relay/notify.c) as systemd's Type=notify
# sees it, read from a datagram socket the test binds at NOTIFY_SOCKET:
# READY=1 arrives and the SMTP port accepts at that moment; STATUS= carries
# the queue size (0, then 1 after a message is accepted and deferred);
# SIGHUP gives RELOADING=1 with a MONOTONIC_USEC near the receiver's clock,
# then READY=1 (also when the new file is bad and the old one stays), and so
# does `danerelay reload` over the control socket;
# SIGTERM gives STOPPING=1. A second run uses an abstract "@name" socket.
. "$(dirname "$0")/lib.sh"

NO_DELIVERY=1 base_conf "$T/relay.conf"
NLOG=$T/notify.jsonl

listen_start() {	# SOCKET
	rm -f "$NLOG" "$NLOG.bound"
	python3 "$top/tests/e2e/notify_listen.py" "$1" "$NLOG" "$NET.1" 10025 \
	    > "$T/listen.err" 2>&1 &
	LISTEN_PID=$!
	track "$LISTEN_PID"
	i=0
	while [ ! -s "$NLOG.bound" ]; do
		i=$((i + 1))
		[ "$i" -gt 50 ] && { cat "$T/listen.err"; fail "notify listener did not bind"; }
		sleep 0.1
	done
}

# n_of PYEXPR: how many records satisfy PYEXPR (r = record, f = its fields)
n_of() {
	python3 - "$NLOG" "$1" <<'PY'
import json, sys
n = 0
for line in open(sys.argv[1]) if __import__("os").path.exists(sys.argv[1]) else []:
    r = json.loads(line); f = r["fields"]
    if eval(sys.argv[2]):
        n += 1
print(n)
PY
}

wait_rec() {	# PYEXPR WHAT [SECONDS]: until at least one record satisfies it
	local i=0 max=$(( ${3:-15} * 10 ))
	while [ "$(n_of "$1")" -lt 1 ]; do
		i=$((i + 1))
		[ "$i" -gt "$max" ] && { cat "$NLOG" 2>/dev/null; fail "no notification: $2"; }
		sleep 0.1
	done
	ok "notification: $2"
}

# 1. a path socket
listen_start "$T/notify.sock"
export NOTIFY_SOCKET=$T/notify.sock
relay_start "$T/relay.conf"
unset NOTIFY_SOCKET
wait_rec 'f.get("READY") == "1"' "READY=1"
[ "$(n_of 'f.get("READY") == "1" and r.get("port_accepts") is True')" -ge 1 ] ||
    { cat "$NLOG"; fail "READY=1 came before the SMTP port accepted"; }
ok "the SMTP port accepted when READY=1 arrived"
wait_rec '"STATUS" in f and f["STATUS"].startswith("0 messages queued")' "STATUS with an empty queue"

swaks --server "$NET.1" --port 10025 --from a@relay.test --to b@example.test \
    --h-Subject notify --body x > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "swaks"; }
wait_rec '"STATUS" in f and f["STATUS"].startswith("1 message queued")' "STATUS with one message queued" 10

# 2. SIGHUP: RELOADING=1 + MONOTONIC_USEC, then READY=1
kill -HUP "$RELAY_PID"
wait_rec 'f.get("RELOADING") == "1"' "RELOADING=1"
[ "$(n_of 'f.get("RELOADING") == "1" and "MONOTONIC_USEC" in f and abs(int(f["MONOTONIC_USEC"]) - r["mono_us"]) < 10000000')" -eq 1 ] ||
    { cat "$NLOG"; fail "RELOADING=1 without a MONOTONIC_USEC close to CLOCK_MONOTONIC"; }
ok "RELOADING=1 carries MONOTONIC_USEC on CLOCK_MONOTONIC"
wait_log "configuration reloaded from" 10 || fail "reload not logged"
ready_after() {	# count READY=1 records after the last RELOADING=1
	python3 - "$NLOG" <<'PY'
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
last = max(i for i, r in enumerate(recs) if r["fields"].get("RELOADING") == "1")
print(sum(1 for r in recs[last + 1:] if r["fields"].get("READY") == "1"))
PY
}
i=0
while [ "$(ready_after)" -lt 1 ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && { cat "$NLOG"; fail "no READY=1 after the reload"; }
	sleep 0.1
done
ok "READY=1 after the reload"

# a bad file: the old configuration stays, and the manager hears READY=1 again
cp "$T/relay.conf" "$T/relay.conf.good"
echo "max_backof = 1h" >> "$T/relay.conf"
kill -HUP "$RELAY_PID"
i=0
while [ "$(n_of 'f.get("RELOADING") == "1"')" -lt 2 ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && { cat "$NLOG"; fail "no second RELOADING=1"; }
	sleep 0.1
done
wait_log "configuration reload failed" 10 || fail "bad reload not logged"
i=0
while [ "$(ready_after)" -lt 1 ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && { cat "$NLOG"; fail "no READY=1 after a failed reload"; }
	sleep 0.1
done
ok "READY=1 after a failed reload (old configuration kept)"
cp "$T/relay.conf.good" "$T/relay.conf"

# the control socket's `reload` is a reload too
"$BIN" -c "$T/relay.conf" reload > "$T/reload.out" 2>&1 || { cat "$T/reload.out"; fail "danerelay reload"; }
i=0
while [ "$(n_of 'f.get("RELOADING") == "1"')" -lt 3 ] || [ "$(ready_after)" -lt 1 ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && { cat "$NLOG"; fail "no RELOADING=1 then READY=1 for 'danerelay reload'"; }
	sleep 0.1
done
ok "'danerelay reload' (control socket): RELOADING=1, then READY=1"

# 3. SIGTERM: STOPPING=1, and it is the last word
relay_stop
wait_rec 'f.get("STOPPING") == "1"' "STOPPING=1" 5
python3 - "$NLOG" <<'PY' || fail "STOPPING=1 is not the last notification"
import json, sys
recs = [json.loads(l) for l in open(sys.argv[1])]
sys.exit(0 if recs[-1]["fields"].get("STOPPING") == "1" else 1)
PY
ok "STOPPING=1 is the last notification"
kill "$LISTEN_PID"; untrack "$LISTEN_PID"

# 4. an abstract socket name
listen_start "@danerelay-notify-$$-$TEST_INDEX"
export NOTIFY_SOCKET="@danerelay-notify-$$-$TEST_INDEX"
relay_start "$T/relay.conf"
unset NOTIFY_SOCKET
wait_rec 'f.get("READY") == "1" and r.get("port_accepts") is True' "READY=1 on an abstract socket"
wait_rec '"STATUS" in f and f["STATUS"].startswith("1 message queued")' "STATUS after a restart: the spool was loaded"
relay_stop
wait_rec 'f.get("STOPPING") == "1"' "STOPPING=1 on an abstract socket" 5
kill "$LISTEN_PID"; untrack "$LISTEN_PID"
exit 0
