#!/bin/bash
# Copyright (c) 2026 The danerelay authors. ISC licence: see LICENSE.
# t_install: `make install` and `make uninstall` as a packager and as an
# administrator use them.
# 1. A packager's build: CPPFLAGS, CFLAGS and LDFLAGS from dpkg-buildflags
#    (hardening=+all) reach the compiler and linker (the binary has
#    BIND_NOW, stack protector and _FORTIFY_SOURCE calls) and -Werror is off.
# 2. make install DESTDIR=D puts exactly the binary, both man pages, the
#    systemd unit (ExecStart at PREFIX/sbin) and the example configuration
#    in place; nothing outside D, no user, spool or log directory; the unit
#    passes `systemd-analyze verify`; the installed binary runs -V and -t.
# 3. A second install keeps a configuration the administrator changed;
#    uninstall keeps it too, and removes it once it equals the example
#    again, leaving no file behind. PREFIX=/usr puts the unit in
#    /usr/lib/systemd/system.
# 4. Without DESTDIR (PREFIX and the directories inside this test's T): the
#    system user is created if missing, twice in a row without error, and
#    the spool (0700) and log directory (0750) belong to it.
. "$(dirname "$0")/lib.sh"

cd "$top" || fail "cd $top"
export DEB_BUILD_MAINT_OPTIONS=hardening=+all
PCPPFLAGS=$(dpkg-buildflags --get CPPFLAGS)
PCFLAGS=$(dpkg-buildflags --get CFLAGS)
PLDFLAGS=$(dpkg-buildflags --get LDFLAGS)
case $PLDFLAGS in *-z,now*) ;; *) fail "dpkg-buildflags gives no -z,now: $PLDFLAGS" ;; esac

# 1. packager's build into T, installed into D
D=$T/destdir
CPPFLAGS=$PCPPFLAGS CFLAGS=$PCFLAGS LDFLAGS=$PLDFLAGS \
    make -s B="$T/build" DESTDIR="$D" install > "$T/make.out" 2>&1 ||
    { tail -30 "$T/make.out"; fail "make install (packager flags) failed"; }
CPPFLAGS=$PCPPFLAGS CFLAGS=$PCFLAGS LDFLAGS=$PLDFLAGS \
    make -n B="$T/build2" "$T/build2/relay/main.o" "$T/build2/danerelay" > "$T/make.n" 2>&1
grep -q -- "-D_FORTIFY_SOURCE=2" "$T/make.n" || fail "CPPFLAGS not used"
grep -q -- "-fstack-protector-strong" "$T/make.n" || fail "CFLAGS not used"
grep -q -- "-Wl,-z,now" "$T/make.n" || fail "LDFLAGS not used when linking"
if grep -Eq -- "-Werror( |$)" "$T/make.n"; then fail "-Werror in a packager's build"; fi
ok "packager's flags reach compiler and linker, without -Werror"
make -n B="$T/build3" "$T/build3/relay/main.o" 2>&1 | grep -Eq -- "-Werror( |$)" ||
    fail "-Werror missing from the developer build"
ok "-Werror in the developer build"

bin=$D/usr/local/sbin/danerelay
[ -x "$bin" ] || fail "no $bin"
readelf -d "$bin" | grep -q 'BIND_NOW' || fail "installed binary lacks BIND_NOW"
readelf -lW "$bin" | grep -q 'GNU_RELRO' || fail "installed binary lacks RELRO"
nm -D "$bin" | grep -q '__stack_chk_fail' || fail "installed binary lacks the stack protector"
nm -D "$bin" | grep -q '_chk@' || fail "installed binary has no _FORTIFY_SOURCE checks"
ok "the installed binary is hardened (BIND_NOW, RELRO, stack protector, fortify)"

# 2. what install put where
want="etc/danerelay/danerelay.conf
etc/logrotate.d/danerelay
usr/local/lib/systemd/system/danerelay.service
usr/local/sbin/danerelay
usr/local/share/man/man5/danerelay.conf.5
usr/local/share/man/man8/danerelay.8"
got=$(cd "$D" && find . -type f -o -type l | sed 's|^\./||' | sort)
[ "$got" = "$want" ] || { echo "got:"; echo "$got"; fail "installed files differ"; }
ok "install put exactly the six files in place"
[ "$(stat -c %a "$bin")" = 755 ] || fail "binary mode $(stat -c %a "$bin")"
cmp -s conf/danerelay.conf.example "$D/etc/danerelay/danerelay.conf" || fail "config is not the example"
cmp -s man/danerelay.8 "$D/usr/local/share/man/man8/danerelay.8" || fail "danerelay.8 differs"
unit=$D/usr/local/lib/systemd/system/danerelay.service
grep -qx 'ExecStart=/usr/local/sbin/danerelay -c /etc/danerelay/danerelay.conf' "$unit" ||
    fail "unit ExecStart: $(grep ExecStart= "$unit")"
lr=$D/etc/logrotate.d/danerelay
grep -q '/usr/local/sbin/danerelay -c /etc/danerelay/danerelay.conf reopen' "$lr" ||
    fail "logrotate snippet does not call the installed binary's reopen"
command -v logrotate > /dev/null || fail "logrotate missing (scripts/install-deps installs it)"
logrotate -d "$lr" > "$T/logrotate.out" 2>&1 || { cat "$T/logrotate.out"; fail "logrotate -d rejects the snippet"; }
grep -qi 'error' "$T/logrotate.out" && { cat "$T/logrotate.out"; fail "logrotate -d reports an error"; }
ok "logrotate -d accepts the installed snippet"
grep -q "useradd\|groupadd" "$T/make.out" && fail "install under DESTDIR tried to create a user"
[ ! -e "$D/var" ] || fail "install under DESTDIR created $D/var"
ok "modes, contents, ExecStart; no user, spool or log directory under DESTDIR"

# the unit as systemd reads it: verify with ExecStart at the installed binary
# and the installed man pages (Documentation=man:...)
if command -v systemd-analyze > /dev/null; then
	mkdir -p "$T/unit"
	sed "s|^ExecStart=/usr/local/sbin/danerelay|ExecStart=$bin|" "$unit" > "$T/unit/danerelay.service"
	MANPATH=$D/usr/local/share/man systemd-analyze verify "$T/unit/danerelay.service" > "$T/verify.out" 2>&1
	st=$?
	cat "$T/verify.out"
	[ "$st" -eq 0 ] && [ ! -s "$T/verify.out" ] || fail "systemd-analyze verify: status $st"
	ok "systemd-analyze verify: clean"
else
	fail "systemd-analyze not available"
fi
"$bin" -V | grep -q '^danerelay ' || fail "installed binary -V"
"$bin" -c "$D/etc/danerelay/danerelay.conf" -t > "$T/t.out" 2>&1 || { cat "$T/t.out"; fail "installed config fails -t"; }
ok "the installed binary runs -V, and -t accepts the installed configuration"

# 3. a changed configuration (and logrotate snippet) survives install and
# uninstall
echo "max_errors = 5" >> "$D/etc/danerelay/danerelay.conf"
sed -i 's/rotate 14/rotate 30/' "$lr"
make -s B="$T/build" DESTDIR="$D" install > "$T/make2.out" 2>&1 || { cat "$T/make2.out"; fail "second install"; }
grep -q "max_errors = 5" "$D/etc/danerelay/danerelay.conf" || fail "install overwrote a changed configuration"
grep -q "rotate 30" "$lr" || fail "install overwrote a changed logrotate snippet"
ok "a second install keeps the changed configuration"
make -s B="$T/build" DESTDIR="$D" uninstall > "$T/un.out" 2>&1 || { cat "$T/un.out"; fail "uninstall"; }
got=$(cd "$D" && find . -type f | sed 's|^\./||' | sort)
[ "$got" = "etc/danerelay/danerelay.conf
etc/logrotate.d/danerelay" ] || { echo "$got"; fail "uninstall left other files or removed a changed one"; }
ok "uninstall removed four files and kept the changed configuration and snippet"
cp conf/danerelay.conf.example "$D/etc/danerelay/danerelay.conf"
sed -i 's/rotate 30/rotate 14/' "$lr"
make -s B="$T/build" DESTDIR="$D" uninstall > "$T/un2.out" 2>&1 || { cat "$T/un2.out"; fail "uninstall 2"; }
[ -z "$(find "$D" -type f)" ] || { find "$D" -type f; fail "files left after uninstall"; }
ok "uninstall of an unchanged configuration leaves no file"

D2=$T/destdir-usr
make -s B="$T/build" DESTDIR="$D2" PREFIX=/usr install > "$T/make3.out" 2>&1 || { cat "$T/make3.out"; fail "PREFIX=/usr install"; }
[ -f "$D2/usr/lib/systemd/system/danerelay.service" ] && [ -x "$D2/usr/sbin/danerelay" ] &&
    [ -f "$D2/usr/share/man/man8/danerelay.8" ] || fail "PREFIX=/usr layout"
grep -qx 'ExecStart=/usr/sbin/danerelay -c /etc/danerelay/danerelay.conf' "$D2/usr/lib/systemd/system/danerelay.service" ||
    fail "PREFIX=/usr ExecStart"
ok "PREFIX=/usr: /usr/sbin, /usr/lib/systemd/system, /usr/share/man"

# 4. a real install (no DESTDIR), kept inside T: the user, spool and log dir
R=$T/root
had_user=no
getent passwd danerelay > /dev/null && had_user=yes
for n in 1 2; do
	make -s B="$T/build" PREFIX="$R/usr" CONFDIR="$R/etc" SPOOLDIR="$R/spool" LOGROTATEDIR="$R/logrotate.d" \
	    LOGDIR="$R/log" install > "$T/real$n.out" 2>&1 ||
	    { cat "$T/real$n.out"; fail "install without DESTDIR (run $n)"; }
done
getent passwd danerelay > /dev/null || fail "no user danerelay after install"
getent group danerelay > /dev/null || fail "no group danerelay after install"
if [ "$had_user" = no ]; then
	grep -q useradd "$T/real1.out" || fail "the user was created, but not by install?"
	[ "$(getent passwd danerelay | cut -d: -f6,7)" = "$R/spool:/usr/sbin/nologin" ] ||
	    fail "new user: $(getent passwd danerelay)"
	ok "install created the system user danerelay (home: the spool, nologin)"
else
	grep -q useradd "$T/real1.out" && fail "install ran useradd for an existing user"
	ok "the user danerelay existed already; install left it alone"
fi
[ "$(stat -c '%U:%G %a' "$R/spool")" = "danerelay:danerelay 700" ] || fail "spool: $(stat -c '%U:%G %a' "$R/spool")"
[ "$(stat -c '%U:%G %a' "$R/log")" = "danerelay:danerelay 750" ] || fail "log dir: $(stat -c '%U:%G %a' "$R/log")"
grep -q useradd "$T/real2.out" && fail "the second install ran useradd again"
[ -f "$R/logrotate.d/danerelay" ] || fail "no logrotate snippet in LOGROTATEDIR"
ok "install without DESTDIR: user and group exist, spool 0700 and log 0750 are theirs; idempotent"
exit 0
