#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_disk_full: the spool lives on a 2 MB tmpfs. A message that does not fit,
# and then any message while a filler file takes the rest of the space, get
# 452 4.3.1; nothing half-written remains (tmp/ empty), earlier mail is
# intact, the session stays usable, and once the space is freed the daemon
# accepts mail again without a restart.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

mkdir -p "$T/fs"
[ "$(id -u)" -eq 0 ] || skip "mounting a tmpfs as the spool needs root"
mount -t tmpfs -o size=2m,mode=0755 tmpfs "$T/fs" || fail "cannot mount a tmpfs on $T/fs"
export SPOOL=$T/fs/spool
base_conf "$T/relay.conf" < /dev/null
conf_set "$T/relay.conf" spool_dir "$SPOOL"
relay_start "$T/relay.conf"

py <<'EOF'
import os, errno, smtpclient as sc, spool

A, P, SP, T = os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], os.environ["SPOOL"], os.environ["T"]
FILLER = T + "/fs/filler"

def attempt(c, sender, m):
	"""A transaction that may be refused at any step: the first reply that
	is not 250/354, or the final reply."""
	for cmd, want in (("MAIL FROM:<%s>" % sender, 250), ("RCPT TO:<r@example.test>", 250), ("DATA", 354)):
		r = c.cmd(cmd, "")
		if r.code != want:
			if cmd != "MAIL FROM:<%s>" % sender:
				c.cmd("RSET", 250)
			return r
	c.send(sc.data_block(m))
	return c.reply()

def fill():
	fd = os.open(FILLER, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
	chunk = b"F" * 4096
	try:
		while True:
			os.write(fd, chunk)
	except OSError as e:
		assert e.errno == errno.ENOSPC, e
	for n in (1024, 256, 16, 1):		# the last few octets too
		try:
			while True:
				os.write(fd, chunk[:n])
		except OSError as e:
			assert e.errno == errno.ENOSPC, e
	os.close(fd)
	st = os.statvfs(SP)
	print("filler written, %d octets left" % (st.f_bavail * st.f_frsize))

def check_clean(what):
	left = spool.wait_no_leftovers(SP)
	assert left == [], "%s: half-written files: %r" % (what, left)

def main():
	c = sc.Client(A, P, greet=True, timeout=60)
	c.ehlo("client.test")
	m1 = sc.make_content("fits", size=300 * 1024, seed=1)
	r = attempt(c, "a@client.test", m1)
	assert r.code == 250, "300K message refused on an empty 2M spool: %r" % r
	q1 = sc.queue_id_from(r.text)

	m2 = sc.make_content("too big for the disk", size=3 * 1024 * 1024, seed=2)
	r = attempt(c, "b@client.test", m2)
	assert r.code == 452 and r.text.startswith("4.3.1"), "3M message on a 2M disk: want 452 4.3.1, got %r" % r
	c.cmd("NOOP", 250)
	check_clean("after the 3M message")
	assert spool.messages(SP) == [q1], spool.messages(SP)
	print("ok: message larger than the free space refused with %r" % r)

	fill()
	m3 = sc.make_content("disk is full", ["small message on a full disk"], seed=3)
	r = attempt(c, "c@client.test", m3)
	assert r.code == 452 and r.text.startswith("4.3.1"), "full disk: want 452 4.3.1, got %r" % r
	c.cmd("NOOP", 250)
	check_clean("on a full disk")
	assert spool.messages(SP) == [q1], spool.messages(SP)
	print("ok: small message on a full disk refused with %r" % r)

	os.unlink(FILLER)
	m4 = sc.make_content("space again", ["accepted after the space was freed"], seed=4)
	r = attempt(c, "d@client.test", m4)
	assert r.code == 250, "refused after space was freed: %r" % r
	q4 = sc.queue_id_from(r.text)
	c.cmd("QUIT", 221)
	# a new session works as well
	c = sc.Client(A, P, greet=True)
	c.ehlo("client.test")
	m5 = sc.make_content("new session", ["new session after the disk was full"], seed=5)
	r = attempt(c, "e@client.test", m5)
	assert r.code == 250, r
	q5 = sc.queue_id_from(r.text)
	c.cmd("QUIT", 221)
	assert sorted(spool.messages(SP)) == sorted([q1, q4, q5]), spool.messages(SP)
	spool.check(SP, q1, m1, "a@client.test", ["r@example.test"])
	spool.check(SP, q4, m4, "d@client.test", ["r@example.test"])
	spool.check(SP, q5, m5, "e@client.test", ["r@example.test"])
	check_clean("at the end")
	print("ok: earlier mail intact, new mail accepted after space was freed")

sc.run_main(main)
EOF
assert_log 'message not queued: No space left on device'
assert_log '[0-9A-Z]{15}: reject from .*: end of data: 452 4.3.1'
assert_log 'reject from \[127\.0\.0\.1\]:[0-9]+: end of data: 452 4\.3\.1'
assert_no_log 'from=<(b|c)@client\.test>, size='
relay_stop
assert_spool_count 3
assert_no_leftovers
