#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_man_lint: the manual pages (man/danerelay.8, man/danerelay.conf.5) pass
# `mandoc -Tlint` with nothing to say at any level, style included, except
# the one remark that depends on this machine rather than on the pages:
# a referenced manual (postfix(1), unbound.conf(5), ...) not installed here.
# Also: every key of the configuration parser (conf/conf.c) is documented
# in danerelay.conf(5), and every key in danerelay.conf(5) is one the
# parser knows or says it is a key of another part.
. "$(dirname "$0")/lib.sh"

command -v mandoc > /dev/null || fail "mandoc is not installed (scripts/install-deps installs it)"
for p in "$top/man/danerelay.8" "$top/man/danerelay.conf.5"; do
	[ -f "$p" ] || fail "$p missing"
	mandoc -Tlint "$p" > "$T/lint" 2>&1
	grep -v -e 'STYLE: referenced manual not found' \
	    -e 'outdated mandoc.db' -e 'no mandoc.db' "$T/lint" > "$T/lint.rest"
	if [ -s "$T/lint.rest" ]; then
		cat "$T/lint.rest"
		fail "mandoc -Tlint $(basename "$p")"
	fi
	ok "mandoc -Tlint $(basename "$p"): clean"
	mandoc -Tutf8 "$p" > "$T/out" 2>&1 || fail "mandoc cannot format $p"
	[ "$(wc -l < "$T/out")" -gt 50 ] || fail "$p formats to almost nothing"
done

# every key the parser accepts has an entry (.It Ic KEY) in danerelay.conf(5)
sed -n 's/^[[:space:]]*{ "\([a-z_]*\)", K_.*/\1/p' "$top/conf/conf.c" | sort -u > "$T/keys.parser"
[ "$(wc -l < "$T/keys.parser")" -gt 20 ] || fail "could not read the key table of conf/conf.c"
grep '^\.It Ic ' "$top/man/danerelay.conf.5" | grep -o 'Ic [a-z_]*' | cut -c4- | sort -u > "$T/keys.man"
missing=$(comm -23 "$T/keys.parser" "$T/keys.man")
[ -z "$missing" ] || fail "keys of conf/conf.c not in danerelay.conf(5):" $missing
ok "all $(wc -l < "$T/keys.parser") keys of conf/conf.c are in danerelay.conf(5)"
extra=$(comm -13 "$T/keys.parser" "$T/keys.man")
[ -z "$extra" ] || fail "keys in danerelay.conf(5) that conf/conf.c does not know:" $extra
ok "danerelay.conf(5) documents no key the parser lacks"
exit 0
