#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_dnssec_check: before delivering under dane or dane-only the daemon
# checks that DNSSEC validation works (resolver/selfcheck.c: the trust
# anchor's own DNSKEY RRset must validate as secure), and tells "the
# validator does not validate" from "no usable answer":
#  - right anchor: dane-only starts (control).
#  - a resolver_config without the validator module (module-config
#    "iterator"): the validator answers insecure for the signed root. That
#    alone is "DNSSEC validation is not working": dane-only refuses to
#    start (exit 2, reason naming DNSSEC); dane starts, warns loudly at
#    start and on every message that would have used DANE.
#  - a wrong trust anchor (a valid key, not the root's): the root's DNSKEY
#    is bogus. That is "not confirmed", as with DNS that does not answer:
#    dane-only starts and defers 4.7.5 "DNSSEC validation not confirmed",
#    the check is retried, nothing is delivered.
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
# and one whose resolver does not validate at all
sed 's/^\([[:space:]]*module-config:\).*/\1 "iterator"/' "$T/unbound.conf" > "$T/novalidator.conf"
grep -q 'module-config: "iterator"' "$T/novalidator.conf" || fail "could not build the non-validating config"

# control: right anchor, dane-only starts
dane_conf dane-only
sed -i "s|^resolver_config *=.*|resolver_config = $T/unbound.conf|" "$T/relay.conf"
relay_start "$T/relay.conf"
wait_log 'DNSSEC validation check passed: DNSKEY \.: secure' 20 || fail "no passed check"
relay_stop
ok "dane-only starts with a working trust anchor"

# dane-only with a validator that does not validate: refuses to start
: > "$RELAY_LOG"
sed -i "s|^resolver_config *=.*|resolver_config = $T/novalidator.conf|" "$T/relay.conf"
timeout 30 "$BIN" -c "$T/relay.conf" > "$T/only.out" 2>&1
st=$?
cat "$T/only.out"; cat "$RELAY_LOG"
[ "$st" -eq 2 ] || fail "dane-only exited $st with a non-validating resolver, want 2"
grep -q 'started$' "$RELAY_LOG" && fail "dane-only logged started"
grep -q 'DNSSEC validation does not work (DNSKEY \.: insecure' "$T/only.out" ||
    fail "no reason naming DNSSEC on stderr"
ok "dane-only refuses to start (exit $st) when the validator does not validate"

# dane with that resolver: starts, warns, warns again per delivery that
# would use DANE, and delivers without DANE (the documented warning path)
: > "$RELAY_LOG"
sed -i "s|^tls_policy *=.*|tls_policy = dane|" "$T/relay.conf"
mx_sink mx1 mx1.secure.test mx1.secure.test
relay_start "$T/relay.conf"
wait_log 'WARNING: DNSSEC validation check FAILED: DNSKEY \.: insecure' 20 ||
    fail "no start-up warning"
send r@secure.test
wait_log "$QID: WARNING: DNSSEC validation is not working: DANE cannot be used for secure\.test" 20 ||
    fail "no DNSSEC warning for $QID"
wait_msg mx1 1 20
assert_no_log "$QID: .*\(DANE\)"
assert_log "$QID: Connection is now using .*\(unauthenticated\)"
ok "dane warns and delivers without DANE when the validator does not validate"
relay_stop

# dane-only with a wrong anchor: bogus root keys are "not confirmed": it
# starts, defers with 4.7.5, retries the check, delivers nothing
: > "$RELAY_LOG"
sed -i -e "s|^tls_policy *=.*|tls_policy = dane-only|" \
    -e "s|^resolver_config *=.*|resolver_config = $T/unbound.conf|" \
    -e "s|^trust_anchor_file *=.*|trust_anchor_file = $T/wrong.key|" "$T/relay.conf"
n0=$(msg_count mx1)
relay_start "$T/relay.conf"
assert_log 'WARNING: DNSSEC validation not confirmed: DNSKEY \.: bogus'
assert_log 'tls_policy dane-only: DNSSEC validation not confirmed yet'
send r@secure.test
wait_deferred r@secure.test 30
echo "$DEFER_LINE" | grep -q '4\.7\.5 DNSSEC validation not confirmed' ||
    fail "deferral does not say 4.7.5 DNSSEC validation not confirmed"
wait_log 'DNSSEC validation not confirmed: .*check [3-9] failed' 30 ||
    fail "the check was not retried"
assert_no_log "$QID: Connecting to"
[ "$(msg_count mx1)" = "$n0" ] || fail "a message was delivered with a bogus trust anchor"
ok "dane-only with a wrong trust anchor starts, defers 4.7.5 and delivers nothing"
relay_stop

# dane-only while DNS does not answer at all (systemd starting it before
# the network): starts, says validation is not confirmed, defers
: > "$RELAY_LOG"
no_delivery_dns > "$T/nodns.conf"
sed -i -e "s|^resolver_config *=.*|resolver_config = $T/nodns.conf|" \
    -e "s|^trust_anchor_file *=.*|trust_anchor_file = $WORLD_DIR/root.key|" "$T/relay.conf"
relay_start "$T/relay.conf"
assert_log 'tls_policy dane-only: DNSSEC validation not confirmed yet \(DNSKEY \.: no answer'
assert_no_log 'DNSSEC validation does not work'
send r@secure.test
wait_deferred r@secure.test 30
echo "$DEFER_LINE" | grep -q '4\.7\.5 DNSSEC validation not confirmed' ||
    fail "deferral does not say 4.7.5 DNSSEC validation not confirmed"
ok "dane-only starts while DNS does not answer, and defers"
relay_stop
