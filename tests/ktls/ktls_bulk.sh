#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_bulk.sh - 256 MiB through kernel TLS in each direction, byte-exact, and the
# throughput (printed, not asserted).
#   upload:   bulk.py gen | socat OPENSSL -> ktlsd (kTLS RX, splice) -> sink
#             backend, which answers the sha256 of everything it got after the
#             client's close_notify; compared with bulk.py sha.
#   download: bulk source backend -> ktlsd (splice, kTLS TX) -> socat OPENSSL ->
#             bulk.py check (compares every byte with the expected stream).
# While each transfer runs, ktls-diag shows ktlsd's socket on kTLS (TLS 1.3,
# AES-128-GCM: the clients' and ktlsd's default choice).  Afterwards: tls_stat
# TlsTxSw/TlsRxSw +2, TlsDecryptError +0; connections_ktls 2, bytes_userspace 0,
# bytes_spliced == 2 x 256 MiB + the sink's 65-byte answer.
# Clients: socat (OpenSSL, 256 KiB buffers) rather than gnutls-cli, which reads
# and writes in small pieces and is the bottleneck under an emulated CPU; the
# data comes from tests/tools/bulk.py (a repeated 1 MiB + 4093 pseudo-random
# block: generating and checking it costs a memory copy / compare, where
# backend.py's stream costs a few MB/s of CPU in the VM).
# BULK_SIZE overrides the size per direction (bytes, or with K/M/G).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
need_cmd socat

BULK=$TOOLS/bulk.py
N=$("$PYTHON" -c 'import sys; s = sys.argv[1].upper(); m = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
print(int(s[:-1]) * m[s[-1]] if s[-1] in m else int(s))' "${BULK_SIZE:-256M}")
SEED=11
MIB=$((1 << 20))

start_backend sink
SINK=$BACKEND_ADDR
SINK_LOG=$BACKEND_LOG
"$PYTHON" "$BULK" source "$N" "$SEED" --port-file "$T/source.port" >"$T/bulk-source.log" 2>&1 </dev/null &
track $!
wait_until 20 test -s "$T/source.port" || fail "bulk.py source did not start"
write_config "$T/k.conf" backend="$SINK" \
	listen2="127.0.0.1:$(free_port)" backend2="127.0.0.1:$(cat "$T/source.port")"
start_ktlsd "$T/k.conf"
PUP=$LISTEN_PORT PDOWN=$LISTEN2_PORT
SOCAT_TLS="cafile=$CA,commonname=localhost,snihost=localhost"
want=$("$PYTHON" "$BULK" sha "$N" "$SEED")
ktls_stat_snapshot
ktlsd_stats_snapshot

_on_ktls() { ktls_diag "$1" | grep -q ' ulp=tls '; }
# rate BYTES MS -> "X.Y MB/s" (10^6 bytes)
rate() { awk -v b="$1" -v ms="$2" 'BEGIN { printf "%.1f MB/s", ms > 0 ? b / ms / 1000 : 0 }'; }

# ---- upload
t0=$(now_ms)
{
	sleep "$(scaled 0.2)"
	"$PYTHON" "$BULK" gen "$N" "$SEED"
} | to 600 socat -b 262144 -t "$(scaled 30)" - "OPENSSL:127.0.0.1:$PUP,$SOCAT_TLS" \
	>"$T/up.out" 2>"$T/up.err" &
up=$!
track "$up"
wait_until 30 _on_ktls "$PUP" || fail "upload: ktlsd's socket never showed up on kTLS in ktls-diag"
ktls_diag_expect "$PUP" 1.3 aes-gcm-128 1
wait_exit "$up" 600 || fail "upload did not finish"
ms_up=$(($(now_ms) - t0))
assert_rc 0 "$EXIT_RC" "upload: socat" "$T/up.err"
assert_eq "$want" "$(tr -d '\n' <"$T/up.out")" "upload: the sink's sha256 of what it received"
assert_contains "$SINK_LOG" "sink: $N bytes sha256 $want" "upload: the backend got every byte"
note "upload: $((N / MIB)) MiB in ${ms_up} ms: $(rate "$N" "$ms_up") (handshake included)"

# ---- download
t0=$(now_ms)
to 600 socat -b 262144 -u "OPENSSL:127.0.0.1:$PDOWN,$SOCAT_TLS" - 2>"$T/down.err" |
	"$PYTHON" "$BULK" check "$N" "$SEED" >"$T/down.check" 2>&1 &
down=$!
track "$down"
wait_until 30 _on_ktls "$PDOWN" || fail "download: ktlsd's socket never showed up on kTLS in ktls-diag"
ktls_diag_expect "$PDOWN" 1.3 aes-gcm-128 1
wait_exit "$down" 600 || fail "download did not finish"
ms_down=$(($(now_ms) - t0))
cat "$T/down.check"
assert_rc 0 "$EXIT_RC" "download: socat | bulk.py check" "$T/down.err"
assert_contains "$T/down.check" "ok $N bytes" "download: byte-exact"
note "download: $((N / MIB)) MiB in ${ms_down} ms: $(rate "$N" "$ms_down") (handshake included)"

# ---- the kernel did it
ktls_wait_closed 20
assert_ktls_deltas 2 "upload + download"
ktlsd_stats_refresh
assert_eq 2 "$(kstat_delta connections_ktls)" "connections_ktls delta"
assert_eq 0 "$(kstat_delta connections_userspace)" "connections_userspace delta"
assert_eq 0 "$(kstat_delta bytes_userspace)" "bytes_userspace delta"
spliced=$(kstat_delta bytes_spliced)
assert_eq $((2 * N + 65)) "$spliced" "bytes_spliced delta (2 x $N + the sink's answer)"
((spliced >= 2 * N)) || fail "bytes_spliced $spliced < $((2 * N))"
assert_eq 0 "$(kstat ktls_rx_errors)" "ktls_rx_errors"
note "kTLS bulk: up $(rate "$N" "$ms_up"), down $(rate "$N" "$ms_down"); $(kstats_line connections_ktls bytes_spliced bytes_userspace)"
assert_ktlsd_alive
note "ok"
