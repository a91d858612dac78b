#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_smuggle_lf: SMTP smuggling with <LF>.<LF>, <LF>.<CRLF>, <CRLF>.<LF> and bare LF in
# DATA (see smuggle.py): never an early end of the message, never a second
# message; each such message is rejected, nothing smuggled is queued, and
# the session is closed or stays in sync.
. "$(dirname "$0")/lib.sh"
NO_DELIVERY=1	# inbound only: mail must stay in the spool
. "$(dirname "$0")/inbound.sh"

base_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"
python3 "$E2E/smuggle.py" lf || fail "smuggling probe"
assert_no_log 'smuggled@evil\.test'
assert_log 'reject from \[127\.0\.0\.1\]:[0-9]+: end of data: 5[0-9][0-9] .*bare LF'
relay_stop
assert_no_leftovers
