#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_concurrency.sh - 100 connections open at once through ktlsd (2 workers) on
# kernel TLS, each echoing its own pseudo-random payload (1 B .. 64 KiB) and
# checking it byte for byte (tests/tools/tlsclients.py).  The clients hold their
# connections open after the last echo, and while all are open ktls-diag must show
# exactly 100 sockets of ktlsd on the listener port, every one ulp=tls TLS 1.3
# AES-128-GCM sw/sw.  Afterwards: tls_stat TlsTxSw/TlsRxSw +100, TlsDecryptError
# +0, every kTLS socket closed again; connections_ktls 100, connections_userspace
# 0, bytes_userspace 0, bytes_spliced == 2 x the payload bytes the clients report.
# ktlsd's RSS with all open is printed. Then 20 more connections: each takes both its
# pipes from the ones the first 100 left (pipes_reused +40, no pipe2()), and they
# work. KTLS_CONCURRENCY_N overrides the 100.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
N=${KTLS_CONCURRENCY_N:-100}

start_backend echo
write_config "$T/k.conf" workers=2 backend="$BACKEND_ADDR"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
ktls_stat_snapshot
ktlsd_stats_snapshot

to 300 "$PYTHON" "$TOOLS/tlsclients.py" --port "$P" --ca "$CA" -n "$N" --max-size 65536 \
	--timeout "$(scaled 60)" --hold "$(scaled 4)" >"$T/clients.out" 2>&1 &
cpid=$!
track "$cpid"
_all_on_ktls() { (($(ktls_diag "$P" | grep -c ' ulp=tls ') >= N)); }
wait_until 120 _all_on_ktls || {
	cat "$T/clients.out"
	fail "ktls-diag never showed $N kTLS sockets on :$P (last count $(ktls_diag "$P" | grep -c ' ulp=tls '))"
}
is_running "$cpid" || fail "the clients ended before all $N connections were seen on kTLS"
rss_open=$(awk '/^VmRSS/ { print $2 }' "/proc/$KTLSD_PID/status")
ktls_diag_expect "$P" 1.3 aes-gcm-128 "$N"
note "current kTLS sockets: TlsCurrTxSw +$(ktls_stat_delta TlsCurrTxSw) TlsCurrRxSw +$(ktls_stat_delta TlsCurrRxSw)"
assert_eq "$N" "$(ktls_stat_delta TlsCurrTxSw)" "TlsCurrTxSw while all $N are open"
assert_eq "$N" "$(ktls_stat_delta TlsCurrRxSw)" "TlsCurrRxSw while all $N are open"
wait_exit "$cpid" 300 || fail "the clients did not finish"
cat "$T/clients.out"
assert_rc 0 "$EXIT_RC" "$N concurrent echo clients" "$T/clients.out"
assert_match "$T/clients.out" "^clients: $N ok, 0 failed, max open $N," "$N concurrent echo clients"
total=$(sed -nE 's/^clients: .*, ([0-9]+) bytes$/\1/p' "$T/clients.out")
[[ -n $total ]] || fail "no byte total in the clients' summary"

ktls_wait_closed 30
assert_ktls_deltas "$N" "$N concurrent connections"
ktlsd_stats_refresh
assert_eq "$N" "$(kstat_delta connections_ktls)" "connections_ktls delta"
assert_eq 0 "$(kstat_delta connections_userspace)" "connections_userspace delta"
assert_eq 0 "$(kstat_delta handshakes_failed)" "handshakes_failed delta"
assert_eq 0 "$(kstat_delta bytes_userspace)" "bytes_userspace delta"
assert_eq $((2 * total)) "$(kstat_delta bytes_spliced)" "bytes_spliced delta (2 x $total payload bytes)"
assert_eq 0 "$(kstat ktls_rx_errors)" "ktls_rx_errors"
note "$N connections on kTLS at once: $(kstats_line connections_ktls bytes_spliced bytes_userspace)"
rss_closed=$(awk '/^VmRSS/ { print $2 }' "/proc/$KTLSD_PID/status")
note "ktlsd RSS with $N kTLS connections open: $rss_open KiB; all closed: $rss_closed KiB"

# ---- the pipes come back: 20 more connections take them from the workers' spares
ktlsd_stats_snapshot
to 120 "$PYTHON" "$TOOLS/tlsclients.py" --port "$P" --ca "$CA" -n 20 --max-size 4096 \
	--timeout "$(scaled 60)" >"$T/again.out" 2>&1 || {
	cat "$T/again.out"
	fail "20 more clients"
}
assert_match "$T/again.out" "^clients: 20 ok, 0 failed," "20 more clients"
ktlsd_stats_refresh
assert_eq 20 "$(kstat_delta connections_ktls)" "connections_ktls delta, second round"
assert_eq 40 "$(kstat_delta pipes_reused)" "pipes reused by 20 connections (2 each)"
assert_ktlsd_alive
note "ok"
