#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_match_311: the plain DANE success (docs/dane.md rules 3, 6, 12).
# secure.test: secure MX 10 mx1, 20 mx2; mx1 presents the self-signed
# certificate its TLSA 3 1 1 names. The message goes to mx1 (the preferred
# host; mx2 is up too and gets nothing), over TLS with SNI
# mx1.secure.test, authenticated: "(DANE)" and "DANE match: TLSA 3 1 1 at
# depth 0". The decision trace is in order: MX state, TLSA state, connect,
# TLS, match, delivery.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink mx1 mx1.secure.test mx1.secure.test
mx_sink mx2 mx2.secure.test mx2.secure.test
relay_start "$T/relay.conf"

send r@secure.test
wait_msg mx1 1 20
assert_dane_delivery mx1 mx1.secure.test
assert_log "$QID: MX secure.test: secure, 2 hosts \(mx1\.secure\.test, mx2\.secure\.test\)"
assert_log "$QID: TLSA _25\._tcp\.mx1\.secure\.test: secure, [0-9]+ record"
assert_log "$QID: DANE match: TLSA 3 1 1 at depth 0, subject .*mx1\.secure\.test"
assert_log "$QID: Processing message from <s@sender\.test> to <r@secure\.test> with policy dane"
[ "$(msg_count mx2)" = 0 ] || fail "the less preferred mx2 got the message"
[ "$(stat_of mx2 connections)" = 0 ] || fail "the relay connected to mx2"
ok "mx2 untouched"

# the trace is in order
python3 - "$RELAY_LOG" "$QID" <<'PY' || fail "decision trace out of order"
import re, sys
log, qid = open(sys.argv[1]).read().splitlines(), sys.argv[2]
want = [r"MX secure\.test: secure", r"TLSA _25\._tcp\.mx1\.secure\.test: secure",
        r"Connecting to \[", r"Connection is now using TLS.*\(DANE\)",
        r"DANE match: TLSA 3 1 1", r"Successful delivery to <r@secure\.test>"]
pos = 0
for w in want:
	for i in range(pos, len(log)):
		if qid + ": " in log[i] and re.search(w, log[i]):
			pos = i + 1
			break
	else:
		print("missing in order: %s" % w)
		sys.exit(1)
print("ok: trace in order")
PY
wait_log "$QID: Deleting mail file" 10 || fail "message not removed from the spool"
[ "$(rcpt_state "$QID" r@secure.test)" = gone ] || fail "message still in the spool"
relay_stop
