#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_postfix_relayhost: a real, private Postfix instance (own config, queue
# and data directories under $T, chroot n everywhere, smtpd on $NET.2:2525,
# its SMTP client bound to $NET.3) with relayhost = [$NET.1]:10025 hands
# mail to danerelay. One message is submitted through Postfix's smtpd with
# swaks, one through its sendmail -C; both land in danerelay's spool with
# the envelope Postfix used, and Postfix logs status=sent with our queue id.
# Postfix (smtp_tls_security_level = may) uses STARTTLS to the relay.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"
. "$(dirname "$0")/postfix.sh"

make_cert relay.test
base_conf "$T/relay.conf" <<EOF
tls_cert_file = $T/relay.test.crt
tls_key_file = $T/relay.test.key
EOF
relay_start "$T/relay.conf"

postfix_setup "$NET.2:2525" "[$NET.1]:10025" "$NET.3"
postfix_start
wait_port "$NET.2" 2525 15 || fail "postfix smtpd does not listen on $NET.2:2525"
ok "private postfix running, master pid $PF_MASTER_PID"

# 1. via Postfix's smtpd
printf 'From: <alice@client.test>\r\nTo: <bob@dest.example>\r\nSubject: through postfix smtpd\r\nMessage-ID: <pf-smtpd@client.test>\r\n\r\nhello from swaks via postfix' > "$T/m1.eml"
swaks --server "$NET.2:2525" --helo client.test --from alice@client.test \
    --to bob@dest.example,carol@other.example --data "@$T/m1.eml" --timeout 20 \
    > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "postfix smtpd refused the message"; }

# 2. via sendmail -C (postdrop, pickup)
printf 'From: <dave@client.test>\nTo: <erin@dest.example>\nSubject: through postfix sendmail\nMessage-ID: <pf-sendmail@client.test>\n\nhello from sendmail -C\n' |
    sendmail -C "$PF_DIR/conf" -f dave@client.test erin@dest.example ||
    fail "postfix sendmail -C failed"

postfix_wait_log 'to=<carol@other.example>,.*status=sent' 60 || { cat "$PF_DIR/maillog"; fail "postfix did not relay the smtpd message"; }
postfix_wait_log 'to=<erin@dest.example>,.*status=sent' 60 || { cat "$PF_DIR/maillog"; fail "postfix did not relay the sendmail message"; }
grep -E "relay=$NET.1\[$NET.1\]:10025,.*status=sent \(250 " "$PF_DIR/maillog" | head -3
ok "postfix logs status=sent via [$NET.1]:10025"

# The relay saw Postfix's SMTP client (bound to $NET.3) and accepted twice.
assert_log "$NET\.3"
assert_log "STARTTLS from \[$NET\.3\]:[0-9]+: TLSv1\.3"
assert_log ": from=<alice@client.test>, size=[0-9]+, nrcpt=2, client=\[$NET\.3\]:[0-9]+, proto=ESMTPS"
assert_log ": from=<dave@client.test>, size=[0-9]+, nrcpt=1, client=\[$NET\.3\]:[0-9]+, proto=ESMTPS"
grep -Eq "(Trusted|Untrusted|Anonymous) TLS connection established to $NET.1" "$PF_DIR/maillog" ||
    fail "postfix did not log a TLS connection to the relay"
ok "postfix used STARTTLS to the relay"

# Postfix's "queued as ID" names the spool entries.
py "$PF_DIR/maillog" <<'EOF'
import os, re, sys, smtpclient as sc, spool

def main():
	sp = os.environ["SPOOL"]
	log = open(sys.argv[1], encoding="utf-8", errors="replace").read()
	ids = set(re.findall(r"status=sent \(250 .*?queued as ([A-Za-z0-9]+)", log))
	assert len(ids) == 2, "want two distinct danerelay queue ids in postfix's log, got %r" % ids
	assert sorted(spool.messages(sp)) == sorted(ids), "spool %r, postfix says %r" % (spool.messages(sp), ids)
	seen = {}
	for q in ids:
		m = spool.load(sp, q)
		rec, rest = spool.split_received(m["content"])
		hdrs = rest.split(b"\r\n\r\n", 1)[0]
		mid = re.search(rb"(?im)^message-id:\s*<([^>]+)>", hdrs).group(1).decode()
		seen[mid] = m
		# Postfix added its own Received: below ours; ours names the client.
		assert os.environ["NET"] + ".3" in rec.decode("latin-1"), "our Received: lacks the client address: %r" % rec
		assert b"by mta.client.test (Postfix" in rest, "Postfix's Received: header missing: %r" % rest[:400]
	a = seen["pf-smtpd@client.test"]
	assert a["sender"] == "alice@client.test", a["sender"]
	assert [r["addr"] for r in a["rcpts"]] == ["bob@dest.example", "carol@other.example"], a["rcpts"]
	assert a["content"].endswith(b"\r\n\r\nhello from swaks via postfix\r\n"), a["content"][-80:]
	d = seen["pf-sendmail@client.test"]
	assert d["sender"] == "dave@client.test", d["sender"]
	assert [r["addr"] for r in d["rcpts"]] == ["erin@dest.example"], d["rcpts"]
	assert d["content"].endswith(b"\r\n\r\nhello from sendmail -C\r\n"), d["content"][-80:]
	print("ok: both messages in the spool with Postfix's envelope: %s" % ", ".join(sorted(ids)))

sc.run_main(main)
EOF

postfix_stop
ok "postfix stopped"
relay_stop
assert_spool_count 2
