#!/bin/bash
# SPDX-License-Identifier: MIT
#
# ktls-selftest.sh - smoke test of real kernel TLS, meant to run inside the
# kTLS VM:
#
#   kmod-helpers/ktls-vm.sh -- kmod-helpers/ktls-selftest.sh [--tools]
#
# Checks that /proc/net/tls_stat exists, runs $BUILD/ktls-probe (BUILD
# defaults to build; `make build/ktls-probe` first) and prints its report and
# the kTLS counters. With --tools it also checks that the tools the test suite
# uses run here (bash, python3, openssl, gnutls-cli, curl, socat, ss).
# Exit 0 if everything passed, 1 otherwise. Runs anywhere, but outside a
# kernel with kTLS it fails (that is its point).
set -u

cd "$(dirname "$0")/.." || exit 1
BUILD=${BUILD:-build}
PROBE=$BUILD/ktls-probe
fails=0

check() { # check "what" command...: run it, report ok/FAIL
	local what=$1
	shift
	if "$@"; then
		echo "ok   $what"
	else
		echo "FAIL $what"
		fails=$((fails + 1))
	fi
}

echo "== kernel $(uname -r)"
check "/proc/net/tls_stat exists" test -r /proc/net/tls_stat
if [ -x "$PROBE" ]; then
	echo "== $PROBE"
	"$PROBE"
	rc=$?
	check "ktls-probe reports kTLS available (exit $rc)" test "$rc" = 0
else
	echo "FAIL $PROBE not built (make $PROBE)"
	fails=$((fails + 1))
fi
if [ -r /proc/net/tls_stat ]; then
	echo "== /proc/net/tls_stat"
	cat /proc/net/tls_stat
fi

if [ "${1:-}" = "--tools" ]; then
	echo "== tools"
	check "bash" bash -c 'exit 0'
	check "python3" python3 -c 'import ssl, socket; socket.create_connection'
	check "openssl" sh -c 'openssl version >/dev/null'
	check "gnutls-cli" sh -c 'gnutls-cli --version >/dev/null'
	check "curl" sh -c 'curl --version >/dev/null'
	check "socat" sh -c 'socat -V >/dev/null'
	check "ss" sh -c 'ss -tln >/dev/null'
fi

if [ "$fails" -eq 0 ]; then
	echo "ktls-selftest: all checks passed"
	exit 0
fi
echo "ktls-selftest: $fails check(s) failed"
exit 1
