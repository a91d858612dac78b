#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_pipelining: RFC 2920. MAIL, several RCPT and DATA in one write get their
# replies in order; the message is spooled once, with every recipient and
# its content byte for byte (plus one Received:). A second pipelined group
# in the same session, with a bad RCPT in the middle, keeps the good ones.
# Then 20 messages whose final "." is pipelined with the next transaction's
# MAIL, RCPT and DATA (and the last with QUIT) each get their 250 in order.
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
	assert "PIPELINING" in ext, "EHLO does not offer PIPELINING: %r" % ext

	rcpts = ["r1@a.example", "r2@b.example", "r3@a.example", "r4@c.example"]
	m1 = sc.make_content("pipelined 1", ["first message", ".leading dot", "..", "end"])
	# One write: MAIL, every RCPT, DATA.
	c.send(b"MAIL FROM:<sender@client.test>\r\n" +
	       b"".join(b"RCPT TO:<%s>\r\n" % r.encode() for r in rcpts) + b"DATA\r\n")
	c.expect(250)                              # MAIL
	for r in rcpts:
		c.expect(250)                          # each RCPT, in order
	c.expect(354)
	# nothing else may come before the content is sent
	extra = c.pending(0.3)
	assert extra == b"", "unexpected bytes after 354: %r" % extra
	c.send(sc.data_block(m1))
	q1 = sc.queue_id_from(c.expect(250).text)

	# Second group: RSET first, a bad RCPT in the middle, DATA last.
	m2 = sc.make_content("pipelined 2", ["second message"])
	c.send(b"RSET\r\nMAIL FROM:<other@client.test>\r\nRCPT TO:<x1@a.example>\r\n"
	       b"RCPT TO:<broken\r\nRCPT TO:<x2@b.example>\r\nDATA\r\n")
	c.expect(250)                              # RSET
	c.expect(250)                              # MAIL
	c.expect(250)                              # x1
	c.expect(5)                                # broken syntax
	c.expect(250)                              # x2
	c.expect(354)
	c.send(sc.data_block(m2))
	q2 = sc.queue_id_from(c.expect(250).text)

	# The end of data starts the next group (RFC 2920 3.1, as Postfix
	# sends ".", QUIT): each final "." goes with the next MAIL, RCPT, DATA
	# in one write. The 250 for the message waits for its fsync; the
	# replies behind it must still come in order, one per command.
	chain = [sc.make_content("chain %d" % i, ["message %d of a pipelined chain" % i]) for i in range(20)]
	c.send(b"MAIL FROM:<chain@client.test>\r\nRCPT TO:<c0@a.example>\r\nDATA\r\n")
	c.expect(250); c.expect(250); c.expect(354)
	qc = []
	for i, m in enumerate(chain):
		nxt = (b"MAIL FROM:<chain@client.test>\r\nRCPT TO:<c%d@a.example>\r\nDATA\r\n" % (i + 1)
		       if i + 1 < len(chain) else b"NOOP\r\nQUIT\r\n")
		c.send(sc.data_block(m) + nxt)
		qc.append(sc.queue_id_from(c.expect(250).text))
		if i + 1 < len(chain):
			c.expect(250); c.expect(250); c.expect(354)
	c.expect(250)
	c.expect(221)
	c.expect_closed()

	assert q1 != q2, "two messages, one queue id %s" % q1
	assert len(set(qc + [q1, q2])) == 22, "queue ids repeat"
	ids = spool.messages(os.environ["SPOOL"])
	assert sorted(ids) == sorted([q1, q2] + qc), "spool holds %r, want %r" % (ids, [q1, q2] + qc)
	for i, (q, m) in enumerate(zip(qc, chain)):
		spool.check(os.environ["SPOOL"], q, m, "chain@client.test", ["c%d@a.example" % i])
	spool.check(os.environ["SPOOL"], q1, m1, "sender@client.test", rcpts)
	spool.check(os.environ["SPOOL"], q2, m2, "other@client.test", ["x1@a.example", "x2@b.example"])
	open(os.environ["T"] + "/ids", "w").write("%s %s\n" % (q1, q2))
	print("ok: both messages spooled once with their recipients, content intact")

sc.run_main(main)
EOF
read -r q1 q2 < "$T/ids"
assert_log "$q1: from=<sender@client.test>, size=[0-9]+, nrcpt=4"
assert_log "$q2: from=<other@client.test>, size=[0-9]+, nrcpt=2"
relay_stop
assert_spool_count 22
assert_no_leftovers
