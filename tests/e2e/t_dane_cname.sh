#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_cname: RFC 7672 2.1.3, 2.2.2, 2.2.3 (docs/dane.md rules 5 and 12).
#   cn-exp:  MX host alias-exp.cname.test -> host-exp.cname2.test (secure
#            chain): TLSA at the expanded name; SNI host-exp.cname2.test
#   cn-orig: alias-orig -> host-orig.cname2.test: no TLSA at the expanded
#            name, TLSA at the original alias-orig.cname.test; SNI is it
#   cn-insec: alias-insec.cname.test (secure CNAME) -> host-cn.insecure.test
#            (insecure A): TLSA at the original name (secure); SNI
#            alias-insec.cname.test
#   tc:      _25._tcp.host-tc.cname.test is a CNAME to a secure TLSA:
#            followed, SNI stays host-tc.cname.test
#   ti:      _25._tcp.host-ti.cname.test CNAME -> an insecure TLSA: not used
#            (the sink presents a certificate it would not match),
#            delivered unauthenticated
#   cn-first-insec: the first CNAME is insecure: everything after it is
#            insecure: the secure TLSA at the expansion is not used, the
#            session is unauthenticated
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink hexp host-exp.cname2.test host-exp.cname2.test
mx_sink horig host-orig.cname2.test host-orig.cname2.test
mx_sink hcn host-cn.insecure.test host-cn.insecure.test
mx_sink htc host-tc.cname.test host-tc.cname.test
mx_sink hti host-ti.cname.test mx1.secure.test.wrongkey
relay_start "$T/relay.conf"

send r@cn-exp.cname.test
wait_msg hexp 1 20
assert_dane_delivery hexp host-exp.cname2.test host-exp.cname2.test
assert_log "$QID: TLSA _25\._tcp\.host-exp\.cname2\.test: secure"

send r@cn-orig.cname.test
wait_msg horig 1 20
assert_dane_delivery horig host-orig.cname2.test alias-orig.cname.test
assert_log "$QID: TLSA _25\._tcp\.alias-orig\.cname\.test: secure"

send r@cn-insec.cname.test
wait_msg hcn 1 20
assert_msg_subject "$MSG"
assert_msg_tls "$MSG"
assert_msg_sni "$MSG" alias-insec.cname.test
wait_log "$QID: Successful delivery" 10 || fail "cn-insec: no delivery line"
assert_log "$QID: TLSA _25\._tcp\.alias-insec\.cname\.test: secure"
assert_log "$QID: Connection is now using .*\(DANE\)"
assert_no_log "$QID: TLSA _25\._tcp\.host-cn\.insecure\.test: secure"

send r@tc.cname.test
wait_msg htc 1 20
assert_dane_delivery htc host-tc.cname.test host-tc.cname.test

send r@ti.cname.test
wait_msg hti 1 20
assert_unauth_delivery hti host-ti.cname.test

send r@cn-first-insec.cname.test
wait_msg hexp 2 20
assert_msg_subject "$MSG"
assert_msg_tls "$MSG"
wait_log "$QID: Successful delivery" 10 || fail "cn-first-insec: no delivery line"
assert_log "$QID: Connection is now using .*\(unauthenticated\)"
assert_no_log "$QID: Connecting to .*\(DNSSEC\)"
relay_stop
