#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ktls-vm.sh - run a command inside a throw-away QEMU VM whose kernel has real
# kernel TLS (tls.ko), and exit with the command's exit status.
#
#   kmod-helpers/ktls-vm.sh [options] [--] COMMAND [ARGS...]
#
# Why a VM: the development/CI machines run a kernel without CONFIG_TLS and
# without module loading, so setsockopt(TCP_ULP, "tls") fails with ENOENT
# there. Their KVM cannot run an ordinary kernel, so this uses QEMU with
# software emulation (TCG, q35 machine; microvm hangs ~1 boot in 25) and boots
# Debian bookworm's own kernel package, downloaded with `apt-get download` and
# unpacked (never installed). No network is needed inside the guest.
#
# Design choice: HOST-ROOT MODE. The host's "/" is shared read-only into the
# guest over virtio-9p and covered with a tmpfs overlay, so writes inside the
# guest work but are thrown away; the command runs chrooted in it, as root, in
# the repository root (same absolute path as on the host). So everything the
# test suite uses (bash, coreutils, python3, openssl, gnutls-cli, curl, socat,
# iproute2's ss, the freshly built binaries in build/) is there as on the
# host, with nothing to copy and no ldd closure to maintain.
# The alternative, a busybox initramfs carrying the binaries plus their ldd
# libraries (the cloud kernel, ~3.1-3.6 s for `true` here), cannot carry
# python3's standard library, openssl's/gnutls' config, curl's and bash's
# environment without a copy list that breaks whenever a test grows a new tool.
# Host-root needs 9p, which Debian's *cloud* kernel lacks (no CONFIG_NET_9P;
# it has virtio-fs, but bookworm ships no virtiofsd), so this boots the
# *generic* bookworm kernel (linux-image-amd64 -> linux-image-6.1.0-N-amd64),
# which has tls.ko, 9p and overlayfs as modules; its uncompressed vmlinux is
# booted through the PVH entry. Measured on an idle 2-vCPU host: 2.5-2.9 s
# for `true`, boot included; a cold start (download) adds ~7 s. See
# kmod-helpers/README.md.
#
# Inside the guest, before COMMAND: tls.ko and the crypto modules it asks for
# at setsockopt time (gcm, ctr, ghash, aesni, chacha20poly1305, ...), plus
# inet_diag/tcp_diag/udp_diag/unix_diag (for `ss`), are loaded in dependency
# order with insmod (there is no modprobe; kernel.modprobe is /bin/true so
# other module requests fail fast); `lo` is up; hostname is localhost.
#
# Options:
#   -t SECS    timeout for the whole run, boot included (default 1200)
#   -T SECS    boot timeout: fail if COMMAND has not started by then (default 180)
#   -o OUTDIR  host directory shared read-write with the guest at the same
#              absolute path; $KTLSD_VM_OUT names it inside. Files written
#              there come back. The guest's dmesg is saved there as
#              ktlsd-vm-dmesg.txt. Without -o, $KTLSD_VM_OUT is a scratch
#              directory that is discarded.
#   -e VAR=VAL export VAR for COMMAND (repeatable). HOME, LANG, LC_ALL and TZ
#              are passed from the host environment; PATH is Debian's default
#              (/usr/local/sbin:...:/bin), not the host's: `-e PATH=$PATH`
#              for that (beware: a pyenv shim costs ~6.5 s per call in here).
#   -m MB      guest memory (default 2048; env KTLSD_VM_MEM). The overlay and
#              /tmp live in guest RAM.
#   -c N       guest vCPUs (default 2; env KTLSD_VM_CPUS)
#   -v         also show the kernel's boot messages
#   -k         keep the host work directory (printed) for debugging
#   -h         this help
#
# COMMAND runs under bash with stdin from /dev/null; its stdout and stderr
# are streamed to this script's stdout (through the serial console, so \n
# arrives as \r\n and is turned back; use OUTDIR for binary artifacts). Inside,
# KTLSD_VM=1 and KTLSD_VM_OUT are set. Kernel WARNING/BUG/Oops lines from the
# guest are printed as "[ktlsd-vm dmesg] ..." after the command.
#
# Exit status: COMMAND's exit status (reported through a marker line with a
# per-run random nonce on the serial console, so output cannot fake it);
# 77 = skipped: qemu, busybox-static or the kernel package is not available
# (the reason is printed); 124 = boot timeout or run timeout (message says
# which); 125 = the VM ended without reporting a status (panic, crash);
# 2 = usage error.
#
# Cache (kernel, the few modules used, base initramfs), outside the tree:
#   ${KTLSD_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ktlsd-vm}
# A cold start runs `apt-get download` (~70 MB; needs apt lists: apt-get
# update). Other knobs: KTLSD_VM_KERNEL_PKG (default linux-image-amd64; must
# have 9p), KTLSD_VM_KERNEL_DEB (use this .deb file instead of downloading).
# Needs: qemu-system-x86, busybox-static, cpio (or busybox's), kmod (or busybox
# depmod).
set -euo pipefail

SELF=$(readlink -f "$0")
REPO=$(cd "$(dirname "$SELF")/.." && pwd)
CACHE=${KTLSD_VM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/ktlsd-vm}
KPKG_META=${KTLSD_VM_KERNEL_PKG:-linux-image-amd64}

TIMEOUT=1200 BOOT_TIMEOUT=180 OUTDIR="" MEM=${KTLSD_VM_MEM:-2048} CPUS=${KTLSD_VM_CPUS:-2}
VERBOSE=0 KEEP=0
ENVS=()
usage() { sed -n '/^#   kmod-helpers/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$SELF"; }
while getopts "t:T:o:e:m:c:vkh" opt; do
	case $opt in
	t) TIMEOUT=$OPTARG ;;
	T) BOOT_TIMEOUT=$OPTARG ;;
	o) OUTDIR=$OPTARG ;;
	e) ENVS+=("$OPTARG") ;;
	m) MEM=$OPTARG ;;
	c) CPUS=$OPTARG ;;
	v) VERBOSE=1 ;;
	k) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) echo "usage: $0 [-t SECS] [-T SECS] [-o OUTDIR] [-e VAR=VAL]... [-m MB] [-c N] [-v] [-k] -- COMMAND [ARGS...]" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ "${1:-}" = "--" ] && shift
if [ $# -lt 1 ]; then
	echo "usage: $0 [options] -- COMMAND [ARGS...]   (-h for help)" >&2
	exit 2
fi
for n in "$TIMEOUT" "$BOOT_TIMEOUT" "$MEM" "$CPUS"; do
	[[ $n =~ ^[1-9][0-9]*$ ]] || { echo "ktls-vm: bad number '$n'" >&2; exit 2; }
done
for e in "${ENVS[@]}"; do
	[[ $e =~ ^[A-Za-z_][A-Za-z0-9_]*= ]] || { echo "ktls-vm: -e wants VAR=VAL, got '$e'" >&2; exit 2; }
done

log() { echo "[ktlsd-vm] $*" >&2; }
skip() { log "SKIP: $*"; exit 77; }
secs() { # elapsed seconds since $1 (an EPOCHREALTIME without the dot)
	local d=$((${EPOCHREALTIME/./} - $1))
	printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
}

# ------------------------------------------------------------ host tools ----
QEMU_VERSION=$(qemu-system-x86_64 --version 2>/dev/null | head -1) ||
	skip "qemu-system-x86_64 does not run (apt-get install -y --no-install-recommends qemu-system-x86)"
BUSYBOX=""
for b in /bin/busybox /usr/bin/busybox; do
	if [ -x "$b" ] && { LC_ALL=C ldd "$b" 2>&1 || true; } | grep -qE 'not a dynamic|statically linked'; then
		BUSYBOX=$b
		break
	fi
done
[ -n "$BUSYBOX" ] || skip "no static busybox (apt-get install -y busybox-static)"
if command -v cpio >/dev/null; then
	CPIO=(cpio -o -H newc --quiet)
else
	CPIO=("$BUSYBOX" cpio -o -H newc)
fi

# ---------------------------------------------------------------- kernel ----
# Cache layout: $CACHE/current (kernel release), $CACHE/<kver>/vmlinuz,
# <kver>/mods/*.ko + mods/order (only the modules we load, decompressed),
# <kver>/base-<hash of this script>.cpio.
WANT_MODS="gf128mul ghash-generic ctr seqiv gcm ccm cryptd crypto_simd aesni-intel
 ghash-clmulni-intel libchacha chacha_generic chacha-x86_64 libpoly1305 poly1305_generic
 poly1305-x86_64 libchacha20poly1305 chacha20poly1305 tls
 inet_diag tcp_diag udp_diag unix_diag
 virtio virtio_ring virtio_pci_legacy_dev virtio_pci_modern_dev virtio_pci
 netfs fscache 9pnet 9pnet_virtio 9p overlay"

extract_vmlinux() { # $1 = bzImage, $2 = output ELF (what scripts/extract-vmlinux does)
	local img=$1 out=$2 magic off tool
	for magic in xz:'\xfd7zXZ' zstd:'\x28\xb5\x2f\xfd' gzip:'\x1f\x8b\x08'; do
		tool=${magic%%:*}
		command -v "$tool" >/dev/null || continue
		# shellcheck disable=SC2059
		for off in $(LC_ALL=C grep -abo "$(printf "${magic#*:}")" "$img" 2>/dev/null | cut -d: -f1 | head -5); do
			tail -c +$((off + 1)) "$img" | "$tool" -dc 2>/dev/null >"$out.tmp" || true
			if [ "$(head -c 4 "$out.tmp" 2>/dev/null)" = $'\x7fELF' ]; then
				mv "$out.tmp" "$out"
				return 0
			fi
		done
	done
	rm -f "$out.tmp"
	return 1
}

fetch_kernel() { # -> fills $CACHE/<kver>, writes $CACHE/current
	local t0=${EPOCHREALTIME/./} tmp deb kpkg kv moddir m pat rel b
	tmp=$(mktemp -d "$CACHE/fetch.XXXXXX")
	TMPS+=("$tmp")
	if [ -n "${KTLSD_VM_KERNEL_DEB:-}" ]; then
		[ -r "$KTLSD_VM_KERNEL_DEB" ] || skip "KTLSD_VM_KERNEL_DEB=$KTLSD_VM_KERNEL_DEB is not readable"
		deb=$KTLSD_VM_KERNEL_DEB
	else
		command -v apt-get >/dev/null || skip "no apt-get to download the kernel package (set KTLSD_VM_KERNEL_DEB)"
		kpkg=$(apt-cache depends "$KPKG_META" 2>/dev/null |
			awk '/Depends: linux-image-[0-9]/{print $2; exit}' || true)
		[ -n "$kpkg" ] || skip "cannot resolve $KPKG_META to a kernel package (run apt-get update?)"
		log "cold start: downloading $kpkg (once; cached in $CACHE)"
		# chmod: apt's _apt sandbox user must be able to write there
		chmod 0777 "$tmp"
		if ! (cd "$tmp" && apt-get download -q "$kpkg" >"$tmp/apt.log" 2>&1); then
			sed 's/^/    /' "$tmp/apt.log" >&2
			skip "apt-get download $kpkg failed (no network to the Debian archive? try apt-get update)"
		fi
		deb=$(ls "$tmp"/*.deb)
	fi
	mkdir -p "$tmp/x"
	command -v dpkg-deb >/dev/null || skip "no dpkg-deb to unpack the kernel package"
	dpkg-deb -x "$deb" "$tmp/x" || skip "cannot unpack $deb"
	kv=$(ls "$tmp/x/lib/modules" | head -1)
	[ -n "$kv" ] && [ -e "$tmp/x/boot/vmlinuz-$kv" ] || skip "$deb holds no kernel + modules"
	moddir=$tmp/x/lib/modules/$kv
	# the .deb ships no modules.dep (its postinst runs depmod)
	if command -v depmod >/dev/null; then
		depmod -b "$tmp/x" "$kv"
	else
		"$BUSYBOX" depmod -b "$tmp/x" "$kv"
	fi
	rm -rf "${CACHE:?}/$kv.new"
	mkdir -p "$CACHE/$kv.new/mods"
	cp "$tmp/x/boot/vmlinuz-$kv" "$CACHE/$kv.new/vmlinuz"
	cp "$tmp/x/boot/config-$kv" "$CACHE/$kv.new/config"
	# An uncompressed vmlinux with a PVH entry note boots straight into the
	# kernel (qemu -kernel ELF): no real-mode setup, and no xz decompression
	# at emulated-CPU speed. That halves the boot time (5.5-6.9 s -> 2.7-2.9 s
	# for `true`). Fall back to the bzImage if that cannot be had.
	if grep -q '^CONFIG_PVH=y' "$CACHE/$kv.new/config"; then
		extract_vmlinux "$CACHE/$kv.new/vmlinuz" "$CACHE/$kv.new/vmlinux" ||
			log "cannot extract vmlinux from the bzImage: booting the bzImage (slower)"
	fi
	# resolve the load order from modules.dep: dependencies first
	local -A seen=()
	local order=()
	add_mod() {
		local r=$1 d
		[ -n "${seen[$r]:-}" ] && return
		seen[$r]=1
		for d in $(awk -F': *' -v m="$r" '$1 == m { print $2 }' "$moddir/modules.dep"); do
			add_mod "$d"
		done
		order+=("$r")
	}
	for m in $WANT_MODS; do
		pat=${m//[-_]/[-_]}
		rel=$(grep -E "(^|/)${pat}\.ko(\.xz|\.zst|\.gz)?:" "$moddir/modules.dep" | head -1 | cut -d: -f1 || true)
		[ -n "$rel" ] && add_mod "$rel" # absent = built in (or not in this kernel)
	done
	for rel in "${order[@]}"; do
		b=${rel##*/}
		case $b in
		*.ko.xz) xz -dc "$moddir/$rel" >"$CACHE/$kv.new/mods/${b%.xz}"; b=${b%.xz} ;;
		*.ko.zst) zstd -qdc "$moddir/$rel" >"$CACHE/$kv.new/mods/${b%.zst}"; b=${b%.zst} ;;
		*.ko.gz) gzip -dc "$moddir/$rel" >"$CACHE/$kv.new/mods/${b%.gz}"; b=${b%.gz} ;;
		*) cp "$moddir/$rel" "$CACHE/$kv.new/mods/$b" ;;
		esac
		echo "$b" >>"$CACHE/$kv.new/mods/order"
	done
	grep -qx 'tls.ko' "$CACHE/$kv.new/mods/order" || grep -q '^CONFIG_TLS=y' "$CACHE/$kv.new/config" ||
		skip "kernel $kv has no tls module"
	grep -qx '9p.ko' "$CACHE/$kv.new/mods/order" ||
		skip "kernel $kv has no 9p module (host-root mode needs it; KTLSD_VM_KERNEL_PKG=linux-image-amd64)"
	rm -rf "${CACHE:?}/$kv"
	mv "$CACHE/$kv.new" "$CACHE/$kv"
	echo "$kv" >"$CACHE/current.new"
	mv "$CACHE/current.new" "$CACHE/current"
	rm -rf "$tmp"
	log "kernel $kv ready in $(secs "$t0")s ($(wc -l <"$CACHE/$kv/mods/order") modules)"
}

build_base() { # $1 = kver dir; the static part of the initramfs
	local kd=$1 t0=${EPOCHREALTIME/./} r
	r=$(mktemp -d "$CACHE/base.XXXXXX")
	TMPS+=("$r")
	mkdir -p "$r"/{bin,sbin,proc,sys,dev,tmp,run,etc,lib/modules,host,newroot,rw}
	cp "$BUSYBOX" "$r/bin/busybox"
	cp "$kd"/mods/*.ko "$r/lib/modules/"
	cp "$kd/mods/order" "$r/etc/modules.order"
	cat >"$r/init" <<'EOF'
#!/bin/busybox sh
# ktlsd-vm guest init (generated by kmod-helpers/ktls-vm.sh)
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
# there is no modprobe in here: make the kernel's request_module() fail fast
echo /bin/true >/proc/sys/kernel/modprobe
fail() { echo "[ktlsd-vm guest] $*" >&2; }
TRACE=
grep -q ktlsd_vm.trace /proc/cmdline && TRACE=1
trace() { [ -z "$TRACE" ] || echo "[ktlsd-vm guest] uptime $(cut -d' ' -f1 /proc/uptime): $*" >&2; }
trace "init started"
for m in $(cat /etc/modules.order); do
	insmod /lib/modules/$m || fail "insmod $m failed"
done
trace "modules loaded"
[ -e /sys/module/tls ] || fail "WARNING: tls module not loaded"
ip link set lo up || fail "cannot bring lo up"
hostname localhost
read -r N </etc/ktlsd-vm/nonce
rm -f /etc/ktlsd-vm/nonce
NR=/newroot
rc=125
if ! mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot /host; then
	fail "cannot mount the host root over 9p"
elif ! { mount -t tmpfs -o mode=0755 tmpfs /rw && mkdir -p /rw/u /rw/w &&
	mount -t overlay overlay -o lowerdir=/host,upperdir=/rw/u,workdir=/rw/w $NR; }; then
	fail "cannot set up the overlay on the host root"
else
	mount -t devtmpfs devtmpfs $NR/dev
	mount -t proc proc $NR/proc
	mount -t sysfs sysfs $NR/sys
	# `ss -e` and friends look for the cgroup2 hierarchy
	mount -t cgroup2 cgroup2 $NR/sys/fs/cgroup 2>/dev/null
	mkdir -p $NR/dev/pts $NR/dev/shm
	mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts $NR/dev/pts
	mount -t tmpfs tmpfs $NR/dev/shm
	for f in fd:/proc/self/fd stdin:/proc/self/fd/0 stdout:/proc/self/fd/1 stderr:/proc/self/fd/2; do
		[ -e $NR/dev/${f%%:*} ] || ln -s ${f#*:} $NR/dev/${f%%:*}
	done
	# a fresh /run; /tmp stays the overlay (writable, and a repository
	# that lives under the host's /tmp stays visible)
	mount -t tmpfs -o mode=0755 tmpfs $NR/run
	chmod 1777 $NR/tmp 2>/dev/null
	mkdir -p $NR/run/ktlsd-vm
	cp /etc/ktlsd-vm/env /etc/ktlsd-vm/cmd $NR/run/ktlsd-vm/
	OUT=$(cat /etc/ktlsd-vm/outdir 2>/dev/null)
	if [ -n "$OUT" ]; then
		mkdir -p "$NR$OUT"
		mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 ktlsdout "$NR$OUT" ||
			fail "cannot mount the output directory"
	else
		mkdir -p $NR/tmp/ktlsd-vm-out
	fi
	trace "root ready"
	echo "@@KTLSD_VM_READY@@ uptime=$(cut -d' ' -f1 /proc/uptime)"
	chroot $NR /bin/bash -c '. /run/ktlsd-vm/env && cd "$KTLSD_VM_CWD" && . /run/ktlsd-vm/cmd' </dev/null
	rc=$?
	trace "command done"
	dmesg >/tmp/dmesg.txt 2>/dev/null
	[ -e /etc/ktlsd-vm/outdir ] && cp /tmp/dmesg.txt "$NR$OUT/ktlsd-vm-dmesg.txt"
	grep -E 'WARNING:|BUG:|Oops|general protection|Call Trace|KASAN|UBSAN|kmemleak|hung_task' /tmp/dmesg.txt |
		head -50 | sed 's/^/[ktlsd-vm dmesg] /' >&2
	sync
	[ -e /etc/ktlsd-vm/outdir ] && umount "$NR$OUT"
fi
echo "@@KTLSD_VM_EXIT=$rc@@$N uptime=$(cut -d' ' -f1 /proc/uptime)"
poweroff -f
EOF
	chmod 0755 "$r/init"
	(cd "$r" && find . -mindepth 1 | LC_ALL=C sort | "${CPIO[@]}" 2>/dev/null) >"$BASE.new"
	mv "$BASE.new" "$BASE"
	rm -rf "$r"
	log "base initramfs built in $(secs "$t0")s ($(du -h "$BASE" | cut -f1))"
}

TMPS=() W="" WATCH=""
cleanup() {
	if [ -n "$WATCH" ]; then kill "$WATCH" 2>/dev/null || true; fi
	if [ -n "$W" ] && [ -s "$W/qemu.pid" ]; then kill "$(cat "$W/qemu.pid")" 2>/dev/null || true; fi
	if [ "${#TMPS[@]}" -gt 0 ]; then rm -rf "${TMPS[@]}"; fi
	if [ -n "$W" ]; then
		if [ "$KEEP" = 1 ]; then log "kept $W"; else rm -rf "$W"; fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

mkdir -p "$CACHE" || skip "cannot create the cache directory $CACHE"
STAMP=$(sha256sum "$SELF" | cut -c1-16)
exec 9>"$CACHE/.lock"
flock 9 # one fetch/build at a time; runs proceed in parallel afterwards
KVER=$(cat "$CACHE/current" 2>/dev/null || true)
if [ -z "$KVER" ] || [ ! -s "$CACHE/$KVER/vmlinuz" ] || [ ! -s "$CACHE/$KVER/mods/order" ]; then
	fetch_kernel
	KVER=$(cat "$CACHE/current")
fi
KD=$CACHE/$KVER
KIMG=$KD/vmlinuz
[ -s "$KD/vmlinux" ] && KIMG=$KD/vmlinux
# one base per version of this script (its hash), so that several checkouts
# sharing the cache do not swap each other's /init under a running start
BASE=$KD/base-$STAMP.cpio
if [ -s "$BASE" ]; then
	touch "$BASE"
else
	build_base "$KD"
	# drop bases of other versions of this script unused for a day
	find "$KD" -maxdepth 1 -name 'base-*.cpio' -mmin +1440 -delete 2>/dev/null || true
fi
flock -u 9
exec 9>&-

# ---------------------------------------------------------------- per run ---
W=$(mktemp -d "${TMPDIR:-/tmp}/ktlsd-vm.XXXXXX")
P=$W/payload
mkdir -p "$P/etc/ktlsd-vm"
GUEST_OUT=/tmp/ktlsd-vm-out
if [ -n "$OUTDIR" ]; then
	mkdir -p "$OUTDIR"
	OUTDIR=$(cd "$OUTDIR" && pwd -P)
	printf '%s\n' "$OUTDIR" >"$P/etc/ktlsd-vm/outdir"
	GUEST_OUT=$OUTDIR
fi
{
	printf 'export KTLSD_VM=1 KTLSD_VM_CWD=%q KTLSD_VM_OUT=%q\n' "$REPO" "$GUEST_OUT"
	# Debian's tools, not the host user's PATH: a pyenv shim there costs
	# ~6.5 s per python3 call under TCG (/usr/bin/python3: 0.25 s)
	echo 'export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'
	for v in HOME LANG LC_ALL TZ; do
		if [ -n "${!v:-}" ]; then printf 'export %s=%q\n' "$v" "${!v}"; fi
	done
	for e in "${ENVS[@]}"; do printf 'export %q\n' "$e"; done
} >"$P/etc/ktlsd-vm/env"
{ printf '%q ' "$@"; echo; } >"$P/etc/ktlsd-vm/cmd"
NONCE=$(od -An -N8 -tx8 /dev/urandom | tr -d ' \n')
echo "$NONCE" >"$P/etc/ktlsd-vm/nonce"
(cd "$P" && find . -mindepth 1 | LC_ALL=C sort | "${CPIO[@]}" 2>/dev/null) >"$W/payload.cpio"
cat "$BASE" "$W/payload.cpio" >"$W/initrd.cpio"

# shellcheck disable=SC2054 # commas are qemu syntax
QEMU=(qemu-system-x86_64 -nodefaults -no-user-config -display none -no-reboot
	-machine q35 -accel tcg,thread=multi,tb-size=256 -cpu max -m "$MEM" -smp "$CPUS"
	-serial stdio -pidfile "$W/qemu.pid"
	-kernel "$KIMG" -initrd "$W/initrd.cpio"
	-virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap)
[ -n "$OUTDIR" ] &&
	QEMU+=(-virtfs "local,path=$OUTDIR,mount_tag=ktlsdout,security_model=none,multidevs=remap")
APPEND="console=ttyS0 panic=-1 oops=panic rdinit=/init mitigations=off"
if [ "$VERBOSE" = 1 ]; then APPEND+=" ktlsd_vm.trace"; else APPEND+=" quiet loglevel=1"; fi
QEMU+=(-append "$APPEND")

t0=${EPOCHREALTIME/./}
# boot watchdog: kill qemu if the command has not started in time. It polls,
# so it ends by itself soon after the boot, and holds none of our output fds
# (a stray `sleep` holding the stdout pipe would stall `ktls-vm.sh | tail`).
(
	exec </dev/null >/dev/null 2>&1
	i=0
	while [ "$i" -lt "$BOOT_TIMEOUT" ]; do
		sleep 1
		[ -e "$W/t_ready" ] && exit 0
		i=$((i + 1))
	done
	: >"$W/boot_timeout"
	[ -s "$W/qemu.pid" ] && kill "$(cat "$W/qemu.pid")"
) &
WATCH=$!
set +e
# In the background + wait, so that a SIGTERM/SIGINT to this script runs the
# trap (which kills qemu) at once instead of after the pipeline.
{
	timeout -k 10 "$TIMEOUT" "${QEMU[@]}" </dev/null 2>&1
	q=$?
	{ echo "$q" >"$W/qrc"; } 2>/dev/null # W is gone if we were interrupted
} | {
	while IFS= read -r line || [ -n "$line" ]; do
		line=${line%$'\r'}
		case $line in
		@@KTLSD_VM_READY@@*) secs "$t0" >"$W/t_ready" ;;
		@@KTLSD_VM_EXIT=*@@"$NONCE"*)
			secs "$t0" >"$W/t_exit"
			printf '%s\n' "$line" >"$W/exit_line"
			;;
		*"reboot: Power down"*) [ "$VERBOSE" = 1 ] && printf '%s\n' "$line" ;;
		*) printf '%s\n' "$line" ;;
		esac
	done
} &
wait "$!"
qrc=$(cat "$W/qrc" 2>/dev/null || echo 125)
set -e
kill "$WATCH" 2>/dev/null || true
wait "$WATCH" 2>/dev/null || true
WATCH=""
rc=$(sed -nE "s/^@@KTLSD_VM_EXIT=([0-9]+)@@$NONCE( .*)?\$/\\1/p" "$W/exit_line" 2>/dev/null || true)
log "kernel $KVER: command started at $(cat "$W/t_ready" 2>/dev/null || echo '?')s," \
	"ended at $(cat "$W/t_exit" 2>/dev/null || echo '?')s, VM gone at $(secs "$t0")s (host wall clock)"
if [ -z "$rc" ]; then
	if [ -e "$W/boot_timeout" ]; then
		log "FAILED: boot timeout: the guest did not start the command within ${BOOT_TIMEOUT}s" \
			"(rerun with -v to see the kernel's messages)"
		exit 124
	fi
	if [ "$qrc" = 124 ]; then
		log "FAILED: timeout: the run did not finish within ${TIMEOUT}s (-t)"
		exit 124
	fi
	if [ "$qrc" = 126 ] || [ "$qrc" = 127 ]; then
		log "FAILED: qemu could not be started ($QEMU_VERSION; rc=$qrc)"
		exit 125
	fi
	log "FAILED: the VM ended without reporting an exit status (qemu rc=$qrc; kernel panic or crash?" \
		"rerun with -v)"
	exit 125
fi
exit "$rc"
