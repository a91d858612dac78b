#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_sni: RFC 7672 8.1 (docs/dane.md rule 12): SNI carries the TLSA base
# domain whenever TLSA records are in use. cn-orig.cname.test: MX host
# alias-orig.cname.test is a CNAME to host-orig.cname2.test and the TLSA
# RRset is at the original name: SNI alias-orig.cname.test (neither the
# expanded host name nor the destination domain). ee11.dane.test: SNI
# mx.ee11.dane.test.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane
mx_sink horig host-orig.cname2.test host-orig.cname2.test
mx_sink ee11 mx.ee11.dane.test mx.ee11.dane.test
relay_start "$T/relay.conf"

send r@cn-orig.cname.test
wait_msg horig 1 20
assert_dane_delivery horig host-orig.cname2.test alias-orig.cname.test

send r@ee11.dane.test
wait_msg ee11 1 20
assert_dane_delivery ee11 mx.ee11.dane.test mx.ee11.dane.test
relay_stop
