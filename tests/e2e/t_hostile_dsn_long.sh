#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_hostile_dsn_long: a bounce whose one-line form would exceed 998
# octets (RFC 5322 2.1.1): a 255-octet recipient address, its MX host's
# 250-octet name (tests/world: anything under long.single.test) and a
# multi-line 550 reply of 600+ octets (tests/e2e/hostile_mx.py
# reject-long, cut to 511 by the relay). The bounce reaches the sender's
# server with every line within 998 octets, the human-readable text
# wrapped, the delivery-status fields folded, and each field unfolds to
# the full address, host name and reply.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/dlv_lib.sh"
. "$(dirname "$0")/hostile_lib.sh"

l63a=$(printf 'a%.0s' $(seq 63)); l63b=$(printf 'b%.0s' $(seq 63))
l45=$(printf 'c%.0s' $(seq 45)); lp=$(printf 'r%.0s' $(seq 64))
RCPT="$lp@$l63a.$l63b.$l45.long.single.test"
[ "${#RCPT}" -eq 255 ] || fail "recipient is ${#RCPT} octets, want 255"
MXNAME=$(awk '$1 == "*.long" { print $4 }' "$top/tests/world/zones.d/single.zone")
MXNAME=${MXNAME%.}
[ "${#MXNAME}" -eq 250 ] || fail "MX host name is ${#MXNAME} octets, want 250"

hostile_start long "*.hosts.single.test" reject-long
world_sink sender mx.sender.test
dlv_conf "$T/relay.conf" < /dev/null
relay_start "$T/relay.conf"

inject sender@sender.test "$RCPT"
q=$QID
wait_done "$q" 30
assert_log "$q: Permanent failure for <$RCPT>: 550 5\.1\.1 the mailbox you asked for"
[ "$(hostile_events long 'rcpt refused long')" -ge 1 ] || fail "the server never refused the recipient"
wait_sink_count sender 1 30 || fail "no bounce reached the sender's server"
f=$(dsn_files sender)
[ -n "$f" ] || fail "the sender's server holds no bounce"
python3 "$E2E/dlv.py" dsn "$f" --to sender@sender.test --rcpt "$RCPT" --status 5.1.1 \
    --diag "the mailbox you asked for" || fail "bad DSN"
python3 - "$f" "$RCPT" "$MXNAME" <<'PY' || fail "bounce line lengths or fields wrong"
import re, sys
data = open(sys.argv[1], "rb").read()
content = data.partition(b"\n\n")[2]
rcpt, mx = sys.argv[2].encode(), sys.argv[3].encode()
longest = max(len(l) for l in content.split(b"\n"))
if longest > 998:
	sys.exit("FAIL: a line of %d octets" % longest)
unf = re.sub(rb"\n[ \t]+", b" ", content)
for field, want in ((b"Final-Recipient: rfc822; ", rcpt), (b"Remote-MTA: dns; ", mx)):
	if field + want + b"\n" not in unf:
		sys.exit("FAIL: %s does not unfold to the full value" % field.decode())
m = re.search(rb"\nDiagnostic-Code: smtp; (550 5\.1\.1 the mailbox[^\n]*)\n", unf)
if not m:
	sys.exit("FAIL: no Diagnostic-Code with the reply")
diag = m.group(1)
# the text part, unwrapped: what one line would have held
m = re.search(rb"\n<" + re.escape(rcpt) + rb">: host " + re.escape(mx) + rb" said: " + re.escape(diag), unf)
if not m:
	sys.exit("FAIL: the human-readable paragraph lacks the address, host or reply")
one_line = len(b"<" + rcpt + b">: host " + mx + b" said: " + diag)
if one_line <= 998:
	sys.exit("FAIL: the test proves nothing: the one-line form is only %d octets" % one_line)
print("ok: one-line form would be %d octets; longest line sent %d; fields unfold intact" % (one_line, longest))
PY
relay_stop
exit 0
