#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# metrics_format.sh - the Prometheus text of the stats object (daemon/services/metrics.c) parses with
# a real Prometheus parser: test_metrics --print gives the text of its samples (the
# documented `stats` reply with a listener named we"ird\name and kernel_tls_stat null; the
# same with kernel_tls_stat and a newline in a listener name; one with wrong types
# everywhere; one whose keys would clash with other families' names) and tests/tools/promcheck.py checks each with prometheus_client's parser:
# HELP and TYPE per family, no family twice or empty, histograms cumulative with +Inf ==
# _count, the expected families present, the odd listener name decoded intact.
# `promtool check metrics` is run as well when promtool is installed (its parse errors
# fail the test; its naming lint, exit 3, is only shown).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"

BIN=$BUILDDIR/tests/test_metrics
[[ -x $BIN ]] || fail "$BIN not built (make)"
PROMPY=$(promcheck_py) || fail "no python3-prometheus-client (scripts/deps.sh check installs it)"

FAMILIES=(ktlsd_uptime_seconds ktlsd_workers ktlsd_connections_accepted_total
	ktlsd_bytes_from_clients_total ktlsd_bytes_to_clients_total ktlsd_connections_active
	ktlsd_handshakes_total ktlsd_handshake_failures_total ktlsd_resume_misses_total
	ktlsd_early_data_total ktlsd_handshake_duration_seconds ktlsd_backend_connect_seconds
	ktlsd_session_cache_entries ktlsd_session_cache_capacity ktlsd_sockets
	ktlsd_socket_rtt_avg_microseconds ktlsd_socket_retransmits ktlsd_socket_bytes_acked
	ktlsd_socket_bytes_received)
expect=()
for f in "${FAMILIES[@]}"; do expect+=(--expect "$f"); done

promcheck() { # SAMPLE ARGS...
	local s=$1 out
	shift
	"$BIN" --print "$s" >"$T/$s.prom" || fail "test_metrics --print $s failed"
	out=$("$PROMPY" "$TOOLS/promcheck.py" "$T/$s.prom" "$@" 2>&1) ||
		fail "promcheck on the $s sample: $out"
	say "$s: $out"
}

promcheck documented "${expect[@]}" --expect-label 'listener=we"ird\name' \
	--expect-label 'reason=no_shared_cipher'
grep -q kernel_tls_stat "$T/documented.prom" && fail "kernel_tls_stat null gave samples"
promcheck full "${expect[@]}" --expect ktlsd_kernel_tls_stat \
	--expect-label 'stat=TlsCurrTxSw' --expect-label "listener=two"$'\n'"lines"
promcheck malformed --expect ktlsd_backend_connect_seconds --expect ktlsd_kernel_tls_stat
promcheck collisions --expect ktlsd_workers --expect ktlsd_x_count_total

if command -v promtool >/dev/null 2>&1; then
	for s in documented full malformed collisions; do
		rc=0
		out=$(promtool check metrics <"$T/$s.prom" 2>&1) || rc=$?
		case $rc in
		0) say "promtool: $s: ok" ;;
		3) say "promtool: $s: parses; lint: $(echo "$out" | sort -u | tr '\n' ';')" ;;
		*) fail "promtool check metrics on the $s sample (exit $rc): $out" ;;
		esac
	done
else
	say "promtool not installed: only prometheus_client's parser was used"
fi
say "PASS"
