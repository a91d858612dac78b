#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_hostile_8bit: a receiving server (tests/sink -8 -U) that announces
# neither 8BITMIME nor SMTPUTF8.
# 1. A MIME message with an 8-bit text part (BODY=8BITMIME) arrives
#    7-bit, as quoted-printable that decodes to the original octets, and
#    without BODY=8BITMIME (RFC 6152 3).
# 2. SMTPUTF8 with an all-ASCII envelope and header arrives without the
#    extension (RFC 6531 3.4), not refused.
# 3. SMTPUTF8 with a non-ASCII recipient is returned: DSN 5.6.7.
# 4. An 8-bit header without SMTPUTF8 cannot be converted: DSN 5.6.3.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

world_sink single mx.single.test -8 -U
world_sink sender mx.sender.test
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

mkdir -p "$T/sent"
python3 - "$T/sent" > "$T/qids" <<'PY' || { cat "$T/qids"; fail "injection failed"; }
import os, sys
import smtpclient as sc
out = sys.argv[1]
c = sc.Client(os.environ["SMTP_ADDR"], int(os.environ["SMTP_PORT"]), greet=True)
c.ehlo("client.test")
body = ("caf\u00e9 na\u00efve = \u00fcber, a line with trailing space \r\n"
    + "\u00e9" * 300 + "\r\n.dot at the start\r\nlast line\r\n").encode()
msgs = [
    ("eight", "eight@single.test", "BODY=8BITMIME",
     b"From: <sender@sender.test>\r\nSubject: eight\r\nMIME-Version: 1.0\r\n"
     b"Content-Type: text/plain; charset=utf-8\r\n"
     b"Content-Transfer-Encoding: 8bit\r\n\r\n" + body),
    ("ascii", "ascii@single.test", "SMTPUTF8",
     b"From: <sender@sender.test>\r\nSubject: plain ascii\r\n\r\nhello\r\n"),
    ("utf8rcpt", "jos\u00e9@single.test", "SMTPUTF8 BODY=8BITMIME",
     b"From: <sender@sender.test>\r\nSubject: to jose\r\n\r\nhola\r\n"),
    ("header8", "header8@single.test", "BODY=8BITMIME",
     b"From: <sender@sender.test>\r\nSubject: caf\xc3\xa9\r\n\r\nbody\r\n"),
]
for tag, rcpt, params, content in msgs:
	r = c.send_message("sender@sender.test", [rcpt], content, mail_params=params)
	if r.code != 250:
		print("not accepted: %s %r" % (tag, r))
		sys.exit(1)
	q = sc.queue_id_from(r.text)
	open(os.path.join(out, q + ".eml"), "wb").write(content)
	if tag == "eight":
		open(os.path.join(out, "eight.body"), "wb").write(body)
	print(tag, q)
c.cmd("QUIT", 221)
PY
qid() { awk -v t="$1" '$1 == t { print $2 }' "$T/qids"; }
Q1=$(qid eight); Q2=$(qid ascii); Q3=$(qid utf8rcpt); Q4=$(qid header8)
for q in "$Q1" "$Q2" "$Q3" "$Q4"; do wait_done "$q" 30; done

# 1. converted
f=$(python3 "$E2E/dlv.py" find "$T/single.msgs" "$Q1")
[ -n "$f" ] || fail "$Q1 not delivered"
grep '^mail from: ' "$f" | grep -q 'BODY=\|SMTPUTF8' && fail "$Q1: MAIL FROM declares 8 bit: $(grep '^mail from' "$f")"
python3 - "$f" "$T/sent/eight.body" <<'PY' || fail "$Q1: not 7-bit or does not decode to the original"
import email, email.policy, sys
data = open(sys.argv[1], "rb").read()
content = data.partition(b"\n\n")[2]
bad = [b for b in content if b >= 0x80]
if bad:
	sys.exit("FAIL: %d 8-bit octets arrived" % len(bad))
if max(len(l) for l in content.split(b"\n")) > 76:
	sys.exit("FAIL: a quoted-printable line over 76 octets")
m = email.message_from_bytes(content, policy=email.policy.compat32)
if m["Content-Transfer-Encoding"] != "quoted-printable":
	sys.exit("FAIL: Content-Transfer-Encoding %r" % m["Content-Transfer-Encoding"])
if m.get_content_type() != "text/plain" or m.get_param("charset") != "utf-8":
	sys.exit("FAIL: Content-Type changed: %r" % m["Content-Type"])
want = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n")
got = m.get_payload(decode=True)
if got != want:
	sys.exit("FAIL: decoded body differs:\n%r\n%r" % (got[:200], want[:200]))
print("ok: 7-bit quoted-printable, decodes to the %d original octets" % len(want))
PY
assert_log "$Q1: mx\.single\.test\[[0-9.]+\]:25: 8-bit content converted to 7 bit \(quoted-printable\)"

# 2. SMTPUTF8 not needed
# (our Received: says "with UTF8SMTP", which dlv.py's matcher does not know)
MSGFILE=$(grep -l "id $Q2" "$T"/single.msgs/*.msg)
[ "$(printf '%s' "$MSGFILE" | grep -c .)" -eq 1 ] || fail "want one copy of $Q2 at single"
grep -q '^rcpt to: <ascii@single\.test>' "$MSGFILE" || fail "$Q2: wrong recipient"
grep -q '^hello$' "$MSGFILE" || fail "$Q2: body lost"
grep '^mail from: ' "$MSGFILE" | grep -q 'SMTPUTF8' && fail "$Q2: MAIL FROM has SMTPUTF8: $(grep '^mail from' "$MSGFILE")"
assert_log "$Q2: mx\.single\.test\[[0-9.]+\]:25: ASCII envelope and headers sent without SMTPUTF8"
ok "SMTPUTF8 with an ASCII envelope delivered without the extension"

# 3 and 4: returned
assert_log "$Q3: Permanent failure for <jos.+@single\.test>: 5\.6\.7 SMTPUTF8 is required \(non-ASCII address\), but was not offered by host mx\.single\.test"
assert_log "$Q4: Permanent failure for <header8@single\.test>: 5\.6\.3 host mx\.single\.test\[[0-9.]+\]:25 does not offer 8BITMIME and the message cannot be converted to 7 bit: 8-bit octets in a header"
expect_not_delivered single "$Q3"
expect_not_delivered single "$Q4"
wait_sink_count sender 2 30 || fail "the two bounces did not arrive"
for f in $(dsn_files sender); do
	if grep -q "header8@single" "$f"; then
		python3 "$E2E/dlv.py" dsn "$f" --to sender@sender.test --rcpt header8@single.test \
		    --status 5.6.3 --diag "cannot be converted to 7 bit" || fail "bad 5.6.3 DSN"
	else
		grep -q "Status: 5\.6\.7" "$f" || fail "the other bounce is not 5.6.7"
	fi
done
ok "non-ASCII recipient returned with 5.6.7, 8-bit header with 5.6.3"
[ "$(sink_count single)" -eq 2 ] || fail "single holds $(sink_count single), want 2"
relay_stop
exit 0
