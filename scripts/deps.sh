#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# deps.sh - install the Debian packages one ktlsd task needs, and nothing more.
#
#   scripts/deps.sh [--list] [GROUP...]
#
# Groups (default: check):
#   build   compiler, make, pkg-config and the libraries' -dev packages
#   run     build + what `make run`'s demo uses: openssl (its throwaway CA),
#           python3 (its HTTP backend), iproute2 (ss), curl (to try it)
#   check   run + what `make check` uses: the real TLS clients and servers the
#           tests drive (gnutls-cli, s_client, nginx), python3 helpers, clang
#           (libFuzzer), libnss-myhostname (the tests name "localhost", which
#           nothing resolves on a root without /etc/hosts), groff (the man pages
#           are checked), and the kTLS VM (qemu, busybox-static, cpio, kmod, and
#           xz/zstd to unpack the kernel for its faster boot)
#   bench   check + the reference terminators of `make bench` (nginx stream, HAProxy),
#           strace (its syscall counts) and valgrind (its instruction counts)
#   dev     clang-format, clang-tidy, cppcheck, shellcheck (make format / tidy / lint)
#   ci      check + debootstrap and git (.ci/run's fresh-root job)
#   all     every group
#   --list  print the packages of the groups and exit
#
# Idempotent: asks dpkg what is installed and runs apt-get (update, then install
# --no-install-recommends) only for what is missing. Prints nothing when all is
# there. As root, or through sudo when it is there.
set -euo pipefail

BUILD_PKGS=(
	gcc libc6-dev make pkg-config
	libssl-dev liburing-dev libconfig-dev libjson-c-dev libnl-3-dev libnl-genl-3-dev libsystemd-dev libcap-ng-dev libseccomp-dev
)
RUN_PKGS=(openssl python3 iproute2 curl ca-certificates)
CHECK_PKGS=(
	gnutls-bin socat python3-cryptography python3-prometheus-client procps psmisc
	coreutils nginx redis-server clang libclang-rt-14-dev libnss-myhostname groff-base
	qemu-system-x86 busybox-static cpio kmod xz-utils zstd
)
BENCH_PKGS=(nginx libnginx-mod-stream haproxy strace valgrind)
DEV_PKGS=(clang-format clang-tidy cppcheck shellcheck)
CI_PKGS=(debootstrap git)

usage() { sed -n '/^#   scripts\/deps.sh/,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

list=0
groups=()
for a in "$@"; do
	case $a in
	--list) list=1 ;;
	build | run | check | bench | dev | ci | all) groups+=("$a") ;;
	-h | --help) usage; exit 0 ;;
	*) echo "deps.sh: unknown group '$a' (build, run, check, bench, dev, ci, all)" >&2; exit 2 ;;
	esac
done
((${#groups[@]})) || groups=(check)

pkgs=()
for g in "${groups[@]}"; do
	case $g in
	build) pkgs+=("${BUILD_PKGS[@]}") ;;
	run) pkgs+=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}") ;;
	check) pkgs+=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${CHECK_PKGS[@]}") ;;
	bench) pkgs+=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${CHECK_PKGS[@]}" "${BENCH_PKGS[@]}") ;;
	dev) pkgs+=("${DEV_PKGS[@]}") ;;
	ci) pkgs+=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${CHECK_PKGS[@]}" "${CI_PKGS[@]}") ;;
	all) pkgs+=("${BUILD_PKGS[@]}" "${RUN_PKGS[@]}" "${CHECK_PKGS[@]}" "${BENCH_PKGS[@]}" "${DEV_PKGS[@]}" "${CI_PKGS[@]}") ;;
	esac
done
mapfile -t pkgs < <(printf '%s\n' "${pkgs[@]}" | awk '!seen[$0]++')

if ((list)); then
	printf '%s\n' "${pkgs[@]}"
	exit 0
fi

installed() {
	local status
	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[[ $status == "install ok installed" ]]
}

missing=()
for p in "${pkgs[@]}"; do
	installed "$p" || missing+=("$p")
done
((${#missing[@]} == 0)) && exit 0

if ! command -v apt-get >/dev/null 2>&1; then
	echo "deps.sh: missing packages: ${missing[*]} (and no apt-get here; install them by hand)" >&2
	exit 1
fi
SUDO=()
if ((EUID != 0)); then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=(sudo)
	else
		echo "deps.sh: missing packages: ${missing[*]}; run as root (or install sudo) to install them" >&2
		exit 1
	fi
fi

echo "deps.sh: installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq </dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null

still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
if ((${#still[@]} > 0)); then
	echo "deps.sh: could not install: ${still[*]}" >&2
	exit 1
fi
