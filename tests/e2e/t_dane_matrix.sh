#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_matrix: every TLSA form of RFC 6698/7671 that must authenticate
# (docs/dane.md rules 6, 10, 11 and the certificate list): 3 S M and 2 S M for
# selector 0/1 and matching type 0/1/2, 2 1 1 of the intermediate, an
# RRset with every form (ee), one where only one of four records matches
# (one), a good record beside a malformed one (malformed-plus) and an RSA
# host (rsa). Each CASE.dane.test's host is a sink presenting the
# certificate (chain for usage 2) its zone describes; every message must
# arrive over TLS with SNI = the host name and be logged as a DANE match
# of the right usage.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
cases="ee00 ee01 ee02 ee10 ee11 ee12 ta00 ta01 ta02 ta10 ta11 ta12 taica ee one malformed-plus rsa"
for c in $cases; do
	mx_sink "$c" "mx.$c.dane.test" "mx.$c.dane.test"
done
relay_start "$T/relay.conf"

declare -A qid
for c in $cases; do
	send "r@$c.dane.test"
	qid[$c]=$QID
done
for c in $cases; do
	QID=${qid[$c]}
	wait_msg "$c" 1 30
	grep -q "^rcpt to: <r@$c.dane.test>" "$MSG" || fail "$c got the wrong message"
	assert_msg_tls "$MSG"
	assert_msg_sni "$MSG" "mx.$c.dane.test"
	wait_log "$QID: Successful delivery to <r@$c.dane.test>" 10 || fail "$c: no delivery line"
	assert_log "$QID: Connection is now using TLSv1\.[23] with cipher .*\(DANE\)"
	case $c in
	ee[01][012]) u=3 s=${c:2:1} m=${c:3:1}; assert_log "$QID: DANE match: TLSA $u $s $m at depth 0" ;;
	ta[01][012]) u=2 s=${c:2:1} m=${c:3:1}; assert_log "$QID: DANE match: TLSA $u $s $m at depth 2" ;;
	taica) assert_log "$QID: DANE match: TLSA 2 1 1 at depth 1" ;;
	*) assert_log "$QID: DANE match: TLSA 3 [01] [012] at depth 0" ;;
	esac
	ok "$c: authenticated"
done
relay_stop
