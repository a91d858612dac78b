#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dane_port: docs/dane.md rule 14: TLSA is looked up at _PORT._tcp with the
# real destination port. remote_port = 2525: mx1.secure.test listens on
# 2525 presenting its RSA certificate, which only _2525._tcp.mx1.secure.test
# (3 1 1 of the RSA key) matches; _25._tcp names the ECDSA one. Delivered
# authenticated, and the log names _2525._tcp, never _25._tcp.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dane.sh"

dane_conf dane <<'C'
remote_port = 2525
C
MX_PORT=2525
mx_sink mx1 mx1.secure.test mx1.secure.test.rsa
relay_start "$T/relay.conf"

send r@secure.test
wait_msg mx1 1 20
assert_dane_delivery mx1 mx1.secure.test
assert_log "$QID: TLSA _2525\._tcp\.mx1\.secure\.test: secure"
assert_no_log "$QID: TLSA _25\._tcp\."
assert_log "$QID: Delivering message to secure\.test:2525"
relay_stop
