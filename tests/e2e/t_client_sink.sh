#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_client_sink: relay/smtp_client against the test sink (tests/sink) on
# $NET.2..$NET.6 port 25, driven by the unit-test binary's `send` mode:
# pipelined and synchronous servers (the sink counts synchronisation
# errors), per-recipient 250/450/550, two messages on one connection
# (RSET), STARTTLS with the session resumed on a second connection, a 421
# banner, and EHLO refused with 502 (HELO fallback).
. "$(dirname "$0")/lib.sh"

CLIENT=$B/tests/test_smtp_client
[ -x "$CLIENT" ] || fail "no $CLIENT (make asan-build)"
[ -x "$SINK" ] || fail "no $SINK (make asan-build)"
command -v openssl > /dev/null || fail "openssl not installed"

openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
    -subj /CN=mx.b.test -addext subjectAltName=DNS:mx.b.test -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" 2> /dev/null || fail "openssl req"
cat > "$T/rules" <<'EOF'
temp@	450 4.2.0 mailbox busy
perm@	550 5.1.1 user unknown
EOF

stat_is() {	# SINKNAME STAT VALUE (lib.sh sink_start keeps $T/NAME.stats)
	local v
	v=$(sed -n "s/^$2=//p" "$T/$1.stats")
	[ "$v" = "$3" ] || fail "sink $1: $2=$v, want $3"
}

msg() {
	printf 'Subject: t_client_sink\r\n\r\n.dot line\r\nbody\r\n'
}

sink_start s2 "$NET.2:25" -r "$T/rules" -c "$T/cert.pem" -k "$T/key.pem"
sink_start s3 "$NET.3:25" -r "$T/rules" -P
sink_start s4 "$NET.4:25" -r "$T/rules" -b "421 4.3.2 too busy"
sink_start s5 "$NET.5:25" -r "$T/rules" -e "502 5.5.1 no EHLO here"

# pipelining, TLS, three recipients; then a second connection in the same
# process resumes the session; two messages per connection
msg | COUNT=2 CONNS=2 "$CLIENT" send "$NET.2" 25 encrypt s@a.test ok@b.test temp@b.test perm@b.test \
    > "$T/out2" 2>&1 || { cat "$T/out2"; fail "send to sink 2"; }
cat "$T/out2"
[ "$(grep -c '^rcpt ok@b.test 250 ' "$T/out2")" = 4 ] || fail "ok@ not delivered 4 times"
[ "$(grep -c '^rcpt temp@b.test 450 ' "$T/out2")" = 4 ] || fail "temp@ not 450"
[ "$(grep -c '^rcpt perm@b.test 550 ' "$T/out2")" = 4 ] || fail "perm@ not 550"
grep -Eq '^tls TLSv1\.3 .* resumed \(unauthenticated\)$' "$T/out2" || fail "no resumed session"
stat_is s2 connections 2
stat_is s2 tls 2
stat_is s2 tls_resumed 1
stat_is s2 messages 4
stat_is s2 rsets 2
stat_is s2 sync_errors 0
grep -l '^tls_resumed: yes' "$T"/s2.msgs/*.msg > /dev/null || fail "no message over a resumed session"
grep -q '^\.dot line$' "$T"/s2.msgs/*.msg || fail "dot-stuffing lost"
ok "pipelined, TLS, resumed, RSET between messages"

# a server without PIPELINING: the client waits for each reply
msg | COUNT=2 "$CLIENT" send "$NET.3" 25 may s@a.test ok@b.test perm@b.test \
    > "$T/out3" 2>&1 || { cat "$T/out3"; fail "send to sink 3"; }
[ "$(grep -c '^rcpt ok@b.test 250 ' "$T/out3")" = 2 ] || fail "sink 3: ok@ not delivered"
stat_is s3 sync_errors 0
stat_is s3 messages 2
stat_is s3 connections 1
grep -q '^tls-skipped' "$T/out3" || fail "no tls-skipped note without STARTTLS"
ok "synchronous server, no sync errors"

# 421 banner
msg | "$CLIENT" send "$NET.4" 25 may s@a.test ok@b.test > "$T/out4" 2>&1 &&
    fail "send to a 421 banner succeeded"
grep -q '^closed greeting: host mx\[' "$T/out4" || { cat "$T/out4"; fail "421 banner not a greeting failure"; }
grep -q '^reply greeting: 421 4.3.2 too busy' "$T/out4" || fail "421 reply not reported"
ok "421 banner"

# EHLO 502: HELO, then plain SMTP
msg | "$CLIENT" send "$NET.5" 25 may s@a.test ok@b.test > "$T/out5" 2>&1 ||
    { cat "$T/out5"; fail "send to sink 5"; }
grep -q '^reply EHLO: 502 ' "$T/out5" || fail "no 502 to EHLO"
grep -q '^rcpt ok@b.test 250 ' "$T/out5" || fail "no delivery after HELO"
grep -q '^proto: SMTP$' "$T"/s5.msgs/*.msg || fail "sink 5 did not see HELO"
ok "EHLO 502 -> HELO"
exit 0
