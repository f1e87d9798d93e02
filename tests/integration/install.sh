#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# install.sh - `make install` as a package build would run it (DESTDIR, PREFIX=/usr,
# MULTIARCH=1), over the tree already built:
#  1. every file is where the README says: ktlsd, ktls-probe, ktls-diag, ktlsctl, the
#     three man pages, libktls (multiarch directory), headers, ktls.pc, the example
#     configuration, modules-load.d/ktls.conf and the systemd unit;
#  2. ktls.pc and the unit carry the paths of this install (/usr), not the build's default;
#  3. an example program builds alone against the installed tree through pkg-config,
#     and the installed ktlsd checks the example configuration's syntax;
#  4. `make uninstall` removes every file it installed.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd make pkg-config
CC=${CC:-cc}

D=$T/root
MA=$("$CC" -print-multiarch)
to 300 make -C "$ROOT" -s BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr MULTIARCH=1 install \
	>"$T/install.log" 2>&1 || { cat "$T/install.log"; fail "make install"; }

# ---- 1. the files
want=(
	usr/sbin/ktlsd usr/sbin/ktls-probe usr/sbin/ktls-diag usr/bin/ktlsctl
	usr/share/man/man8/ktlsd.8 usr/share/man/man5/ktlsd.conf.5 usr/share/man/man1/ktlsctl.1
	"usr/lib/$MA/libktls.so.1" "usr/lib/$MA/libktls.so" "usr/lib/$MA/libktls.a"
	"usr/lib/$MA/pkgconfig/ktls.pc" usr/include/ktlsd/ktls.h usr/include/ktlsd/handoff.h
	etc/ktlsd/ktlsd.conf.example etc/modules-load.d/ktls.conf
	usr/lib/systemd/system/ktlsd.service
)
for f in "${want[@]}"; do
	[[ -e $D/$f ]] || fail "make install did not install /$f"
done
say "make install: all ${#want[@]} files in place"

# ---- 2. the paths they carry
assert_contains "$D/usr/lib/$MA/pkgconfig/ktls.pc" "libdir=/usr/lib/$MA" "ktls.pc's libdir"
assert_contains "$D/usr/lib/$MA/pkgconfig/ktls.pc" "prefix=/usr" "ktls.pc's prefix"
assert_contains "$D/usr/lib/systemd/system/ktlsd.service" "ExecStart=/usr/sbin/ktlsd -f -c /etc/ktlsd/ktlsd.conf" \
	"the unit's ExecStart"

# ---- 3. an application against the installed tree; the installed daemon runs
export PKG_CONFIG_SYSROOT_DIR=$D PKG_CONFIG_LIBDIR=$D/usr/lib/$MA/pkgconfig
read -r -a flags < <(pkg-config --cflags --libs ktls) || fail "pkg-config ktls"
"$CC" -std=c11 -Wall -Wextra -Werror -o "$T/echo-server" "$ROOT/examples/ktls-echo-server.c" \
	"${flags[@]}" -Wl,-rpath,"$D/usr/lib/$MA" >"$T/cc.log" 2>&1 ||
	{ cat "$T/cc.log"; fail "examples/ktls-echo-server.c does not build against the installed tree"; }
"$D/usr/sbin/ktlsd" --version >"$T/version.out" 2>&1 || fail "the installed ktlsd does not run"
say "an example built with pkg-config (${flags[*]}); $(head -n1 "$T/version.out")"

# ---- 4. uninstall
to 120 make -C "$ROOT" -s BUILD="$BUILD" DESTDIR="$D" PREFIX=/usr MULTIARCH=1 uninstall \
	>"$T/uninstall.log" 2>&1 || { cat "$T/uninstall.log"; fail "make uninstall"; }
left=$(find "$D" -type f -o -type l)
[[ -z $left ]] || fail "make uninstall left: $left"
say "make uninstall: no file left"
note "ok"
