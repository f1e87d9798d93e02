#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_ciphers.sh - every version x cipher the kernel offers, on real kernel TLS:
# TLS 1.2 and 1.3 x AES-128-GCM, AES-256-GCM, ChaCha20-Poly1305, each forced on
# the client side (openssl s_client -ciphersuites / -tls1_2 -cipher) against the
# default profile (ECDSA + RSA certificates, ktlsd's default cipher lists).  Per
# combination:
#   - 1 MiB (+ an odd tail) goes up and the echo comes back byte-exact;
#   - while the connection is still open (the client's stdin is held open after
#     the payload), ktls-diag shows ktlsd's socket with ulp=tls, the expected
#     version and kernel cipher, txconf=sw rxconf=sw;
#   - then stdin ends: s_client sends close_notify and exits 0;
#   - ktlsd logged the handshake with the forced suite and "kernel TLS TX+RX:
#     TLSvX AES-..." for it; its counters moved by connections_ktls +1,
#     bytes_spliced +2*N (both directions), bytes_userspace +0 (the client pauses
#     after the handshake), close_notify_received +1;
#   - /proc/net/tls_stat: TlsTxSw +1, TlsRxSw +1, TlsDecryptError +0, and the kTLS
#     socket is gone afterwards (TlsCurrTxSw/TlsCurrRxSw back).
# Then one gnutls-cli connection with TLS 1.2 (its default cipher, AES-128-GCM), so
# a second implementation's TLS 1.2 records meet the kernel too (its TLS 1.3 ones do
# in ktls_control and the relay scenarios).
# (s_client, not gnutls-cli, for the matrix: see held_start in lib.sh.)
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
need_cmd openssl gnutls-cli

N=$(((1 << 20) + 4099))

start_backend echo
write_config "$T/k.conf" backend="$BACKEND_ADDR"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
gen_file "$T/payload.bin" "$N" 5
want=$(sha_of "$T/payload.bin")

# one_combo WHAT VERSION KERNEL-CIPHER KTLSD-CIPHER SUITE CLIENT [client args...]
# SUITE: the OpenSSL name ktlsd logs at "handshake done" ("" for any).
combos=0
one_combo() {
	local what=$1 ver=$2 kname=$3 dname=$4 suite=$5 client=$6 logged
	shift 6
	ktls_stat_snapshot
	ktlsd_stats_snapshot
	logged=$(count_log "$KTLSD_LOG" "kernel TLS TX\+RX: TLSv$ver $dname,")
	held_start cli "$client" "$P" "$T/payload.bin" "$@"
	held_wait cli "$N" 60
	ktls_diag_expect "$P" "$ver" "$kname" 1
	held_finish cli
	assert_file_sha "$T/cli.out" "$want" "$what: echo"
	ktls_wait_closed 10
	assert_ktls_deltas 1 "$what"
	assert_eq $((logged + 1)) "$(count_log "$KTLSD_LOG" "kernel TLS TX\+RX: TLSv$ver $dname,")" \
		"$what: ktlsd's 'kernel TLS TX+RX: TLSv$ver $dname' log lines"
	[[ -z $suite ]] || assert_match "$KTLSD_LOG" "handshake done( on worker [0-9]+)?: TLSv$ver $suite," "$what: ktlsd's handshake log"
	ktlsd_stats_refresh
	assert_eq 1 "$(kstat_delta connections_ktls)" "$what: connections_ktls delta"
	assert_eq 0 "$(kstat_delta connections_userspace)" "$what: connections_userspace delta"
	assert_eq 0 "$(kstat_delta bytes_userspace)" "$what: bytes_userspace delta"
	assert_eq $((2 * N)) "$(kstat_delta bytes_spliced)" "$what: bytes_spliced delta (up + down)"
	assert_eq 1 "$(kstat_delta close_notify_received)" "$what: close_notify_received delta"
	note "$what: $N bytes echoed on kTLS; $(kstats_line connections_ktls bytes_spliced bytes_userspace)"
	combos=$((combos + 1))
}

# kernel name, ktlsd's name, TLS 1.3 suite, TLS 1.2 ECDHE-ECDSA suite
for c in "aes-gcm-128 AES-128-GCM TLS_AES_128_GCM_SHA256 ECDHE-ECDSA-AES128-GCM-SHA256" \
	"aes-gcm-256 AES-256-GCM TLS_AES_256_GCM_SHA384 ECDHE-ECDSA-AES256-GCM-SHA384" \
	"chacha20-poly1305 CHACHA20-POLY1305 TLS_CHACHA20_POLY1305_SHA256 ECDHE-ECDSA-CHACHA20-POLY1305"; do
	read -r kname dname s13 s12 <<<"$c"
	one_combo "TLS 1.3 $dname" 1.3 "$kname" "$dname" "$s13" sclient -tls1_3 -ciphersuites "$s13"
	one_combo "TLS 1.2 $dname" 1.2 "$kname" "$dname" "$s12" sclient -tls1_2 -cipher "$s12"
done
one_combo "gnutls-cli TLS 1.2" 1.2 aes-gcm-128 AES-128-GCM "" gnutls --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2"
assert_match "$T/cli.log" "Description: \(TLS1.2-.*\(AES-128-GCM\)" "gnutls-cli TLS 1.2: negotiated"
assert_eq 7 "$combos" "combinations tested"
assert_eq 0 "$(kstat ktls_rx_errors)" "ktls_rx_errors"
assert_ktlsd_alive
note "ok"
