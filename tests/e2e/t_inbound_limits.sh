#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_inbound_limits: limits that hold against hostile clients
# (relay/smtp_session.c, relay/listener.c). relay_clients = $NET.2/32,
# $NET.3/32; $NET.4 is outside. Defaults only: max_clients_per_ip 20,
# greet_delay unset (0 for relay clients, 1s for others).
# - 25 connections from $NET.2: 20 greeted with 220, the other 5 get
#   421 4.7.0; meanwhile $NET.3 is greeted as usual.
# - a relay client's 220 comes at once (< 0.5 s); a non-relay client's
#   554 after the 1 s greet_delay.
# - a non-relay client sending NOOPs is cut off (421) at its third command,
#   well within 10 s; one that sends nothing is closed 10 s after connect,
#   not after session_timeout; QUIT still gets 221.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
conf_set "$T/relay.conf" relay_clients "$NET.2/32, $NET.3/32"
relay_start "$T/relay.conf"

py <<'EOF2'
import os, time, smtpclient as sc

A, P, NET = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["NET"]

def first_reply(c):
	t0 = time.monotonic()
	r = c.reply(timeout=15)
	return r, time.monotonic() - t0

def main():
	# 1. max_clients_per_ip
	held, codes = [], []
	for i in range(25):
		c = sc.Client(A, P, src=NET + ".2")
		r, _ = first_reply(c)
		codes.append(r.code)
		if r.code == 421:
			assert r.text.startswith("4.7.0"), r
			c.expect_closed(timeout=5)
			c.close()
		else:
			held.append(c)
	print("replies to 25 connections from .2:", codes)
	assert codes == [220] * 20 + [421] * 5, codes
	other = sc.Client(A, P, src=NET + ".3")
	r, _ = first_reply(other)
	assert r.code == 220, "another address is affected: %r" % r
	other.cmd("QUIT", 221)
	other.close()
	for c in held:
		c.cmd("QUIT", 221)
		c.close()
	# the slots are free again
	c = sc.Client(A, P, src=NET + ".2")
	r, _ = first_reply(c)
	assert r.code == 220, r
	c.close()
	print("ok: the 21st connection from one address gets 421 4.7.0, another address is unaffected")

	# 2. greeting delay: none for relay clients, greet_delay (1 s) for others
	c = sc.Client(A, P, src=NET + ".3")
	r, dt = first_reply(c)
	assert r.code == 220 and dt < 0.5, (r, dt)
	c.close()
	print("ok: relay client greeted after %.3fs" % dt)
	c = sc.Client(A, P, src=NET + ".4")
	r, dt = first_reply(c)
	assert r.code == 554 and r.text.startswith("5.7.1"), r
	assert 0.9 <= dt < 3, "non-relay greeting after %.3fs, want the 1s greet_delay" % dt
	c.cmd("QUIT", 221)
	c.close()
	print("ok: non-relay client got its 554 after %.3fs; QUIT answered" % dt)

	# 3. a non-relay client sending NOOPs
	t0 = time.monotonic()
	c = sc.Client(A, P, src=NET + ".4")
	c.expect(554)
	seen = []
	try:
		for i in range(20):
			c.line("NOOP")
			r = c.reply(timeout=15)
			seen.append(r.code)
			time.sleep(1)
	except sc.Closed:
		pass
	dt = time.monotonic() - t0
	print("NOOP replies:", seen, "closed after %.1fs" % dt)
	assert c.eof, "still connected after %r" % seen
	assert seen == [250, 250, 421], seen
	assert dt < 10, dt
	c.close()
	print("ok: NOOP sender cut off after 3 commands, %.1fs" % dt)

	# 4. a silent non-relay client: closed 10 s after connect
	t0 = time.monotonic()
	c = sc.Client(A, P, src=NET + ".4")
	c.expect(554)
	extra = c.expect_closed(timeout=20)
	dt = time.monotonic() - t0
	print("silent client closed after %.1fs, last words %r" % (dt, extra))
	assert 8 <= dt <= 10.5, dt
	assert extra.startswith(b"421 "), extra
	c.close()
	print("ok: silent non-relay client closed after %.1fs" % dt)

sc.run_main(main)
EOF2
assert_log "reject from \[$(echo "$NET" | sed 's/\./\\./g')\.2\]:[0-9]+: too many connections from this address: 421 4\.7\.0"
assert_log "disconnect from \[$(echo "$NET" | sed 's/\./\\./g')\.4\]:[0-9]+ \(commands=3, not in relay_clients: command limit\)"
relay_stop
