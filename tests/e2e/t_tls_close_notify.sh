#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_tls_close_notify: the relay ends every inbound TLS session with a
# close_notify alert (RFC 8446 6.1; RFC 5246 7.2.1), so a client can tell
# a proper close from a truncation: after QUIT (221) and after an idle
# timeout (421), with TLS 1.2 and TLS 1.3. Python's ssl module (with
# suppress_ragged_eofs off) reads a clean end of stream only after a
# close_notify; without it the read raises SSLEOFError ("EOF occurred in
# violation of protocol"), the same thing Exim logs as "TLS connection was
# non-properly terminated" (t_exim checks Exim itself).
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only
. "$(dirname "$0")/inbound.sh"

make_cert relay.test
base_conf "$T/relay.conf" <<EOF
tls_cert_file = $T/relay.test.crt
tls_key_file = $T/relay.test.key
idle_timeout = 2s
EOF
relay_start "$T/relay.conf"

py <<'PY'
import os, ssl, smtpclient as sc

def session(version, how):
	c = sc.Client(os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], greet=True)
	c.ehlo("client.test")
	c.cmd("STARTTLS", 220)
	ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
	ctx.check_hostname = False
	ctx.verify_mode = ssl.CERT_NONE
	ctx.minimum_version = ctx.maximum_version = version
	# by default Python reads an EOF without close_notify as a clean end
	c.sock = ctx.wrap_socket(c.sock, suppress_ragged_eofs=False)
	c.tls = True
	c.ehlo("client.test")
	if how == "quit":
		c.cmd("QUIT", 221)
	else:
		c.expect(421, timeout=10)	# idle timeout
	# a clean end of stream needs the server's close_notify
	try:
		rest = c.expect_closed(timeout=10)
	except ssl.SSLEOFError as e:
		raise AssertionError("%s, %s: closed without close_notify: %s" % (version.name, how, e))
	assert rest == b"", rest
	print("ok: %s, %s: the relay sent close_notify before closing" % (version.name, how))

def main():
	for v in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
		for how in ("quit", "idle"):
			session(v, how)
sc.run_main(main)
PY
relay_stop
