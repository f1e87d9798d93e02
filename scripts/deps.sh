#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# deps.sh - install every Debian package that ktlsd's build, tests, demo and
# benchmarks need. Idempotent: it asks dpkg what is already installed and only
# runs apt-get (update + install --no-install-recommends) for what is missing.
# Prints nothing when everything is present.
#
# Usage: scripts/deps.sh [--list]
#   --list   print the package list and exit
set -euo pipefail

BUILD_PKGS=(
	gcc make pkg-config
	libssl-dev liburing-dev libconfig-dev libjson-c-dev libnl-3-dev libnl-genl-3-dev
)
# Integration tests: real TLS clients, tools used by tests/lib.sh and the scenarios.
TEST_PKGS=(
	openssl gnutls-bin curl socat python3 python3-cryptography iproute2 procps psmisc coreutils
	ca-certificates clang python3-prometheus-client
)
# Development tools used by `make format` / `make tidy` and the shell lint.
DEV_PKGS=(shellcheck)
# Benchmarks (bench/run.sh): reference TLS terminators.
BENCH_PKGS=(nginx libnginx-mod-stream haproxy)
# Later: the kTLS VM (a small kernel + busybox initramfs under qemu).
VM_PKGS=(qemu-system-x86 busybox-static cpio)

ALL_PKGS=("${BUILD_PKGS[@]}" "${TEST_PKGS[@]}" "${DEV_PKGS[@]}" "${BENCH_PKGS[@]}" "${VM_PKGS[@]}")

if [[ "${1:-}" == "--list" ]]; then
	printf '%s\n' "${ALL_PKGS[@]}"
	exit 0
fi

installed() {
	local status
	status=$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null) || return 1
	[[ "$status" == "install ok installed" ]]
}

missing=()
for p in "${ALL_PKGS[@]}"; do
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
		echo "deps.sh: missing packages: ${missing[*]}; run as root to install them" >&2
		exit 1
	fi
fi

echo "deps.sh: installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -qq </dev/null
"${SUDO[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null

still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
if ((${#still[@]} > 0)); then
	echo "deps.sh: could not install: ${still[*]}" >&2
	exit 1
fi
