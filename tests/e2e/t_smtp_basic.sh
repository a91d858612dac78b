#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_smtp_basic: the daemon greets, lists its EHLO features, accepts one
# message from swaks, answers "250 2.0.0 Ok: queued as ID", and that ID is
# in the spool holding the message plus one Received: header; the log has
# the connect, accept and disconnect lines; SIGTERM exits 0.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool

command -v swaks > /dev/null || fail "swaks is not installed (scripts/install-deps)"
base_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

# swaks ends the data with CRLF . CRLF itself: the file has no final CRLF
printf 'Subject: basic\r\nX-Test: t_smtp_basic\r\n\r\nline one\r\n.leading dot\r\n\r\nlast line' > "$T/msg"
swaks --server "$NET.1:10025" --helo client.test --from sender@client.test \
    --to rcpt@example.test --data @"$T/msg" > "$T/swaks.out" 2>&1 ||
    { cat "$T/swaks.out"; fail "swaks failed"; }
cat "$T/swaks.out"

for f in PIPELINING 'SIZE 52428800' 8BITMIME ENHANCEDSTATUSCODES SMTPUTF8; do
	grep -q "^<-  250[- ]$f\$" "$T/swaks.out" || fail "EHLO lacks $f"
	ok "EHLO lists $f"
done
grep -q '^<-  250[- ]STARTTLS' "$T/swaks.out" && fail "STARTTLS offered without tls_cert_file"
ok "no STARTTLS without a certificate"
grep -q "^<-  220 relay.test ESMTP" "$T/swaks.out" || fail "no greeting naming relay.test"
id=$(sed -n 's/^<-  250 2\.0\.0 Ok: queued as \([0-9A-Z]*\)\r\{0,1\}$/\1/p' "$T/swaks.out")
[ -n "$id" ] || fail "no queue id in the reply to the end of data"
ok "queued as $id"

f=$T/spool/msg/$id
[ -f "$f" ] || fail "$f is not in the spool"
grep -q '^sender sender@client.test$' "$f" || fail "envelope sender missing"
grep -q '^rcpt rcpt@example.test' "$f" || fail "envelope recipient missing"
# content: after the envelope's "end" line, one Received: header, then the message
python3 - "$f" "$T/msg" "$id" <<'PY' || fail "spooled content differs"
import re, sys
data = open(sys.argv[1], "rb").read()
sent = open(sys.argv[2], "rb").read() + b"\r\n"	# swaks stuffs the dot, we unstuff it
content = data.split(b"\nend\n", 1)[1]
m = re.match(rb"Received: from client\.test \(\[[0-9.]+\]\)\r\n\tby relay\.test \(danerelay\) with ESMTP id " + sys.argv[3].encode() +
             rb"\r\n\tfor <rcpt@example\.test>; [A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} [+-]\d{4}\r\n", content)
assert m, "bad Received: header: %r" % content[:300]
rest = content[m.end():]
assert rest == sent, "content %r, sent %r" % (rest, sent)
assert content.count(b"Received:") == 1
print("ok: content is one Received: header plus the message, byte for byte")
PY

assert_log "connect from \[[0-9.]+\]:[0-9]+"
assert_log "$id: from=<sender@client.test>, size=[0-9]+, nrcpt=1, client=\[[0-9.]+\]:[0-9]+, proto=ESMTP"
assert_log "disconnect from \[[0-9.]+\]:[0-9]+ \(commands=5, quit\)"
assert_log "listening on $NET\.1:10025"
relay_stop
assert_log "stopping on SIGTERM"
assert_log ": stopped$"
[ -f "$f" ] || fail "$id gone after SIGTERM"
ok "message still spooled after SIGTERM"
