#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_addr_literal: RCPT TO:<u@[127.125.5.1]> is refused with 550 5.1.3 by
# default (allow_address_literals = no). After a reload with
# allow_address_literals = yes it is accepted and delivered to a sink on
# that address (port 25) with no MX and no DANE (logged); under
# tls_policy = dane-only the same recipient is deferred with 4.7.5, never
# sent without DANE.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/inbound.sh"

LIT=127.125.5.1
sink_start lit "$LIT:25"
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

# 1. refused by default
python3 - "$NET.1" "$LIT" <<'PY' || fail "address literal not refused"
import smtplib, sys
s = smtplib.SMTP(sys.argv[1], 10025, timeout=10)
s.ehlo("client.test")
s.mail("sender@sender.test")
code, text = s.rcpt("u@[%s]" % sys.argv[2])
print(code, text)
assert code == 550 and text.startswith(b"5.1.3"), (code, text)
code, text = s.rcpt("u@[IPv6:::1]")
assert code == 550 and text.startswith(b"5.1.3"), (code, text)
s.quit()
PY
ok "address literals refused with 550 5.1.3 by default"
assert_log "reject from .*: (RCPT|rcpt) TO:<u@\[$(re_esc "$LIT")\]>: 550 5\.1\.3"

# 2. allowed: delivered to the literal address, no DANE
conf_set "$T/relay.conf" allow_address_literals yes
kill -HUP "$RELAY_PID"
wait_log "configuration reloaded from" 10 || fail "reload"
inject sender@sender.test "u@[$LIT]"
q=$QID
wait_done "$q" 30
expect_delivered lit "$q" sender@sender.test "u@[$LIT]"
assert_log "$q: address literal \[$(re_esc "$LIT")\]: no DNS name, DANE does not apply; TLS may"
assert_log "$q: Connecting to \[$(re_esc "$LIT")\]:25$"
assert_log "$q: Successful delivery to <u@\[$(re_esc "$LIT")\]> \(retry 0\)"
assert_no_log "$q: (MX|TLSA) "
ok "address literal delivered to $LIT when allowed"

# 3. dane-only: deferred with 4.7.5, nothing sent
conf_set "$T/relay.conf" tls_policy dane-only
kill -HUP "$RELAY_PID"
wait_log "configuration reloaded from .*" 10 || fail "reload"
n=$(sink_count lit)
inject sender@sender.test "v@[$LIT]"
q=$QID
wait_log "$q: Temporary failure for <v@\[$(re_esc "$LIT")\]> \(retry [0-9]+\): 4\.7\.5 address literal has no host name for DANE" 30 ||
    fail "not deferred with 4.7.5 under dane-only"
assert_log "$q: address literal \[$(re_esc "$LIT")\]: no host name to look TLSA records up for, dane-only cannot deliver"
assert_no_log "$q: Connecting to"
[ "$(sink_count lit)" = "$n" ] || fail "the sink got mail under dane-only"
ok "dane-only defers an address literal with 4.7.5"
relay_stop
