#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_starttls: STARTTLS (RFC 3207) with a test certificate. swaks --tls
# delivers a message that lands in the spool byte for byte; TLS 1.2 and
# TLS 1.3 each complete a handshake (openssl s_client) and carry a message
# (Python ssl pinned to the version); after STARTTLS the state is reset,
# STARTTLS is no longer offered, and commands pipelined after STARTTLS in
# the same write are discarded (the command-injection class of bugs);
# TLS clients that close right after pipelining commands do not hurt it.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

make_cert relay.test
base_conf "$T/relay.conf" <<EOF
tls_cert_file = $T/relay.test.crt
tls_key_file = $T/relay.test.key
EOF
relay_start "$T/relay.conf"

# 1. swaks --tls: STARTTLS is required by the client, the message is ours.
printf 'From: <swaks@client.test>\r\nTo: <tls@example.test>\r\nSubject: over STARTTLS\r\nMessage-ID: <swaks-tls@client.test>\r\n\r\nsent by swaks over TLS\r\nline two' > "$T/swaks.eml"
# swaks ends the data with CRLF . CRLF after the file: the content gains the CRLF
printf '\r\n' | cat "$T/swaks.eml" - > "$T/swaks.want"
swaks --server "$SMTP_ADDR:$SMTP_PORT" --tls --helo client.test \
    --from swaks@client.test --to tls@example.test --data "@$T/swaks.eml" \
    --timeout 20 > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "swaks --tls failed"; }
grep -Eq '=== TLS started with cipher TLSv1\.[23]' "$T/swaks.out" || { cat "$T/swaks.out"; fail "swaks did not start TLS"; }
q=$(sed -n 's/.*<~  250 .*queued as \([A-Za-z0-9]*\).*/\1/p' "$T/swaks.out" | head -1)
[ -n "$q" ] || { cat "$T/swaks.out"; fail "no queue id in swaks transcript"; }
python3 "$E2E/spool.py" check "$SPOOL" "$q" "$T/swaks.want" --from swaks@client.test --to tls@example.test || fail "spooled message differs"
ok "swaks --tls message $q spooled intact"
echo "$q" > "$T/qswaks"

# 2. openssl s_client, each TLS version; the certificate served is ours.
want_fp=$(openssl x509 -in "$T/relay.test.crt" -noout -fingerprint -sha256)
for v in 1_2 1_3; do
	printf 'NOOP\r\nQUIT\r\n' | timeout 20 openssl s_client -starttls smtp -ign_eof \
	    -connect "$SMTP_ADDR:$SMTP_PORT" -servername relay.test "-tls$v" \
	    > "$T/s_client$v.out" 2>&1
	grep -q "^New, TLSv${v/_/.}, Cipher is" "$T/s_client$v.out" ||
	    { cat "$T/s_client$v.out"; fail "no TLSv${v/_/.} handshake"; }
	grep -q '^221 ' "$T/s_client$v.out" || { cat "$T/s_client$v.out"; fail "no reply to QUIT over TLSv${v/_/.}"; }
	sed -n '/BEGIN CERTIFICATE/,/END CERTIFICATE/p' "$T/s_client$v.out" > "$T/served$v.crt"
	[ "$(openssl x509 -in "$T/served$v.crt" -noout -fingerprint -sha256)" = "$want_fp" ] ||
	    fail "TLSv${v/_/.}: the server did not present the configured certificate"
	ok "openssl s_client: TLSv${v/_/.} handshake with the configured certificate"
done

# 3. Messages over TLS 1.2 and 1.3, state reset, injection discarded.
py <<'EOF'
import os, ssl, smtpclient as sc, spool

A, P, SP = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["SPOOL"]

def main():
	ids = []
	for ver, name in ((ssl.TLSVersion.TLSv1_2, "TLSv1.2"), (ssl.TLSVersion.TLSv1_3, "TLSv1.3")):
		c = sc.Client(A, P, greet=True)
		ext = c.ehlo("client.test")
		assert "STARTTLS" in ext, "STARTTLS not offered: %r" % ext
		# A transaction started in clear text must not survive STARTTLS:
		# STARTTLS inside one is refused (503, as Postfix does) or resets it.
		c.cmd("MAIL FROM:<clear@client.test>", 250)
		r = c.cmd("STARTTLS", "")
		if r.code == 503:
			c.cmd("RCPT TO:<r@example.test>", 250)   # the transaction goes on
			c.cmd("RSET", 250)
			c.cmd("STARTTLS", 220)
		else:
			assert r.code == 220, "STARTTLS: %r" % r
		got = c.starttls(version=ver)
		assert got == name, "negotiated %s, want %s" % (got, name)
		# the EHLO of before is forgotten too (RFC 3207 4.2)
		c.cmd("MAIL FROM:<tls@client.test>", 503)
		c.cmd("RCPT TO:<r@example.test>", 503)
		ext = c.ehlo("client.test")
		assert "STARTTLS" not in ext, "STARTTLS offered again inside TLS: %r" % ext
		m = sc.make_content("over " + name, ["sent over " + name])
		r = c.send_message("tls@client.test", ["r@example.test"], m)
		assert r.code == 250, "refused over %s: %r" % (name, r)
		ids.append((sc.queue_id_from(r.text), m))
		c.cmd("QUIT", 221)

	# Injection: STARTTLS and MAIL in one write. The MAIL must be discarded:
	# no reply to it inside TLS, and RCPT afterwards has no transaction.
	c = sc.Client(A, P, greet=True)
	c.ehlo("client.test")
	c.send(b"STARTTLS\r\nMAIL FROM:<injected@client.test>\r\n")
	c.expect(220)
	# the server must not answer the injected MAIL in clear text either
	c.starttls()
	c.line("NOOP")
	r = c.expect(250)
	extra = c.pending(0.3)
	assert extra == b"", "more replies inside TLS than commands sent: %r" % extra
	c.cmd("RCPT TO:<victim@example.test>", 503)
	c.cmd("QUIT", 221)

	# Clients that pipeline commands inside TLS and close at once
	# (close_notify and/or a TCP half-close): the daemon answers or drops
	# them and lives on. (This caught a use-after-free: EOF delivered while
	# a command line was being read from the TLS input.)
	import socket
	for i in range(30):
		c = sc.Client(A, P, greet=True)
		c.ehlo("closer.client.test")
		c.cmd("STARTTLS", 220)
		c.starttls()
		c.send(b"NOOP\r\n" * (1 + i % 5) + b"BAD\rLINE\r\n" * (i % 3) + b"QUIT\r\n")
		try:
			if i % 2:
				c.sock = c.sock.unwrap()
			c.sock.shutdown(socket.SHUT_WR)
		except (OSError, ValueError):
			pass
		c.close()
	c = sc.Client(A, P, greet=True)
	c.ehlo("client.test")
	c.cmd("QUIT", 221)
	print("ok: 30 TLS clients closing right after their commands; the daemon lives on")

	want = sorted([i for i, _ in ids] + [open(os.environ["T"] + "/qswaks").read().strip()])
	assert sorted(spool.messages(SP)) == want, "spool %r, want %r" % (spool.messages(SP), want)
	for q, m in ids:
		spool.check(SP, q, m, "tls@client.test", ["r@example.test"])
	print("ok: TLSv1.2 and TLSv1.3 messages intact; STARTTLS reset state; injection discarded")

sc.run_main(main)
EOF
assert_no_log 'injected@client\.test'
relay_stop
assert_spool_count 3
