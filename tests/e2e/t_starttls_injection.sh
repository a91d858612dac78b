#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_starttls_injection: STARTTLS command injection (CVE-2011-0411 class).
# "STARTTLS\r\nRSET\r\n" and "STARTTLS\r\nMAIL FROM:<injected@...>\r\n" sent
# in one packet: the plaintext after STARTTLS is discarded, never answered
# inside TLS and never acted on; the session after the handshake starts
# over (EHLO needed, no STARTTLS offered again, no transaction open). A
# message then sent over TLS 1.2 and over TLS 1.3 is spooled with an ESMTPS
# Received: header and logged with proto=ESMTPS.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -subj "/CN=relay.test" -keyout "$T/key.pem" -out "$T/cert.pem" > "$T/req.out" 2>&1 ||
    { cat "$T/req.out"; fail "openssl req"; }
base_conf "$T/relay.conf" <<EOF2
tls_cert_file = $T/cert.pem
tls_key_file = $T/key.pem
EOF2
relay_start "$T/relay.conf"

python3 - "$NET.1" 10025 "$T/spool" <<'PY' || fail "dialogue failed"
import socket, ssl, sys, os, re

addr, port, spool = sys.argv[1], int(sys.argv[2]), sys.argv[3]

class Conn:
	def __init__(self):
		self.s = socket.create_connection((addr, port), 10)
		self.buf = b""
	def reply(self, timeout=10):
		"""One complete (possibly multi-line) reply, or None on timeout."""
		self.s.settimeout(timeout)
		lines = []
		while True:
			while b"\r\n" not in self.buf:
				try:
					d = self.s.recv(4096)
				except (socket.timeout, ssl.SSLWantReadError):
					return None
				if not d:
					raise SystemExit("FAIL: connection closed; got %r" % lines)
				self.buf += d
			line, self.buf = self.buf.split(b"\r\n", 1)
			lines.append(line.decode("latin-1"))
			if len(line) < 4 or line[3:4] == b" ":
				return lines
	def cmd(self, line, want):
		self.s.sendall(line.encode() + b"\r\n")
		r = self.reply()
		assert r and r[-1].startswith(str(want)), "%s: want %s, got %r" % (line, want, r)
		return r

def tls_session(injected, version):
	c = Conn()
	assert c.reply()[0].startswith("220 relay.test"), "greeting"
	ehlo = c.cmd("EHLO client.test", 250)
	assert "250-STARTTLS" in ehlo or "250 STARTTLS" in ehlo, "STARTTLS not offered: %r" % ehlo
	c.s.sendall(b"STARTTLS\r\n" + injected)		# one packet
	r = c.reply()
	assert r == ["220 2.0.0 Ready to start TLS"], r
	assert c.buf == b"", "plaintext after the 220: %r" % c.buf
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	ctx.minimum_version = ctx.maximum_version = version
	c.s = ctx.wrap_socket(c.s, server_hostname="relay.test")
	print("ok: handshake %s %s" % (c.s.version(), c.s.cipher()[0]))
	extra = c.reply(timeout=1.5)
	assert extra is None, "a reply arrived inside TLS before any command: %r" % extra
	print("ok: nothing answered inside TLS for %r" % injected)
	# the session starts over: EHLO is needed, STARTTLS is not offered again
	c.cmd("MAIL FROM:<a@client.test>", 503)
	ehlo = c.cmd("EHLO client.test", 250)
	assert not any("STARTTLS" in l for l in ehlo), "STARTTLS offered again: %r" % ehlo
	assert any("SIZE" in l for l in ehlo)
	# no transaction was opened by the injected MAIL
	c.cmd("RCPT TO:<r@example.test>", 503)
	c.cmd("STARTTLS", 503)
	return c

def send_message(c, tag):
	c.cmd("MAIL FROM:<%s@client.test>" % tag, 250)
	c.cmd("RCPT TO:<r@example.test>", 250)
	c.cmd("DATA", 354)
	body = b"Subject: %s\r\n\r\nover TLS\r\n" % tag.encode()
	c.s.sendall(body + b".\r\n")
	r = c.reply()
	assert r and r[0].startswith("250 2.0.0 Ok: queued as "), r
	qid = r[0].split()[-1]
	data = open(os.path.join(spool, "msg", qid), "rb").read()
	content = data.split(b"\nend\n", 1)[1]
	assert re.match(rb"Received: from client\.test \(\[[0-9.]+\]\)\r\n\t\(using TLSv1\.[23] with cipher [A-Z0-9_-]+ \(\d+ bits\)\)\r\n\tby relay\.test \(danerelay\) with ESMTPS id ", content), content[:300]
	assert content.endswith(b"\r\n" + body), content
	print("ok: %s queued as %s with an ESMTPS Received: header" % (tag, qid))
	return qid

c = tls_session(b"RSET\r\n", ssl.TLSVersion.TLSv1_3)
send_message(c, "tls13")
c.cmd("QUIT", 221)
c = tls_session(b"MAIL FROM:<injected@client.test>\r\n", ssl.TLSVersion.TLSv1_2)
send_message(c, "tls12")
c.cmd("QUIT", 221)
PY
ok "STARTTLS injection dialogues"

assert_log "STARTTLS from \[[0-9.]+\]:[0-9]+: TLSv1\.3 with cipher"
assert_log "STARTTLS from \[[0-9.]+\]:[0-9]+: TLSv1\.2 with cipher"
assert_log ": from=<tls13@client.test>, size=[0-9]+, nrcpt=1, client=\[[0-9.]+\]:[0-9]+, proto=ESMTPS"
assert_log ": from=<tls12@client.test>, size=[0-9]+, nrcpt=1, client=\[[0-9.]+\]:[0-9]+, proto=ESMTPS"
assert_no_log "injected@client\.test"
assert_no_log "reject from .*: RSET"
relay_stop
n=$(ls "$T/spool/msg" | grep -vc '\.')
[ "$n" -eq 2 ] || fail "spool holds $n messages, want 2"
ok "two messages spooled, nothing injected"
