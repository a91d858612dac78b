#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_check_at: `danerelay check --at +30d` reports certificates that will
# have expired by then, and the TLSA TTL advice (30 minutes to 1 hour).
#   soon.check.test: the leaf (issued by ica) expires in 10 days; its
#     3 1 1 record matches today: exit 0 without --at and with --at +5d,
#     warning (1) with --at +30d naming the certificate and the record
#   longttl.check.test: TLSA TTL 7200 s: warning (1) through a resolver
#     that keeps the zone's TTL; the world's resolver caps TTLs at 30 s
#     (cache-max-ttl) and then only a note is given (0)
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"
. "$(dirname "$0")/check_lib.sh"

base_conf "$T/relay.conf" < /dev/null
# the same resolver without the world's 30 s cache cap
grep -v 'cache-max-ttl' "$WORLD_DIR/unbound.conf" > "$T/unbound-ttl.conf"
sed "s|^resolver_config = .*|resolver_config = $T/unbound-ttl.conf|" \
    "$T/relay.conf" > "$T/ttl.conf"
grep -q "^resolver_config = $T/unbound-ttl.conf" "$T/ttl.conf" || fail "no ttl.conf"

SOON_IP=$(addr_of mx.soon.check.test)
mx_sink soon mx.soon.check.test mx.soon.check.test
S="mx\.soon\.check\.test\[$SOON_IP\]:25"
EXP=$(openssl x509 -noout -enddate -in "$CERTS/mx.soon.check.test.crt" | sed 's/^notAfter=//')
EXP_DAY=$(date -u -d "$EXP" +%Y-%m-%d)

check now soon.check.test 0
expect now "^$S pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), no RSA chain$"
reject now "will have expired"

check at5 soon.check.test 0 --at +5d
reject at5 "will have expired"

check at30 soon.check.test 1 --at +30d
expect at30 "^warning: $S: ECDSA: at \+30d: the certificate at depth 0 \(CN=mx\.soon\.check\.test,.*\) will have expired \($EXP_DAY "
expect at30 "^warning: $S: ECDSA: at \+30d: the leaf will have been replaced: unless the new certificate keeps the key, TLSA 3 1 1 no longer matches"
expect at30 "^$S warn: TLSA 3 1 1 matched at depth 0 \(ECDSA\); at \+30d: certificate at depth 0 expires $EXP_DAY "
expect at30 "^DANE WARNING - soon\.check\.test"
# the intermediate and the root are valid for years: not reported
reject at30 "depth [12] .* will have expired"

check badat soon.check.test 3 --at soon

# TTL advice
LT_IP=$(addr_of mx.longttl.check.test)
mx_sink longttl mx.longttl.check.test mx.longttl.check.test
CHECK_CONF=$T/ttl.conf check ttl longttl.check.test 1
expect ttl "^warning: mx\.longttl\.check\.test: advice: TLSA _25\._tcp\.mx\.longttl\.check\.test TTL 7[0-9]{3} s is longer than the recommended 1800-3600 s"
expect ttl "^mx\.longttl\.check\.test\[$LT_IP\]:25 pass: TLSA 3 1 1 matched at depth 0 \(ECDSA\), no RSA chain$"
check ttlcap longttl.check.test 0
expect ttlcap "^info: mx\.longttl\.check\.test: advice: TLSA _25\._tcp\.mx\.longttl\.check\.test TTL [0-9]+ s is shorter than the recommended"
