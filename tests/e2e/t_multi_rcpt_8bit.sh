#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_multi_rcpt_8bit: several recipients and an 8-bit body sent with
# BODY=8BITMIME arrive in the spool byte for byte, with every recipient and
# the 8BITMIME flag; an SMTPUTF8 transaction with UTF-8 addresses is
# accepted and its flag remembered for delivery.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

py <<'EOF'
import os, smtpclient as sc, spool

def main():
	c = sc.Client(os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], greet=True)
	ext = c.ehlo("client.test")
	for e in ("8BITMIME", "SMTPUTF8", "ENHANCEDSTATUSCODES"):
		assert e in ext, "EHLO lacks %s: %r" % (e, ext)

	rcpts = ["r%d@dest%d.example" % (i, i % 3) for i in range(12)]
	body = [
		"Gr\u00fc\u00dfe aus K\u00f6ln, \u00e7a va? \u65e5\u672c\u8a9e \U0001f600".encode("utf-8"),
		bytes(range(0x80, 0x100)),                # every high octet
		b"latin-1: \xe9t\xe9 \xe0 la plage",
		b"\x1b$B$3$s$K$A$O\x1b(B iso-2022-jp escape, NUL-free control \x01\x07\x7f",
		b".\xff leading dot then 8-bit",
		b"tab\tseparated\tfields\t",
		b"",
		b"  trailing spaces  ",
	]
	m1 = sc.make_content("8bit multi",
	                     body, extra_headers=["MIME-Version: 1.0",
	                                          "Content-Type: text/plain; charset=utf-8",
	                                          "Content-Transfer-Encoding: 8bit"])
	r = c.send_message("sender@client.test", rcpts, m1, "BODY=8BITMIME")
	assert r.code == 250, "8-bit message refused: %r" % r
	q1 = sc.queue_id_from(r.text)

	# SMTPUTF8: UTF-8 in the envelope and the headers.
	u_from = "j\u00f6rg@client.test"
	u_to = ["\u7528\u6237@\u4f8b\u3048.example", "andr\u00e9@d\u00e9.example"]
	m2 = sc.make_content("utf8", ["Envelope in UTF-8".encode()],
	                     extra_headers=["X-Name: J\u00f6rg \u00c5ngstr\u00f6m".encode("utf-8")])
	r = c.send_message(u_from, u_to, m2, "SMTPUTF8 BODY=8BITMIME")
	assert r.code == 250, "SMTPUTF8 message refused: %r" % r
	q2 = sc.queue_id_from(r.text)
	c.cmd("QUIT", 221)

	sp = os.environ["SPOOL"]
	assert sorted(spool.messages(sp)) == sorted([q1, q2]), spool.messages(sp)
	m = spool.check(sp, q1, m1, "sender@client.test", rcpts)
	assert "8BITMIME" in m["flags"], "8BITMIME not recorded: %r" % m["flags"]
	assert "SMTPUTF8" not in m["flags"], "SMTPUTF8 recorded without being asked: %r" % m["flags"]
	m = spool.check(sp, q2, m2, u_from, u_to)
	assert "SMTPUTF8" in m["flags"], "SMTPUTF8 not recorded: %r" % m["flags"]
	open(os.environ["T"] + "/ids", "w").write("%s %s\n" % (q1, q2))
	print("ok: 12 recipients, 8-bit body intact; SMTPUTF8 envelope kept")

sc.run_main(main)
EOF
read -r q1 q2 < "$T/ids"
assert_log "$q1: from=<sender@client.test>, size=[0-9]+, nrcpt=12"
assert_log "$q2: from=<j(ö|\\\\xc3\\\\xb6)rg@client.test>, size=[0-9]+, nrcpt=2"
relay_stop
assert_spool_count 2
