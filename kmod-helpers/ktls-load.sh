#!/bin/sh
# SPDX-License-Identifier: MIT
#
# ktls-load.sh - make kernel TLS (the "tls" module) available to ktlsd.
#
#   kmod-helpers/ktls-load.sh [--persist]
#
# Loads tls with modprobe where it is a module (the kernel then loads the
# crypto modules it asks for, gcm/chacha20poly1305, on its own). Says so if
# the running kernel has it built in or already loaded. If the kernel was
# built without CONFIG_TLS (checked in /boot/config-$(uname -r) or
# /proc/config.gz, and with `modinfo tls`), explains that and exits 3.
# --persist also installs kmod-helpers/ktls.conf as
# /etc/modules-load.d/ktls.conf so systemd-modules-load loads tls at boot.
#
# Exit status: 0 tls is available now; 1 it could be, but was not loaded
# (not root, no modprobe, modprobe failed); 3 this kernel has no kTLS;
# 2 usage.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
KREL=$(uname -r)
PERSIST=0
case ${1:-} in
"") ;;
--persist) PERSIST=1 ;;
-h | --help) sed -n '4,20p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
*) echo "usage: $0 [--persist]" >&2; exit 2 ;;
esac

say() { echo "ktls-load: $*"; }
err() { echo "ktls-load: $*" >&2; }

# CONFIG_TLS of the running kernel: y, m, n, or "" when no config is readable
kconfig_tls() {
	if [ -r "/boot/config-$KREL" ]; then
		cfg=$(grep -E '^(CONFIG_TLS=|# CONFIG_TLS is not set)' "/boot/config-$KREL")
	elif [ -r /proc/config.gz ] && command -v zcat >/dev/null 2>&1; then
		cfg=$(zcat /proc/config.gz | grep -E '^(CONFIG_TLS=|# CONFIG_TLS is not set)')
	else
		return 0
	fi
	case $cfg in
	CONFIG_TLS=y) echo y ;;
	CONFIG_TLS=m) echo m ;;
	*) echo n ;;
	esac
}

tls_ready() { # the module is loaded or built in
	grep -q '^tls ' /proc/modules 2>/dev/null && return 0
	[ -d /sys/module/tls ] && return 0
	grep -qs '/tls\.ko' "/lib/modules/$KREL/modules.builtin"
}

persist() {
	[ "$PERSIST" = 1 ] || return 0
	if [ "$(id -u)" != 0 ]; then
		err "--persist needs root (to write /etc/modules-load.d/ktls.conf)"
		return 1
	fi
	mkdir -p /etc/modules-load.d &&
		install -m 0644 "$HERE/ktls.conf" /etc/modules-load.d/ktls.conf &&
		say "installed /etc/modules-load.d/ktls.conf: tls will be loaded at boot"
}

CFG=$(kconfig_tls)

if [ "$CFG" = y ]; then
	say "kernel $KREL has TLS built in (CONFIG_TLS=y): nothing to load"
	exit 0
fi
if grep -q '^tls ' /proc/modules 2>/dev/null; then
	say "the tls module is already loaded (kernel $KREL)"
	persist || exit 1
	exit 0
fi
if [ "$CFG" = n ]; then
	err "kernel $KREL was built without kernel TLS (CONFIG_TLS is not set):" \
		"ktlsd cannot offload TLS records on this kernel; it needs a kernel with" \
		"CONFIG_TLS=y or =m (Debian's linux-image-amd64 / -cloud-amd64 have it as a module)." \
		"For tests, kmod-helpers/ktls-vm.sh runs commands in a VM with such a kernel."
	exit 3
fi
if [ ! -e /proc/modules ]; then
	if tls_ready; then
		say "kernel $KREL has TLS built in: nothing to load"
		exit 0
	fi
	err "kernel $KREL cannot load modules (no /proc/modules: CONFIG_MODULES is off)" \
		"and does not have TLS built in: kernel TLS is not available here."
	exit 3
fi
# CONFIG_TLS=m, or no readable config: ask the module tools
if ! command -v modprobe >/dev/null 2>&1; then
	err "no modprobe here (apt-get install kmod) to load the tls module"
	exit 1
fi
if command -v modinfo >/dev/null 2>&1 && ! modinfo tls >/dev/null 2>&1; then
	if [ "$CFG" = m ]; then
		err "kernel $KREL has CONFIG_TLS=m but no tls module file under /lib/modules/$KREL" \
			"(install this kernel's modules package)"
		exit 1
	fi
	err "no tls module for kernel $KREL (modinfo tls found nothing) and no kernel config" \
		"to tell whether it is built in: kernel TLS looks unavailable here."
	exit 3
fi
if [ "$(id -u)" != 0 ]; then
	err "loading the tls module needs root (CAP_SYS_MODULE): sudo $0"
	exit 1
fi
if ! out=$(modprobe tls 2>&1); then
	err "modprobe tls failed: $out"
	exit 1
fi
if ! grep -q '^tls ' /proc/modules; then
	err "modprobe tls succeeded but tls is not in /proc/modules"
	exit 1
fi
say "loaded the tls module (kernel $KREL)"
[ -r /proc/net/tls_stat ] || err "warning: /proc/net/tls_stat is missing"
persist || exit 1
exit 0
