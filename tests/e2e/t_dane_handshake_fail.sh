#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_handshake_fail: docs/dane.md rule 6, the handshake-failure case:
# mx1.secure.test (secure TLSA 3 1 1) offers STARTTLS, answers 220, then
# sends a TLS alert instead of a handshake. Under `dane` the host fails and
# the relay must not fall back to plaintext on it (as `may` would): mx2 is
# down, the message is deferred with 4.7.5, and the fake server never sees
# MAIL FROM on any connection. Then mx2 comes up and gets it with DANE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

A1=$(addr_of mx1.secure.test)
python3 - "$A1" "$T/fake.cmds" "$T/fake.pid" <<'PY' > "$T/fake.log" 2>&1 &
import os, socket, sys, threading
addr, logf, pidf = sys.argv[1:4]
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((addr, 25))
s.listen(16)
open(pidf, "w").write(str(os.getpid()))
lock = threading.Lock()
def note(t):
	with lock:
		with open(logf, "a") as f:
			f.write(t + "\n")
def serve(c):
	f = c.makefile("rb")
	c.sendall(b"220 fake.test ESMTP\r\n")
	note("connect")
	while True:
		ln = f.readline()
		if not ln:
			break
		cmd = ln.strip().decode("latin-1")
		note(cmd)
		u = cmd.upper()
		if u.startswith("EHLO"):
			c.sendall(b"250-fake.test\r\n250-STARTTLS\r\n250 PIPELINING\r\n")
		elif u.startswith("HELO"):
			c.sendall(b"250 fake.test\r\n")
		elif u == "STARTTLS":
			c.sendall(b"220 2.0.0 go ahead\r\n")
			c.recv(4096)		# the ClientHello
			c.sendall(b"\x15\x03\x03\x00\x02\x02\x28")	# alert: handshake_failure
			break
		elif u.startswith("MAIL") or u.startswith("RCPT"):
			c.sendall(b"250 ok\r\n")
		elif u == "DATA":
			c.sendall(b"354 go\r\n")
			while f.readline() not in (b".\r\n", b""):
				pass
			note("data-done")
			c.sendall(b"250 2.0.0 taken in plaintext\r\n")
		elif u == "QUIT":
			c.sendall(b"221 bye\r\n")
			break
		else:
			c.sendall(b"502 no\r\n")
	c.close()
while True:
	c, _ = s.accept()
	threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
FAKE=$!
track "$FAKE"
i=0
while [ ! -s "$T/fake.pid" ]; do
	i=$((i + 1)); [ "$i" -gt 50 ] && { cat "$T/fake.log"; fail "fake server did not start"; }
	sleep 0.1
done

dane_conf dane
relay_start "$T/relay.conf"
send r@secure.test
wait_deferred r@secure.test 20
echo "$DEFER_LINE" | grep -q ': 4\.7\.5 ' || fail "not a 4.7.5 deferral: $DEFER_LINE"
wait_log "$QID: Temporary failure for <r@secure.test> \(retry [2-9]" 15 || fail "no second attempt"
cat "$T/fake.cmds"
grep -qi '^STARTTLS' "$T/fake.cmds" || fail "the relay never tried STARTTLS"
grep -qi '^MAIL' "$T/fake.cmds" && fail "the relay sent MAIL FROM to a DANE host after a failed handshake"
ok "no plaintext fallback after a failed handshake"
assert_no_log "$QID: .*retrying .* in plaintext"
assert_log "$QID: .*TLS handshake with mx1\.secure\.test\[$A1\]:25 failed: .*\((validation-failure|starttls-not-supported)\)"
assert_no_log "failed: TLS handshake with"

mx_sink mx2 mx2.secure.test mx2.secure.test
wait_msg mx2 1 20
assert_dane_delivery mx2 mx2.secure.test
grep -qi '^MAIL' "$T/fake.cmds" && fail "MAIL FROM reached the fake server"
relay_stop
