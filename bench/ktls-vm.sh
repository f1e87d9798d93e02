#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# ktls-vm.sh - the kernel-TLS data path measured in the test VM (real tls.ko):
# one ktlsd with two listeners in front of the same backend, one on kernel TLS and one
# with `ktls = false` (userspace records), each relaying BYTES down and BYTES up over one
# TLS 1.3 AES-256-GCM connection. Prints, from ktlsd's own counters: payload bytes that
# passed through userspace buffers, bytes moved by splice, io_uring submissions per MiB.
#
#   BUILD=build bench/ktls-vm.sh [-b BYTES]      (default 64 MiB; make bench-ktls)
#
# The VM emulates its CPU (TCG), so CPU time and throughput measured in it say nothing
# about a real machine and are not reported; these counters do not depend on the CPU.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD == /* ]] || BUILD=$ROOT/$BUILD
BYTES=$((64 << 20))
while getopts "b:h" o; do
	case $o in
	b) BYTES=$OPTARG ;;
	*) sed -n '3,16p' "$0"; exit 0 ;;
	esac
done

TOOLS=$BUILD/bench
mkdir -p "$TOOLS"
gcc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$TOOLS/backend" "$ROOT/bench/backend.c"
gcc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$TOOLS/tlsget" "$ROOT/bench/tlsget.c" -lssl -lcrypto
"$ROOT/scripts/gen-certs.sh" "$BUILD/bench-certs" >/dev/null
exec "$ROOT/kmod-helpers/ktls-vm.sh" -t 900 -e "BUILD=$BUILD" -e "BYTES=$BYTES" -- \
	"$ROOT/bench/ktls-inner.sh"
