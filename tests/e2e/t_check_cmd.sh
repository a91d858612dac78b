#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_check_cmd: `danerelay -c FILE check DOMAIN` against the signed test world
# and real TLS servers (tests/sink): the DNS findings come from delivery's
# policy functions, the probes from the real outbound client, once with
# RSA-only and once with ECDSA-only signature algorithms; verdict lines
# per host and address and the monitoring exit status (0 ok, 1 warning,
# 2 critical, 3 unknown) are asserted for:
#   pass.check.test      ECDSA and RSA chains, a 3 1 1 record for each: 0
#   half.check.test      both chains, only the ECDSA one has a record: 2
#                        (over TLS 1.3 and over TLS 1.2)
#   none.dane.test       usable records, none matches (wrong key): 2
#   unusable.dane.test   only unusable records: TLS, no authentication: 1
#   tlsabogus.mxhost.test  a host whose TLSA RRset is bogus: 2
#   insecure.test        insecure MX and hosts: no DANE: 1
#   names.dane.test      DANE-TA 2 1 1 ca: a chain naming the host passes
#                        the name check, one naming wrong.example fails: 0, 2
#   pass.check.test      served without STARTTLS: 2
#   nx.secure.test       does not exist: 3
#   a resolver that gets no answer: validation not confirmed: 3
# and that no mail is sent (the sinks count connections, not messages).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"
. "$(dirname "$0")/check_lib.sh"

base_conf "$T/relay.conf" < /dev/null

two_chains() {	# NAME HOST [sink args]: a sink presenting HOST's ECDSA and RSA chains
	local name=$1 host=$2
	shift 2
	mx_sink "$name" "$host" "$host" -c "$CERTS/$host.rsa.chain.crt" \
	    -k "$CERTS/$host.rsa.key" "$@"
}

# --- a domain that passes, for both algorithms
PASS_IP=$(addr_of mx.pass.check.test)
two_chains pass mx.pass.check.test
check pass pass.check.test 0
P="mx\.pass\.check\.test\[$PASS_IP\]:25"
expect pass "^$P pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), TLSA 3 1 1 matched at depth 0 \(RSA\)$"
expect pass "^mx\.pass\.check\.test pass: DANE: 2 usable TLSA records at mx\.pass\.check\.test"
expect pass "^info: pass\.check\.test: MX pass\.check\.test: secure, 1 record"
expect pass "^info: mx\.pass\.check\.test: TLSA _25\._tcp\.mx\.pass\.check\.test: secure, 2 records"
expect pass "^info: mx\.pass\.check\.test: TLSA record [12]: 3 1 1 [0-9a-f]{64}: usable$"
expect pass "^info: $P: ECDSA: connected, EHLO accepted, STARTTLS offered$"
expect pass "^info: $P: RSA: TLSv1\.[23] with cipher"
expect pass "^info: $P: RSA: chain depth 0: RSA key, subject CN=mx\.pass\.check\.test"
expect pass "^info: $P: ECDSA: chain depth 0: ECDSA key, subject CN=mx\.pass\.check\.test"
expect pass "^ok: $P: RSA: TLSA record [12] \(3 1 1\) matched the certificate at depth 0$"
expect pass "^DANE OK - pass\.check\.test"
# each algorithm matched a different record: the two chains were both seen
r1=$(sed -n "s/^ok: $P: ECDSA: TLSA record \([12]\) .*/\1/p" "$T/pass.out")
r2=$(sed -n "s/^ok: $P: RSA: TLSA record \([12]\) .*/\1/p" "$T/pass.out")
[ -n "$r1" ] && [ -n "$r2" ] && [ "$r1" != "$r2" ] ||
    fail "ECDSA and RSA matched records '$r1' and '$r2', want two different"
ok "ECDSA matched record $r1, RSA record $r2"
[ "$(stat_of pass connections)" = 2 ] || fail "pass: $(stat_of pass connections) connections, want 2 (one per algorithm)"
[ "$(stat_of pass tls)" = 2 ] || fail "pass: $(stat_of pass tls) TLS sessions, want 2"
[ "$(stat_of pass messages)" = 0 ] || fail "check sent mail"
ok "two probes, two handshakes, no mail"

# --json: the same verdicts for machines
check pass_json pass.check.test 0 --json
python3 - "$T/pass_json.out" "$PASS_IP" <<'PY' || fail "--json output"
import json, sys
j = json.load(open(sys.argv[1]))
assert j["status"] == "OK" and j["exit"] == 0, j["status"]
scope = "mx.pass.check.test[%s]:25" % sys.argv[2]
v = [x for x in j["verdicts"] if x["scope"] == scope]
assert len(v) == 1 and v[0]["result"] == "pass", v
assert "(ECDSA)" in v[0]["text"] and "(RSA)" in v[0]["text"], v
assert any(f["severity"] == "ok" for f in j["findings"])
print("ok: json verdicts")
PY

# --- only one algorithm's chain matches: RSA senders would fail
HALF_IP=$(addr_of mx.half.check.test)
two_chains half mx.half.check.test
check half half.check.test 2
H="mx\.half\.check\.test\[$HALF_IP\]:25"
expect half "^$H fail: TLSA 3 1 1 matched at depth 0 \(ECDSA\), RSA: no TLSA record matched the certificate chain \(tlsa-invalid\)$"
expect half "^critical: $H: RSA: authentication failed: .*\(tlsa-invalid\)$"
expect half "^mx\.half\.check\.test fail: "
expect half "^DANE CRITICAL - half\.check\.test"
# the same over TLS 1.2, where the cipher suite names the key type
sink_stop half
two_chains half12 mx.half.check.test -V 1.2
check half12 half.check.test 2
expect half12 "^info: $H: RSA: TLSv1\.2 with cipher ECDHE-RSA-"
expect half12 "^info: $H: ECDSA: TLS version TLSv1\.2: 1\.2 or later required: ok$"
expect half12 "^$H fail: TLSA 3 1 1 matched at depth 0 \(ECDSA\), RSA: no TLSA record matched the certificate chain \(tlsa-invalid\)$"

# --- a wrong key: usable records, none matches
NONE_IP=$(addr_of mx.none.dane.test)
mx_sink none mx.none.dane.test mx.none.dane.test
check none none.dane.test 2
expect none "^mx\.none\.dane\.test\[$NONE_IP\]:25 fail: ECDSA: no TLSA record matched the certificate chain \(tlsa-invalid\), no RSA chain$"
expect none "^info: mx\.none\.dane\.test\[$NONE_IP\]:25: RSA: no handshake with RSA signatures only"
reject none "^ok: "

# --- only unusable records: TLS required, no authentication: warning
UN_IP=$(addr_of mx.unusable.dane.test)
mx_sink unusable mx.unusable.dane.test mx.unusable.dane.test
check unusable unusable.dane.test 1
expect unusable "^mx\.unusable\.dane\.test\[$UN_IP\]:25 warn: TLS TLSv1\.[23], unauthenticated \(ECDSA\), no RSA chain$"
expect unusable "^mx\.unusable\.dane\.test warn: only unusable TLSA records \(5\): TLS required, no authentication$"
expect unusable "^info: mx\.unusable\.dane\.test: TLSA record [1-5]: 1 1 1 [0-9a-f]+: unusable, PKIX usage \(0 or 1\) is not used for SMTP$"
expect unusable "^DANE WARNING - unusable\.dane\.test"

# --- a bogus TLSA RRset: delivery skips the host: critical, no probe
MXH_IP=$(addr_of mx.mxhost.test)
mx_sink mxh mx.mxhost.test mx.mxhost.test
check bogus tlsabogus.mxhost.test 2
expect bogus "^critical: mx\.partbogus\.test: TLSA _25\._tcp\.mx\.partbogus\.test: bogus"
expect bogus "^mx\.partbogus\.test fail: Skipping mx\.partbogus\.test: 4\.7\.5 TLSA lookup for mx\.partbogus\.test failed DNSSEC validation \(dnssec-invalid\)$"
expect bogus "^mx\.mxhost\.test\[$MXH_IP\]:25 pass: "
reject bogus "partbogus\.test\[[0-9.]*\]"

# --- an insecure domain: no DANE, TLS opportunistic: warning
INS_IP=$(addr_of mx1.insecure.test)
mx_sink ins mx1.insecure.test mx1.insecure.test
check insecure insecure.test 1
expect insecure "^warning: insecure\.test: MX RRset insecure"
expect insecure "^mx1\.insecure\.test\[$INS_IP\]:25 warn: TLS TLSv1\.[23], unauthenticated \(ECDSA\)"
expect insecure "^mx1\.insecure\.test warn: no DANE: "
expect insecure "^insecure\.test warn: no MX host is protected by DANE$"

# --- DANE-TA: the name check against the reference identifiers
NAMES_IP=$(addr_of mx.names.dane.test)
N="mx\.names\.dane\.test\[$NAMES_IP\]:25"
mx_sink names mx.names.dane.test mx.names.dane.test.ca
check names names.dane.test 0
expect names "^ok: $N: ECDSA: TLSA record 1 \(2 1 1\) matched the certificate at depth 2$"
expect names "^ok: $N: ECDSA: DANE-TA name check passed: the certificate names mx\.names\.dane\.test \(reference identifiers: mx\.names\.dane\.test, names\.dane\.test"
expect names "^$N pass: TLSA 2 1 1 matched at depth 2 \(ECDSA\), no RSA chain$"
sink_stop names
mx_sink names2 mx.names.dane.test mx.names.dane.test.nomatch
check names_bad names.dane.test 2
expect names_bad "^critical: $N: ECDSA: DANE-TA name check failed: reference identifiers mx\.names\.dane\.test, names\.dane\.test"
expect names_bad "^$N fail: ECDSA: certificate names do not match any reference identifier \(certificate-host-mismatch\), no RSA chain$"
sink_stop names2

# --- usable TLSA records, no STARTTLS: critical, probed once
sink_stop pass
mx_sink plain mx.pass.check.test -
check plain pass.check.test 2
expect plain "^critical: $P: ECDSA: STARTTLS not offered: TLSA records require it$"
expect plain "^$P fail: STARTTLS not offered$"
reject plain "^critical: $P: RSA:"
[ "$(stat_of plain messages)" = 0 ] || fail "check sent mail"

# --- a domain that does not exist: unknown
check nx nx.secure.test 3
expect nx "^nx\.secure\.test unknown: nx\.secure\.test does not exist"

# --- no DNS answers: validation cannot be confirmed: unknown, no probe
no_delivery_dns > "$T/nodns.conf"
sed "s|^resolver_config = .*|resolver_config = $T/nodns.conf|" "$T/relay.conf" > "$T/nodns-relay.conf"
"$BIN" -c "$T/nodns-relay.conf" check pass.check.test > "$T/nodns.out" 2>&1
st=$?
cat "$T/nodns.out"
[ "$st" -eq 3 ] || fail "check without DNS: exit $st, want 3"
expect nodns "^pass\.check\.test unknown: cannot check: DNSSEC validation not confirmed here"
reject nodns "\[[0-9.]*\]:25"

# --- usage errors: unknown, on stderr
"$BIN" -c "$T/relay.conf" check > "$T/usage.out" 2>&1
[ $? -eq 3 ] || fail "check without a domain: want exit 3"
grep -q "usage: danerelay \[-c FILE\] check DOMAIN" "$T/usage.out" || fail "no usage line"
ok "usage error: exit 3"
