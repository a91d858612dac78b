#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_postfix_same_hostname: Postfix and danerelay on one machine, both with
# the host name their defaults give there (danerelay: the system host name,
# no `hostname` key; Postfix's myhostname set to the same name, as when
# gethostname() returns an FQDN). Postfix (relayhost = [$NET.1]:10025,
# STARTTLS) hands a message to danerelay, which delivers it to
# mx.single.test: neither side takes the other's greeting or EHLO for a
# mail loop, the message arrives once with both Received: headers naming
# the same host, and Postfix logs status=sent.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/inbound.sh"
. "$(dirname "$0")/postfix.sh"

command -v postfix > /dev/null || fail "postfix not installed (scripts/install-deps)"
world_sink single mx.single.test
make_cert relay.test
dlv_conf "$T/relay.conf" <<EOF
tls_cert_file = $T/relay.test.crt
tls_key_file = $T/relay.test.key
EOF
sed -i '/^hostname = /d' "$T/relay.conf"	# the default: the system host name
relay_start "$T/relay.conf"
H=$(python3 -c '
import sys, smtpclient as sc
c = sc.Client(sys.argv[1], sys.argv[2])
print(c.expect(220).text.split()[0])
c.cmd("QUIT", 221)' "$NET.1" 10025) || fail "no greeting"
[ -n "$H" ] || fail "no host name in the greeting"
ok "danerelay's default host name: $H"

postfix_setup "$NET.2:2525" "[$NET.1]:10025" "$NET.3"
sed -i "s/^myhostname = .*/myhostname = $H/" "$PF_DIR/conf/main.cf"
postfix_start
wait_port "$NET.2" 2525 15 || fail "postfix smtpd does not listen on $NET.2:2525"
ok "postfix running as $H too, master pid $PF_MASTER_PID"

printf 'From: <alice@client.test>\r\nTo: <same@single.test>\r\nSubject: same host name\r\nMessage-ID: <same-host@client.test>\r\n\r\nboth are %s\r\n' "$H" > "$T/m.eml"
swaks --server "$NET.2:2525" --helo client.test --from alice@client.test \
    --to same@single.test --data "@$T/m.eml" --timeout 20 \
    > "$T/swaks.out" 2>&1 || { cat "$T/swaks.out"; fail "postfix smtpd refused the message"; }
postfix_wait_log 'to=<same@single\.test>,.*status=(sent|deferred|bounced)' 60 ||
    { cat "$PF_DIR/maillog"; fail "postfix never tried the relay"; }
grep -E 'to=<same@single\.test>,.*status=' "$PF_DIR/maillog"
grep -q 'to=<same@single\.test>,.*status=sent (250 ' "$PF_DIR/maillog" || fail "postfix did not relay the message"
! grep -Ei 'loops back to myself|greeted me with my own hostname|replied to HELO/EHLO with my own hostname' "$PF_DIR/maillog" ||
    fail "postfix took danerelay for itself"
ok "postfix relayed to danerelay with the same host name"
grep -Eq "(Trusted|Untrusted|Anonymous) TLS connection established to $NET.1" "$PF_DIR/maillog" ||
    fail "postfix did not use STARTTLS to the relay"
assert_log ": from=<alice@client.test>, size=[0-9]+, nrcpt=1, client=\[$NET\.3\]:[0-9]+, proto=ESMTPS"

wait_sink_count single 1 30 || fail "the message did not reach mx.single.test"
f=$(ls "$T"/single.msgs/*.msg)
[ "$(sink_count single)" -eq 1 ] || fail "mx.single.test holds $(sink_count single) messages"
Hre=$(re_esc "$H")
grep -Eq "^[[:space:]]*by $Hre \(danerelay\)" "$f" || { head -20 "$f"; fail "no Received: by $H (danerelay)"; }
grep -Eq "^[[:space:]]*by $Hre \(Postfix" "$f" || { head -20 "$f"; fail "no Received: by $H (Postfix)"; }
grep -q "^both are $Hre$" "$f" || fail "content changed"
ok "delivered once to mx.single.test, Received: by $H from both"
postfix_stop
relay_stop
