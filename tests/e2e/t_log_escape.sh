#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_log_escape: peer-supplied text cannot break or disguise a log line
# (relay/log_safe.c). An SMTPUTF8 message from a sender whose address holds
# U+0085 (NEL, a C1 line break) and U+2028 (LINE SEPARATOR), to recipients
# holding U+2028, U+0085 and U+202E (RIGHT-TO-LEFT OVERRIDE), one the
# receiving server refuses with a reply holding U+2028, ESC and U+202E, and
# one at a domain name with U+2029 that does not exist, after a HELO the
# relay refuses with an escape character in it. The relay's log shows each
# of them as \uHHHH / \xHH on the lines that name them (inbound, Processing,
# Delivering, MX, Successful delivery, Permanent failure with the remote
# reply), the raw bytes of the log hold none of those sequences, every line
# is one event, and the receiving server still gets the addresses byte for
# byte.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

# The receiving server's reply carries U+2028, ESC and U+202E too.
printf 'perm@\t550 5.1.1 no\342\200\250such\033[2J user\342\200\256\n' > "$T/rules"
world_sink single mx.single.test -r "$T/rules"
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

python3 - "$T/qid" <<'PY' || fail "injection failed"
import os, sys
import smtpclient as sc

def main():
	c = sc.Client(os.environ["SMTP_ADDR"], os.environ["SMTP_PORT"], greet=True)
	# A refused HELO: the reject line carries the peer's text.
	c.cmd("HELO bad\x1b[2Jname\x7f", 501)
	ext = c.ehlo("client.test")
	assert "SMTPUTF8" in ext, ext
	sender = "a\u0085b\u2028c@sender.test"
	rcpts = ["ok\u2028x@single.test", "n\u0085l\u202eq@single.test",
	    "perm@single.test", "gone@no\u2029such.test"]
	m = sc.make_content("log escape", [b"body"])
	r = c.send_message(sender, rcpts, m, "SMTPUTF8")
	assert r.code == 250, r
	open(sys.argv[1], "w").write(sc.queue_id_from(r.text) + "\n")
	c.cmd("QUIT", 221)

sc.run_main(main)
PY
read -r q < "$T/qid"

S='a\\u0085b\\u2028c@sender\.test'
R1='ok\\u2028x@single\.test'
R2='n\\u0085l\\u202eq@single\.test'
R3='gone@no\\u2029such\.test'
wait_log "$q: Successful delivery to <$R1>" 30 || fail "<ok U+2028> not delivered (or not escaped)"
wait_log "$q: Successful delivery to <$R2>" 30 || fail "<n U+0085 U+202E> not delivered (or not escaped)"
wait_log "$q: (Permanent|Temporary) failure for <$R3>" 30 || fail "no outcome logged for the U+2029 domain"
wait_log "$q: Permanent failure for <perm@single\.test>: " 30 || fail "perm@ not refused"
assert_log "$q: Permanent failure for <perm@single\.test>: 550 5\.1\.1 no\\\\u2028such\\\\x1b\[2J user\\\\u202e$"
assert_log "reject from \[[0-9.]+\]:[0-9]+: HELO bad\\\\x1b\[2Jname\\\\x7f: 501 "
assert_log "$q: from=<$S>, size=[0-9]+, nrcpt=4"
assert_log "$q: Processing message from <$S> to <$R1>, <$R2>, <perm@single\.test> with policy"
assert_log "$q: Delivering message to no\\\\u2029such\.test:25"
assert_log "$q: MX no\\\\u2029such\.test: "

python3 - "$RELAY_LOG" <<'PY' || fail "raw log bytes"
import re, sys
data = open(sys.argv[1], "rb").read()
bad = {"U+0085": b"\xc2\x85", "U+2028": b"\xe2\x80\xa8", "U+2029": b"\xe2\x80\xa9",
    "U+202E": b"\xe2\x80\xae", "ESC": b"\x1b", "DEL": b"\x7f", "CR": b"\r"}
for name, seq in bad.items():
	if seq in data:
		sys.exit("FAIL: the log holds raw %s" % name)
# every line is one event: it starts with a timestamp
for i, line in enumerate(data.split(b"\n")[:-1]):
	if not re.match(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z danerelay\[\d+\]: ", line):
		sys.exit("FAIL: log line %d is not an event: %r" % (i + 1, line[:80]))
print("ok: no raw C1, U+2028/2029, bidi override or control octet in %d log octets" % len(data))
PY

# The escaping is for the log only: the receiving server got the real bytes.
[ "$(sink_count single)" -eq 1 ] || fail "sink holds $(sink_count single) messages, want 1"
python3 - "$T"/single.msgs/*.msg <<'PY' || fail "the sink did not get the addresses as sent"
import sys
data = open(sys.argv[1], "rb").read()
for a in ("a\u0085b\u2028c@sender.test", "ok\u2028x@single.test", "n\u0085l\u202eq@single.test"):
	assert ("<%s>" % a).encode() in data, "sink lacks <%r>" % a
print("ok: the sink received the UTF-8 addresses byte for byte")
PY
relay_stop
exit 0
