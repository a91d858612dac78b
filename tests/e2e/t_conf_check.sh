#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_conf_check: `danerelay -c FILE -t` accepts a good file and the shipped
# example; a file with three different errors exits 2 and names all three
# with file:line: key; the daemon itself refuses a bad file with status 2
# and the same messages, before it listens on anything.
. "$(dirname "$0")/lib.sh"

# 1. a good file, with [domain] sections, passes -t
base_conf "$T/good.conf" <<CONF
max_message_size = 10M
min_backoff = 1m
max_backoff = 2h
[domain partner.example]
tls_policy = may
until = 2030-12-31
reason = "ticket #4711"
[domain .partner.example]
test_mode = yes
CONF
out=$("$BIN" -c "$T/good.conf" -t 2>&1); st=$?
echo "$out"
[ "$st" -eq 0 ] || fail "-t on a good file exited $st"
grep -q "configuration ok" <<<"$out" || fail "-t did not say the configuration is ok"
ok "good file passes -t"

out=$("$BIN" -c "$top/conf/danerelay.conf.example" -t 2>&1); st=$?
echo "$out"
[ "$st" -eq 0 ] || fail "-t on conf/danerelay.conf.example exited $st"
ok "the shipped example passes -t"

# 2. three different errors: unknown key, bad value, key in the wrong section
base_conf "$T/bad.conf" <<CONF
max_backof = 1h
min_backoff = 5
[domain partner.example]
spool_dir = /tmp
CONF
n=$(wc -l < "$T/bad.conf")
l_unknown=$((n - 3)); l_value=$((n - 2)); l_section=$n
"$BIN" -c "$T/bad.conf" -t > "$T/t.out" 2> "$T/t.err"; st=$?
cat "$T/t.out" "$T/t.err"
[ "$st" -eq 2 ] || fail "-t on a bad file exited $st, want 2"
check_errors() {	# FILE
	assert_log "^$T/bad.conf:$l_unknown: max_backof: unknown key \(did you mean max_backoff\?\)$" "$1"
	assert_log "^$T/bad.conf:$l_value: min_backoff: \"5\": a duration needs a unit" "$1"
	assert_log "^$T/bad.conf:$l_section: spool_dir: not allowed in a \[domain\] section" "$1"
	assert_log "^danerelay: $T/bad.conf: 3 errors, not starting$" "$1"
	[ "$(grep -c "^$T/bad.conf:" "$1")" -eq 3 ] || fail "want exactly 3 error lines"
}
check_errors "$T/t.err"
grep -q "configuration ok" "$T/t.out" && fail "-t said ok on a bad file"
ok "-t reports all three errors and exits 2"

# 3. the daemon (no -t) refuses to start on it, with status 2
timeout 30 "$BIN" -c "$T/bad.conf" > "$T/d.out" 2> "$T/d.err"; st=$?
cat "$T/d.out" "$T/d.err"
[ "$st" -eq 2 ] || fail "the daemon on a bad file exited $st, want 2"
check_errors "$T/d.err"
[ ! -e "$T/spool" ] || fail "the daemon touched the spool on a bad file"
ok "the daemon refuses a bad file with status 2"

# 4. an unreadable file: "FILE: why", status 2
"$BIN" -c "$T/nonexistent.conf" -t 2> "$T/n.err"; st=$?
cat "$T/n.err"
[ "$st" -eq 2 ] || fail "-t on a missing file exited $st, want 2"
assert_log "^$T/nonexistent.conf: cannot open: No such file or directory$" "$T/n.err"
exit 0
