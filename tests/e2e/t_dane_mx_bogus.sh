#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_mx_bogus: RFC 7672 2.1.1 (docs/dane.md rule 1): a bogus MX RRset or an
# MX lookup error defers the message; the relay never guesses hosts.
# bogus.test (everything bogus; its mx1.bogus.test has a sink),
# partbogus.test (MX bogus, the host mx.partbogus.test itself secure, sink
# there) and x.dead.test (SERVFAIL). All three deferred with 4.4.3 or
# 4.7.5, kept in the spool, no sink contacted, no bounce.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink b mx1.bogus.test mx1.bogus.test
mx_sink pb mx.partbogus.test mx.partbogus.test
relay_start "$T/relay.conf"

for r in r@bogus.test r@partbogus.test r@x.dead.test; do
	send "$r"
	wait_deferred "$r" 30
	echo "$DEFER_LINE" | grep -Eq ': 4\.(7\.5|4\.3) ' || fail "deferral of $r is not 4.7.5/4.4.3"
	d=${r#r@}
	case $d in
	*dead*) assert_log "$QID: MX $d: [a-zA-Z]" ;;
	*) assert_log "$QID: MX ${d//./\\.}: bogus" ;;
	esac
	assert_no_log "$QID: Connecting to"
	assert_no_log "$QID: Permanent failure"
done
[ "$(stat_of b connections)" = 0 ] || fail "connected to a host of a bogus MX RRset"
[ "$(stat_of pb connections)" = 0 ] || fail "connected to the (secure) host of a bogus MX RRset"
ok "no host of a bogus or failed MX lookup contacted"
relay_stop
