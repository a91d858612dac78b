#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_client_postfix: relay/smtp_client against a real Postfix smtpd on
# $NET.2:25 (a private instance that discards what it accepts): STARTTLS
# under `encrypt`, pipelined MAIL/RCPT/DATA without Postfix seeing improper
# pipelining, per-recipient 250/450/550, two messages over one connection
# (RSET between), and TLS session resumption on a second connection.
# The client is driven by the unit-test binary's `send` mode.
. "$(dirname "$0")/lib.sh"

CLIENT=$B/tests/test_smtp_client
[ -x "$CLIENT" ] || fail "no $CLIENT (make unit / asan-build)"
command -v postfix > /dev/null || fail "postfix not installed (scripts/install-deps)"
command -v openssl > /dev/null || fail "openssl not installed"

PF=$T/pf
mkdir -p "$PF/conf" "$PF/queue" "$PF/data"
chmod 755 "$T" "$PF"
chown postfix "$PF/data"
: > "$PF/maillog"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=mx.b.test -addext subjectAltName=DNS:mx.b.test -days 2 \
    -keyout "$PF/conf/key.pem" -out "$PF/conf/cert.pem" 2> /dev/null ||
    fail "openssl req"
cat > "$PF/conf/rcpt" <<'EOF'
/^temp@/	450 4.2.0 mailbox busy
/^perm@/	550 5.1.1 user unknown
EOF
cat > "$PF/conf/main.cf" <<EOF
compatibility_level = 3.6
queue_directory = $PF/queue
data_directory = $PF/data
maillog_file = $PF/maillog
maillog_file_prefixes = $PF
mail_owner = postfix
setgid_group = postdrop
myhostname = mx.b.test
mydestination =
local_recipient_maps =
alias_maps =
alias_database =
inet_interfaces = loopback-only
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relay_domains = b.test
relay_transport = discard:
smtpd_recipient_restrictions = check_recipient_access regexp:$PF/conf/rcpt, permit_mynetworks, reject_unauth_destination
smtpd_tls_security_level = may
smtpd_tls_cert_file = $PF/conf/cert.pem
smtpd_tls_key_file = $PF/conf/key.pem
smtpd_tls_loglevel = 1
smtpd_tls_session_cache_timeout = 3600s
biff = no
EOF
cat > "$PF/conf/master.cf" <<EOF
$NET.2:25 inet n       -       n       -       -       smtpd
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
proxymap  unix  -       -       n       -       -       proxymap
discard   unix  -       -       n       -       -       discard
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
EOF
postfix -c "$PF/conf" check > "$T/pf.out" 2>&1 || { cat "$T/pf.out"; fail "postfix check"; }
postfix -c "$PF/conf" start >> "$T/pf.out" 2>&1 || { cat "$T/pf.out" "$PF/maillog"; fail "postfix start"; }
i=0
while :; do
	PF_PID=$(tr -d ' \n' < "$PF/queue/pid/master.pid" 2>/dev/null)
	[ -n "$PF_PID" ] && kill -0 "$PF_PID" 2>/dev/null && break
	i=$((i + 1))
	[ "$i" -gt 100 ] && { cat "$T/pf.out" "$PF/maillog"; fail "postfix master did not start"; }
	sleep 0.1
done
track "$PF_PID"
wait_port "$NET.2" 25 15 || fail "postfix smtpd does not listen"
# wait_port's probe shows up as one lost connection: judge only what
# comes after it
wait_log 'lost connection after CONNECT' 10 "$PF/maillog" || fail "no probe line in maillog"
start=$(wc -l < "$PF/maillog")
ok "postfix smtpd on $NET.2:25"

msg() {
	printf 'Subject: t_client_postfix %s\r\n\r\n.a line with a dot\r\nbody\r\n' "$1"
}

# 1: encrypt, three recipients, pipelined
msg one | "$CLIENT" send "$NET.2" 25 encrypt s@a.test ok@b.test temp@b.test perm@b.test \
    > "$T/out1" 2>&1 || { cat "$T/out1"; fail "send 1 failed"; }
cat "$T/out1"
grep -q '^connected \[' "$T/out1" || fail "no connected event"
grep -Eq '^tls TLSv1\.[23] with cipher .* \([0-9]+ bits\) \(unauthenticated\)$' "$T/out1" || fail "no TLS"
grep -q 'resumed' "$T/out1" && fail "first connection resumed a session"
grep -q '^rcpt ok@b.test 250 250 2.0.0 Ok: queued as ' "$T/out1" || fail "ok@ not 250 after DATA"
grep -q '^rcpt temp@b.test 450 450 4.2.0 ' "$T/out1" || fail "temp@ not 450"
grep -q '^rcpt perm@b.test 550 550 5.1.1 ' "$T/out1" || fail "perm@ not 550"
grep -q '^done none accepted 1$' "$T/out1" || fail "done line"
grep -q '^closed none: QUIT$' "$T/out1" || fail "not closed cleanly"
ok "encrypt: 250/450/550 per recipient"

# 2: two connections from one process (one session cache): the second
# resumes the TLS session; each carries two messages (RSET between)
msg two | COUNT=2 CONNS=2 "$CLIENT" send "$NET.2" 25 encrypt s@a.test ok@b.test \
    > "$T/out2" 2>&1 || { cat "$T/out2"; fail "send 2 failed"; }
cat "$T/out2"
[ "$(grep -c '^connected ' "$T/out2")" = 2 ] || fail "not two connections"
sed -n '/^connection 1$/,/^connection 2$/p' "$T/out2" > "$T/out2a"
sed -n '/^connection 2$/,$p' "$T/out2" > "$T/out2b"
grep -Eq '^tls TLSv1\.[23] .*bits\) \(unauthenticated\)$' "$T/out2a" || fail "first connection: no fresh TLS"
grep -Eq '^tls TLSv1\.[23] .* resumed \(unauthenticated\)$' "$T/out2b" || fail "second connection did not resume"
for f in "$T/out2a" "$T/out2b"; do
	[ "$(grep -c '^rcpt ok@b.test 250 ' "$f")" = 2 ] || fail "two messages not both accepted"
	grep -q '^reply RSET: 250 ' "$f" || fail "no RSET between the messages"
done
ok "second connection resumed; two messages per connection"

# 3: plaintext under none: no STARTTLS at all
msg three | "$CLIENT" send "$NET.2" 25 none s@a.test ok@b.test > "$T/out3" 2>&1 ||
    { cat "$T/out3"; fail "send 3 failed"; }
grep -q '^tls ' "$T/out3" && fail "TLS under none"
grep -q '^rcpt ok@b.test 250 ' "$T/out3" || fail "plaintext delivery"
ok "plaintext under none"

# Postfix's view: three TLS connections, no pipelining complaint, six
# accepted messages over four connections.
postfix_log() { tail -n +"$((start + 1))" "$PF/maillog" | grep -E "$1"; }
i=0
while [ "$(grep -c 'status=sent' "$PF/maillog")" -lt 6 ]; do
	i=$((i + 1)); [ "$i" -gt 100 ] && break; sleep 0.1
done
[ "$(grep -c 'status=sent' "$PF/maillog")" = 6 ] || { tail -30 "$PF/maillog"; fail "postfix did not accept 6 messages"; }
[ "$(grep -c 'TLS connection established from' "$PF/maillog")" = 3 ] || { tail -30 "$PF/maillog"; fail "postfix did not see 3 TLS connections"; }
postfix_log 'improper command pipelining' && fail "postfix saw improper pipelining"
postfix_log 'lost connection' && fail "postfix saw a lost connection"
[ "$(postfix_log ' connect from ' | wc -l)" = 4 ] || fail "postfix did not see exactly 4 connections"
ok "postfix saw clean sessions"

postfix -c "$PF/conf" stop >> "$T/pf.out" 2>&1
wait_pid_gone "$PF_PID" 150 || fail "postfix did not stop"
untrack "$PF_PID"
exit 0
