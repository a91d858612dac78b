#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_resolve_nonblocking: a lookup to a server that never answers does not
# block the event loop. resolve_probe starts a lookup under the world's
# silent zone, then a 50 ms timer and a lookup in a secure zone: the secure answer
# and timer ticks must arrive while the dead lookup is still pending, and
# the dead one must end indeterminate. Also: cancelled lookups (pending or
# already answered inside libunbound) never call back.
# (The SMTP-session variant needs the inbound daemon; see the lead.)
. "$(dirname "$0")/lib.sh"

PROBE=$B/tests/tools/resolve_probe
[ -x "$PROBE" ] || fail "missing $PROBE (make asan-build)"

if [ -z "${WORLD_DIR:-}" ] || [ ! -f "$WORLD_DIR/unbound.conf" ]; then
	WORLD_DIR=$T/world
	"$top/tests/world/mkworld" start "$WORLD_DIR" || fail "mkworld start"
	trap '"$top/tests/world/mkworld" stop "$WORLD_DIR"; cleanup' EXIT
fi

DEAD_NAME=nb-$$.silent.test		# its server takes queries, never answers
FAST_NAME=mx1.secure.test		# a secure host

"$PROBE" -C "$WORLD_DIR/unbound.conf" -T "$WORLD_DIR/root.key" \
    nonblock "$DEAD_NAME" "$FAST_NAME" > "$T/nb.out" 2> "$T/nb.err" ||
    { cat "$T/nb.out" "$T/nb.err"; fail "probe nonblock failed"; }
cat "$T/nb.out" | grep -v '^event tick'

fast=$(grep -n '^event fast' "$T/nb.out" | cut -d: -f1)
slow=$(grep -n '^event slow' "$T/nb.out" | cut -d: -f1)
[ -n "$fast" ] && [ -n "$slow" ] || fail "a lookup never completed"
[ "$fast" -lt "$slow" ] || fail "the secure lookup waited for the dead one"
ok "secure lookup answered before the dead one"
grep -q '^event fast .*slow_pending=1' "$T/nb.out" || fail "dead lookup was not pending"
ok "dead lookup pending while the secure one completed"
grep -q "^fast type=A qname=$FAST_NAME state=secure answer=data" "$T/nb.out" ||
    fail "secure lookup result"
ok "secure lookup result"
ticks=$(grep -c '^event tick' "$T/nb.out")
[ "$ticks" -ge 1 ] || fail "timer ticked $ticks times while the dead lookup was pending"
ok "the loop ran $ticks timer ticks meanwhile"
grep -q "^slow type=A qname=$DEAD_NAME state=indeterminate answer=none .*answered=0" "$T/nb.out" ||
    fail "dead lookup did not end indeterminate"
ok "dead lookup indeterminate"

"$PROBE" -C "$WORLD_DIR/unbound.conf" -T "$WORLD_DIR/root.key" \
    cancel "c-$$.silent.test" "$FAST_NAME" > "$T/cancel.out" 2>&1 ||
    { cat "$T/cancel.out"; fail "probe cancel failed"; }
grep -q '^cancel ok calls=0$' "$T/cancel.out" || { cat "$T/cancel.out"; fail "a cancelled lookup called back"; }
ok "cancelled lookups never called back"
echo PASS
