#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_dlv_pipelining: one message to two recipients in each of two domains:
# single.test's MX does not offer PIPELINING (sink -P answers a client
# that pipelines anyway with 554 and counts it as a sync error), three.test's
# mx1 does. Each server gets one transaction carrying both its recipients,
# content intact; the -P server saw no synchronisation error.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"

world_sink nopipe mx.single.test -P
world_sink pipe mx1.three.test
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

inject sender@sender.test a@single.test b@single.test c@three.test d@three.test
q=$QID
wait_done "$q"
expect_delivered nopipe "$q" sender@sender.test a@single.test b@single.test
expect_delivered pipe "$q" sender@sender.test c@three.test d@three.test
for r in a@single.test b@single.test c@three.test d@three.test; do
	assert_log "$q: Successful delivery to <$(re_esc "$r")> \(retry 0\) in [0-9.]+s: 250 "
done
[ "$(sink_stat nopipe sync_errors)" -eq 0 ] || fail "the server without PIPELINING saw $(sink_stat nopipe sync_errors) sync errors"
[ "$(sink_stat pipe sync_errors)" -eq 0 ] || fail "sync errors at the pipelining server"
ok "no synchronisation errors"
[ "$(sink_stat nopipe messages)" -eq 1 ] && [ "$(sink_stat pipe messages)" -eq 1 ] ||
    fail "messages: nopipe $(sink_stat nopipe messages), pipe $(sink_stat pipe messages)"
assert_log "$q: Delivering message to single\.test:25"
assert_log "$q: Delivering message to three\.test:25"

# a burst of messages: still no synchronisation error without PIPELINING
inject_n 10 burst sender@sender.test x@single.test y@three.test
for q in $QIDS; do wait_done "$q"; done
[ "$(sink_count nopipe)" -eq 11 ] || fail "nopipe holds $(sink_count nopipe) messages, want 11"
[ "$(sink_count pipe)" -eq 11 ] || fail "pipe holds $(sink_count pipe) messages, want 11"
[ "$(sink_stat nopipe sync_errors)" -eq 0 ] || fail "burst: $(sink_stat nopipe sync_errors) sync errors"
ok "burst of 10 delivered to both, no sync errors"
relay_stop
exit 0
