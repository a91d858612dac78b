#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_version: `danerelay -V` prints the version written in relay/version.h
# and the OpenSSL, libunbound and libevent versions loaded at run time,
# which must be those of the shared libraries this machine has installed
# (`openssl version`'s "Library:" part, the Debian packages of libunbound
# and libevent the binary links to). It needs no configuration file.
. "$(dirname "$0")/lib.sh"

cd "$T" || fail "cd"
out=$("$BIN" -V 2> "$T/err"); st=$?
echo "$out"
cat "$T/err"
[ "$st" -eq 0 ] || fail "-V exited $st"
[ "$(echo "$out" | wc -l)" -eq 4 ] || fail "-V: want 4 lines"

want=$(sed -n 's/^#define DANERELAY_VERSION[[:space:]]*"\(.*\)"/\1/p' "$top/relay/version.h")
[ -n "$want" ] || fail "no DANERELAY_VERSION in relay/version.h"
[ "$(echo "$out" | sed -n 1p)" = "danerelay $want" ] || fail "line 1 is not 'danerelay $want'"
ok "version $want"

# OpenSSL: the library the openssl tool loads is the same libcrypto
lib=$(openssl version | sed -n 's/.*(Library: \(.*\))$/\1/p')
[ -n "$lib" ] || lib=$(openssl version)
echo "$out" | grep -qxF -- "$lib" || fail "no line '$lib' (openssl version: $(openssl version))"
ok "OpenSSL: $lib"

# libunbound and libevent: the versions of the packages holding the .so the
# binary links to (Debian version minus its revision)
pkgver() {	# SONAME
	local so pkg
	so=$(ldd "$BIN" | awk -v s="$1" '$1 == s { print $3 }')
	[ -n "$so" ] || fail "$BIN does not link $1"
	pkg=$(dpkg -S "$(basename "$(readlink -f "$so")")" 2>/dev/null | head -1 | cut -d: -f1)
	[ -n "$pkg" ] || fail "no package holds $so"
	dpkg-query -W -f='${Version}' "$pkg" | sed 's/-[^-]*$//; s/^[0-9]*://'
}
ub=$(pkgver libunbound.so.8)
echo "$out" | grep -qx "libunbound $ub" || fail "no line 'libunbound $ub'"
ok "libunbound $ub"
ev=$(pkgver libevent-2.1.so.7)
echo "$out" | grep -qx "libevent $ev" || fail "no line 'libevent $ev'"
ok "libevent $ev"

# -V is listed in the usage text
"$BIN" -X > /dev/null 2> "$T/usage"
grep -q -- "danerelay -V" "$T/usage" || fail "usage does not mention -V"
ok "usage mentions -V"
exit 0
