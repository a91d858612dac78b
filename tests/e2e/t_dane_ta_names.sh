#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_ta_names: RFC 7672 3.2.2 (docs/dane.md rule 11): DANE-TA(2) needs a
# chain to the anchor and a name check against the reference identifiers
# (TLSA base domain mx.names.dane.test and, the MX lookup being secure, the
# next-hop domain names.dane.test); partial wildcards are refused.
# names.dane.test's TLSA is 2 1 1 of ca; the sink presents, in turn:
#   .partial (m*.names.dane.test)  fail -> deferred, then .ca: delivered
#   .nomatch (wrong.example)       fail -> deferred, then .nexthop: delivered
#   self-signed (no chain to ca)   fail -> deferred, then .wild: delivered
# Each failing certificate receives nothing; each deferred message is the
# one delivered after the swap.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

H=mx.names.dane.test
dane_conf dane
relay_start "$T/relay.conf"

n=0
for pair in partial:ca nomatch:nexthop :wild; do
	bad=${pair%%:*} good=${pair#*:}
	n=$((n + 1))
	badcert=$H${bad:+.$bad}
	mx_sink bad$n $H "$badcert"
	send r$n@names.dane.test
	wait_deferred r$n@names.dane.test 20
	case $bad in
	partial|nomatch) assert_log "$QID: DANE verification failed for $H\[.*certificate-host-mismatch" ;;
	*) assert_log "$QID: DANE verification failed for $H\[.*(tlsa-invalid|validation-failure|certificate-not-trusted)" ;;
	esac
	assert_log "$QID: TLSA _25\._tcp\.$H: secure, 1 record"
	[ "$(msg_count bad$n)" = 0 ] || fail "certificate $badcert was accepted"
	ok "$badcert refused"
	sink_stop bad$n
	mx_sink good$n $H "$H.$good"
	wait_msg good$n 1 20
	assert_dane_delivery good$n $H
	assert_log "$QID: DANE match: TLSA 2 1 1 at depth [12]"
	grep -q "^rcpt to: <r$n@names.dane.test>" "$MSG" || fail "good$n got the wrong message"
	sink_stop good$n
done
relay_stop
