#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_exim: a real Exim 4.96 (unpacked privately by scripts/install-exim, run
# with its own -C configuration) hands mail to danerelay on 127.0.0.1 with
# the router and transport printed in README.md, taken from there
# verbatim (only the port differs); danerelay delivers to mx.one.dane.test
# (dane-only: authenticated by its TLSA record) and mx.single.test.
#  0. control: the same router without `self = send` freezes the message
#     ("remote host address is the local host"): the line is needed.
#  1. an 8-bit body (submitted over SMTP on stdin, exim -bs): reaches the
#     DANE server byte for byte;
#  2. one message to three recipients in two domains: one transaction
#     from Exim (nrcpt=3), delivered to both servers;
#  3. danerelay restarted with a certificate: Exim uses STARTTLS to it by
#     itself, and neither side logs a TLS error (danerelay ends the session
#     with close_notify: no "TLS connection was non-properly terminated").
# Exim delivers each message in the foreground (exim -M ID), so no Exim
# process outlives its command.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/inbound.sh"

[ "$(id -u)" -eq 0 ] || skip "Exim with -C and a Debian-exim spool needs root"
EXIM_ROOT=${EXIM_ROOT:-/opt/danerelay-exim}
EXIM=$EXIM_ROOT/usr/sbin/exim4
[ -x "$EXIM" ] || fail "no private Exim at $EXIM (scripts/install-exim)"
"$EXIM" -bV 2>/dev/null | grep -q '^Exim version 4\.96' || fail "$EXIM is not Exim 4.96"

RPORT=$((12000 + TEST_INDEX))	# danerelay on 127.0.0.1, as in README.md
world_sink dane mx.one.dane.test
world_sink single mx.single.test
dlv_conf "$T/relay.conf" <<'C'
[domain one.dane.test]
tls_policy = dane-only
C
sed -i "s|^listen = .*|listen = $NET.1:10025, 127.0.0.1:$RPORT|" "$T/relay.conf"
cp "$T/relay.conf" "$T/relay-plain.conf"
relay_start "$T/relay.conf"

# --- Exim's configuration: a main section, then README.md's snippet ---
X=$T/exim
mkdir -p "$X/spool" "$X/log"
chmod 755 "$T" "$X"
chown Debian-exim:Debian-exim "$X/spool" "$X/log"
awk '/^    begin routers$/ { f = 1 } f && /^[^ ]/ { exit } f { sub(/^    /, ""); print }' \
    "$top/README.md" > "$X/snippet"
grep -q '^danerelay:' "$X/snippet" && grep -q '^danerelay_smtp:' "$X/snippet" ||
    { cat "$X/snippet"; fail "no Exim router and transport found in README.md"; }
grep -q '^  port = 10025$' "$X/snippet" || fail "README.md's transport has no 'port = 10025' line"
exim_conf() {	# FILE SNIPPET
	{
		cat <<-EOF
		exim_path = $EXIM
		primary_hostname = mta.client.test
		qualify_domain = client.test
		spool_directory = $X/spool
		log_file_path = $X/log/%slog
		exim_user = Debian-exim
		exim_group = Debian-exim
		domainlist local_domains = @ : localhost
		acl_smtp_rcpt = accept
		host_lookup =
		rfc1413_hosts =
		keep_environment =
		EOF
		sed "s/^  port = 10025$/  port = $RPORT/" "$2"
		printf 'begin retry\n*   *   F,1m,5s\n'
	} > "$1"
	chmod 644 "$1"
}
exim_conf "$X/exim.conf" "$X/snippet"
sed '/^  self = send$/d' "$X/snippet" > "$X/snippet-noself"
exim_conf "$X/noself.conf" "$X/snippet-noself"
cat "$X/exim.conf"

# exim_submit CONF ARGS... < MESSAGE: queue only; prints the message id
exim_submit() {
	local conf=$1 n
	shift
	n=$(grep -c ' <= ' "$X/log/mainlog" 2> /dev/null)
	"$EXIM" -C "$conf" -odq "$@" || fail "exim refused the submission"
	awk -v n="${n:-0}" '/ <= / && ++i > n { print $3; exit }' "$X/log/mainlog"
}
# exim_deliver CONF ID: one delivery attempt in the foreground
exim_deliver() {
	timeout 60 "$EXIM" -C "$1" -M "$2" || fail "exim -M $2 failed"
}

# 0. control: without self = send, Exim freezes the message
id=$(printf 'Subject: control\n\nno self = send\n' | exim_submit "$X/noself.conf" -f ctl@client.test ctl@one.dane.test)
[ -n "$id" ] || fail "no id for the control message"
exim_deliver "$X/noself.conf" "$id"
grep -E "$id .*remote host address is the local host" "$X/log/mainlog" ||
    fail "control: Exim did not refuse to send to its own address without self = send"
grep -q "$id .*Frozen" "$X/log/mainlog" || fail "control: message not frozen"
"$EXIM" -C "$X/noself.conf" -Mrm "$id" > /dev/null || fail "exim -Mrm $id"
ok "control: without self = send Exim freezes ($id), as README.md says"

# 1. an 8-bit body, over SMTP on stdin (exim -bs)
printf 'EHLO client.test\r\nMAIL FROM:<alice@client.test> BODY=8BITMIME\r\nRCPT TO:<eight@one.dane.test>\r\nDATA\r\nFrom: <alice@client.test>\r\nTo: <eight@one.dane.test>\r\nSubject: eight bit\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\nGr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln, \xe2\x82\xac 5\r\n.\r\nQUIT\r\n' > "$T/eight.smtp"
n=$(grep -c ' <= ' "$X/log/mainlog")
"$EXIM" -C "$X/exim.conf" -odq -bs < "$T/eight.smtp" > "$T/eight.out" || { cat "$T/eight.out"; fail "exim -bs"; }
id1=$(awk -v n="$n" '/ <= / && ++i > n { print $3; exit }' "$X/log/mainlog")
grep -q "250 OK id=$id1" "$T/eight.out" || { cat "$T/eight.out"; fail "exim did not accept the 8-bit message"; }
exim_deliver "$X/exim.conf" "$id1"
grep -E "$id1 => eight@one\.dane\.test R=danerelay T=danerelay_smtp H=127\.0\.0\.1 \[127\.0\.0\.1\] .*C=\"250 " "$X/log/mainlog" ||
    { cat "$X/log/mainlog"; fail "Exim did not hand the 8-bit message to danerelay"; }
wait_sink_count dane 1 30 || fail "the 8-bit message did not reach mx.one.dane.test"
f=$(grep -l '^rcpt to: <eight@one\.dane\.test>' "$T"/dane.msgs/*.msg)
[ -n "$f" ] || fail "no copy for eight@ at mx.one.dane.test"
printf 'Gr\xc3\xbc\xc3\x9fe aus K\xc3\xb6ln, \xe2\x82\xac 5\n' > "$T/eight.want"
tail -n 1 "$f" | cmp -s - "$T/eight.want" || { tail -n 3 "$f" | od -c | head; fail "the 8-bit body changed"; }
assert_log ": from=<alice@client.test>, size=[0-9]+, nrcpt=1, client=\[127\.0\.0\.1\]:[0-9]+, proto=ESMTP$"
ok "8-bit body delivered byte for byte"

# 2. several recipients in two domains: one transaction from Exim
id2=$(printf 'From: <bob@client.test>\nSubject: three recipients\n\nto three\n' |
    exim_submit "$X/exim.conf" -f bob@client.test r1@one.dane.test r2@one.dane.test r3@single.test)
exim_deliver "$X/exim.conf" "$id2"
for r in r1@one.dane.test r2@one.dane.test r3@single.test; do
	grep -Eq "$id2 [=-]> $(re_esc "$r") .*R=danerelay T=danerelay_smtp H=127\.0\.0\.1" "$X/log/mainlog" ||
	    { cat "$X/log/mainlog"; fail "Exim did not hand $r to danerelay"; }
done
assert_log ": from=<bob@client.test>, size=[0-9]+, nrcpt=3, client=\[127\.0\.0\.1\]:[0-9]+, proto=ESMTP$"
wait_sink_count single 1 30 || fail "r3@ did not reach mx.single.test"
wait_sink_count dane 2 30 || fail "r1@, r2@ did not reach mx.one.dane.test"
f=$(grep -l '^rcpt to: <r1@one\.dane\.test>' "$T"/dane.msgs/*.msg)
[ -n "$f" ] && grep -q '^rcpt to: <r2@one\.dane\.test>' "$f" || fail "r1@ and r2@ not in one transaction at mx.one.dane.test"
grep -q '^rcpt to: <r3@single\.test>' "$T"/single.msgs/*.msg || fail "r3@ missing at mx.single.test"
ok "three recipients: one transaction from Exim, delivered per domain"
grep -q 'Connection is now using .* (DANE)$' "$RELAY_LOG" || fail "no DANE-authenticated delivery logged"
! grep -l '^tls: plain' "$T"/dane.msgs/*.msg > /dev/null || fail "a plaintext delivery to one.dane.test"
ok "mx.one.dane.test got its mail over DANE-authenticated TLS"

# 3. danerelay with a certificate: Exim uses STARTTLS to it
relay_stop
make_cert relay.test
# global keys go before the first [domain] section
sed "/^\[domain /i tls_cert_file = $T/relay.test.crt\ntls_key_file = $T/relay.test.key" "$T/relay-plain.conf" > "$T/relay.conf"
relay_start "$T/relay.conf"
id3=$(printf 'From: <carol@client.test>\nSubject: over STARTTLS\n\nover TLS\n' |
    exim_submit "$X/exim.conf" -f carol@client.test tls@one.dane.test)
exim_deliver "$X/exim.conf" "$id3"
grep -E "$id3 => tls@one\.dane\.test R=danerelay T=danerelay_smtp H=127\.0\.0\.1 \[127\.0\.0\.1\] X=TLS1\.[23]:" "$X/log/mainlog" ||
    { cat "$X/log/mainlog"; fail "Exim did not use STARTTLS to danerelay"; }
assert_log "STARTTLS from \[127\.0\.0\.1\]:[0-9]+: TLSv1\.[23]"
assert_log ": from=<carol@client.test>, size=[0-9]+, nrcpt=1, client=\[127\.0\.0\.1\]:[0-9]+, proto=ESMTPS$"
wait_sink_count dane 3 30 || fail "the STARTTLS message did not reach mx.one.dane.test"
ok "Exim used STARTTLS to danerelay; delivered on"
relay_stop
if grep -Ei 'non-properly terminated|TLS error' "$X/log/mainlog"; then
	fail "Exim logged a TLS error talking to danerelay"
fi
ok "Exim logged no TLS error (danerelay sent close_notify)"
[ ! -s "$X/log/paniclog" ] || { cat "$X/log/paniclog"; fail "Exim's paniclog is not empty"; }
ok "Exim's paniclog is empty"
