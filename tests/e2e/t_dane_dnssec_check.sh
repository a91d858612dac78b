#!/bin/bash
# t_dane_dnssec_check: issue 5 rule 16: before delivering under dane or
# dane-only the daemon checks that DNSSEC validation works (the trust
# anchor's own DNSKEY RRset validates as secure). With a trust anchor that
# is a valid key but not the root's (secure.test's KSK, owner "."):
#   dane-only: refuses to start (non-zero exit, no "started"), says why
#   dane: starts, logs a warning naming DNSSEC, and logs it again when a
#         message would have used DANE; nothing is delivered on a guess
# With the right anchor, dane-only starts (control).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

k=$(grep -l 'DNSKEY[[:space:]]*257 ' "$WORLD_DIR"/keys/secure.test/K*.key | head -1)
[ -n "$k" ] || fail "no KSK of secure.test in $WORLD_DIR/keys"
sed -n 's/^[^;]*DNSKEY[[:space:]]*\(257 3 13 [^ ;]*\).*/.\tIN\tDNSKEY\t\1/p' "$k" > "$T/wrong.key"
grep -q '^.	IN	DNSKEY	257 3 13 ' "$T/wrong.key" || { cat "$T/wrong.key"; fail "could not build the wrong anchor"; }
cmp -s "$T/wrong.key" "$WORLD_DIR/root.key" && fail "wrong anchor equals the right one"
# the world's unbound.conf names its own trust-anchor-file: use a copy
# without it, so that trust_anchor_file decides
grep -v 'trust-anchor' "$WORLD_DIR/unbound.conf" > "$T/unbound.conf"

# control: right anchor, dane-only starts
dane_conf dane-only
sed -i "s|^resolver_config *=.*|resolver_config = $T/unbound.conf|" "$T/relay.conf"
relay_start "$T/relay.conf"
relay_stop
ok "dane-only starts with a working trust anchor"

# dane-only with the wrong anchor: refuses to start
: > "$RELAY_LOG"
sed -i "s|^trust_anchor_file *=.*|trust_anchor_file = $T/wrong.key|" "$T/relay.conf"
timeout 30 "$BIN" -c "$T/relay.conf" > "$T/only.out" 2>&1
st=$?
cat "$T/only.out"; cat "$RELAY_LOG"
[ "$st" -ne 0 ] || fail "dane-only started (exit 0) with a broken trust anchor"
[ "$st" -ne 124 ] || fail "dane-only kept running with a broken trust anchor"
grep -q 'started$' "$RELAY_LOG" && fail "dane-only logged started"
grep -Eqi 'dnssec|trust anchor' "$T/only.out" "$RELAY_LOG" || fail "no reason naming DNSSEC"
ok "dane-only refuses to start (exit $st)"

# dane: starts, warns, warns again per delivery that would use DANE
: > "$RELAY_LOG"
sed -i "s|^tls_policy *=.*|tls_policy = dane|" "$T/relay.conf"
mx_sink mx1 mx1.secure.test mx1.secure.test
relay_start "$T/relay.conf"
assert_log "(warning|WARNING).*(DNSSEC|dnssec)|(DNSSEC|dnssec).*(warning|WARNING|not work|fail|broken)"
n0=$(grep -Eic 'dnssec' "$RELAY_LOG")
send r@secure.test
wait_log "$QID: .*(DNSSEC|dnssec)" 20 || fail "no DNSSEC warning for $QID"
n1=$(grep -Eic 'dnssec' "$RELAY_LOG")
[ "$n1" -gt "$n0" ] || fail "no new DNSSEC warning at delivery"
[ "$(msg_count mx1)" = 0 ] || {
	# if it delivered, it must not claim DANE
	assert_no_log "$QID: .*\(DANE\)"
}
ok "dane warns with a broken DNSSEC validation"
relay_stop
