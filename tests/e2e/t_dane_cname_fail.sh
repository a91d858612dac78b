#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_cname_fail: docs/dane.md rules 4, 5 and 1: an MX host whose CNAME
# chain ends in a bogus address (cn-bogus.cname.test: alias-bogus ->
# mx1.bogus.test) or in NXDOMAIN (cn-nx.cname.test), with no other host:
# deferred, kept in the spool, the bogus host's sink never contacted, no
# bounce.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink b mx1.bogus.test mx1.bogus.test
relay_start "$T/relay.conf"

for r in r@cn-bogus.cname.test r@cn-nx.cname.test; do
	send "$r"
	wait_deferred "$r" 20
	assert_log "$QID: MX ${r#r@}: secure"
	assert_no_log "$QID: Connecting to"
	assert_no_log "$QID: Permanent failure"
done
[ "$(stat_of b connections)" = 0 ] || fail "connected to a bogus address reached through a CNAME"
ok "bogus / missing CNAME targets never contacted"
relay_stop
