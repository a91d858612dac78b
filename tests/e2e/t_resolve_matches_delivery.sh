#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_resolve_matches_delivery: `danerelay resolve DOMAIN` is what delivery
# sees. For destinations covering every host decision (DANE required,
# CNAME expanded / original / first link insecure / bogus, bogus or failing
# TLSA, unusable or malformed TLSA, insecure addresses, no address, test
# mode, a dane-only override on an insecure MX), the daemon makes one real
# attempt (no server listens, so every host is tried) and `resolve` runs on
# the same configuration; the decision lines delivery logged for the
# message must be exactly the "verdict:" lines resolve printed.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane <<'EOF2'
[domain insecure.test]
tls_policy = dane-only
reason = trial
[domain one.dane.test]
test_mode = yes
EOF2
sed -i -e "s|^min_backoff *=.*|min_backoff = 1h|" -e "s|^max_backoff *=.*|max_backoff = 1h|" "$T/relay.conf"
relay_start "$T/relay.conf"
wait_log 'DNSSEC validation check passed' 30 || fail "no validation check"

DOMAINS="cn-exp.cname.test cn-orig.cname.test cn-insec.cname.test
cn-first-insec.cname.test cn-bogus.cname.test cn-2hop.cname.test
tc.cname.test ti.cname.test partial.mxhost.test tlsabogus.mxhost.test
tlsadead.mxhost.test insec.mxhost.test nxhost.mxhost.test
unusable.dane.test malformed.dane.test malformed-plus.dane.test
one.dane.test nomx.test tosecure.insecure.test"

# delivery's decision lines for $QID (relay/policy.c policy_host_text)
dlv_verdicts() {
	sed -n "s/^.* danerelay\[[0-9]*\]: $1: //p" "$RELAY_LOG" |
	    grep -E '^Skipping |; reference identifiers: |^[^ ]+: TLS (none|may|encrypt|dane) \(|, trying the next base domain$|^no usable address for |^test mode: would have (deferred|skipped) ' |
	    sed -e 's/, trying the next host$//' | sort
}

n=0
for d in $DOMAINS; do
	send "r@$d"
	eval "Q_$n=\$QID"
	n=$((n + 1))
done
n=0
for d in $DOMAINS; do
	QID=$(eval echo "\$Q_$n")
	n=$((n + 1))
	wait_log "$QID: Temporary failure for <r@$d>" 60 || fail "no attempt finished for $d"
	dlv_verdicts "$QID" > "$T/$d.dlv"
	"$BIN" -c "$T/relay.conf" resolve "$d" > "$T/$d.res" 2>&1
	sed -n 's/^ *verdict: //p' "$T/$d.res" | grep -v '^defer \|^bounce ' | sort > "$T/$d.rv"
	[ -s "$T/$d.dlv" ] || { cat "$T/$d.res"; fail "$d: delivery logged no decision"; }
	if ! cmp -s "$T/$d.dlv" "$T/$d.rv"; then
		echo "--- delivery"; cat "$T/$d.dlv"
		echo "--- resolve"; cat "$T/$d.res"
		fail "$d: resolve and delivery disagree"
	fi
	ok "$d: $(wc -l < "$T/$d.dlv") decision(s) agree: $(head -1 "$T/$d.dlv")"
done

# the destination-level verdict: a dane-only override on an insecure MX
send r@insecure.test
wait_deferred r@insecure.test 60
"$BIN" -c "$T/relay.conf" resolve insecure.test > "$T/ins.res" 2>&1
cat "$T/ins.res"
grep -q '^policy: dane-only, override \[domain insecure\.test\]: trial$' "$T/ins.res" ||
    fail "resolve does not apply the override"
v=$(sed -n 's/^verdict: defer //p' "$T/ins.res")
[ -n "$v" ] || fail "resolve shows no deferral for insecure.test"
echo "$DEFER_LINE" | grep -qF ": $v; next attempt" || fail "resolve says '$v', delivery: $DEFER_LINE"
ok "insecure.test: both defer with '$v'"
relay_stop
