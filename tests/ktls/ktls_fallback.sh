#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_fallback.sh - "ktls = false" on one listener keeps its connections on
# OpenSSL's userspace records while another listener of the same ktlsd moves its
# connections to kernel TLS, on a kernel that could do both.
#  1. Side by side: one s_client on each listener, open at the same time, each
#     echoing 1 MiB byte-exact.  While both are open ktls-diag shows ktlsd's socket
#     on the kTLS listener with ulp=tls and the one on the other listener without a
#     ULP.  Counters: connections_ktls +1, connections_userspace +1,
#     ktls_fallback_disabled +1; tls_stat +1 (the kTLS one only); bytes_spliced
#     == 2 MiB-ish of the kTLS connection, bytes_userspace == the other's.
#  2. More clients on the "ktls = false" listener only: gnutls-cli TLS 1.3
#     ChaCha20, gnutls-cli TLS 1.2 AES-256-GCM, s_client TLS 1.2 with a small
#     request, socat with 300 KB: all byte-exact, all in userspace; tls_stat
#     does not move at all; connections_userspace / ktls_fallback_disabled +4,
#     bytes_spliced +0.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
need_cmd gnutls-cli openssl socat

N=$(((1 << 20) + 333))
start_backend echo
write_config "$T/k.conf" backend="$BACKEND_ADDR" \
	listen2="127.0.0.1:$(free_port)" ktls2=false
grep -q 'ktls = false;' "$T/k.conf" || fail "write_config did not write 'ktls = false;'"
start_ktlsd "$T/k.conf"
PK=$LISTEN_PORT PU=$LISTEN2_PORT
gen_file "$T/payload.bin" "$N" 9
want=$(sha_of "$T/payload.bin")

# ---- 1. side by side
ktls_stat_snapshot
ktlsd_stats_snapshot
held_start onktls sclient "$PK" "$T/payload.bin"
held_start user sclient "$PU" "$T/payload.bin"
held_wait onktls "$N" 60
held_wait user "$N" 60
ktls_diag_expect "$PK" 1.3 aes-gcm-128 1
ktls_diag_expect_plain "$PU" 1
assert_eq 1 "$(ktls_stat_delta TlsCurrTxSw)" "TlsCurrTxSw with both open (only the kTLS listener's)"
assert_eq 1 "$(ktls_stat_delta TlsCurrRxSw)" "TlsCurrRxSw with both open"
held_finish onktls
held_finish user
assert_file_sha "$T/onktls.out" "$want" "kTLS listener: echo"
assert_file_sha "$T/user.out" "$want" "ktls = false listener: echo"
ktls_wait_closed 10
assert_ktls_deltas 1 "side by side"
ktlsd_stats_refresh
assert_eq 1 "$(kstat_delta connections_ktls)" "side by side: connections_ktls delta"
assert_eq 1 "$(kstat_delta connections_userspace)" "side by side: connections_userspace delta"
assert_eq 1 "$(kstat_delta ktls_fallback_disabled)" "side by side: ktls_fallback_disabled delta"
assert_eq 0 "$(kstat_delta ktls_fallback_unsupported)" "side by side: ktls_fallback_unsupported delta"
assert_eq $((2 * N)) "$(kstat_delta bytes_spliced)" "side by side: bytes_spliced (the kTLS connection)"
assert_eq $((2 * N)) "$(kstat_delta bytes_userspace)" "side by side: bytes_userspace (the ktls = false connection)"
note "1. side by side: kTLS on :$PK, userspace on :$PU, both byte-exact"

# ---- 2. more clients, ktls = false only
ktls_stat_snapshot
ktlsd_stats_snapshot
total=0
i=0
for prio in "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+CHACHA20-POLY1305" \
	"NORMAL:-VERS-ALL:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM"; do
	i=$((i + 1))
	n=$((100000 * i + 7))
	gen_file "$T/p$i.bin" "$n" "$i"
	held_start "g$i" gnutls "$PU" "$T/p$i.bin" --priority "$prio"
	held_wait "g$i" "$n" 60
	ktls_diag_expect_plain "$PU" 1
	held_finish "g$i"
	assert_file_sha "$T/g$i.out" "$(sha_of "$T/p$i.bin")" "ktls = false, gnutls-cli $prio: echo"
	total=$((total + n))
done
rc=0
# s_client (interactive mode: stdin EOF -> close_notify) with stdin held open
mkfifo "$T/sc.in"
sclient "$PU" -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256 -servername localhost \
	<"$T/sc.in" >"$T/sc.out" 2>"$T/sc.err" &
scpid=$!
track "$scpid"
exec 4>"$T/sc.in"
sleep "$(scaled 0.3)"
echo "hello over TLS 1.2" >&4
wait_log "$T/sc.out" '^hello over TLS 1.2$' 30 || {
	show_tail "$T/sc.err"
	fail "ktls = false, s_client TLS 1.2: no echo"
}
ktls_diag_expect_plain "$PU" 1
exec 4>&-
wait_exit "$scpid" 30 || fail "s_client did not exit after its stdin ended"
assert_rc 0 "$EXIT_RC" "ktls = false, s_client TLS 1.2" "$T/sc.err"
assert_match "$T/sc.out" '^New, TLSv1.2, Cipher is ECDHE-ECDSA-AES128-GCM-SHA256' "s_client TLS 1.2 handshake"
total=$((total + 19))
gen_file "$T/s.bin" 300000 4
to 60 socat -t "$(scaled 30)" - "OPENSSL:127.0.0.1:$PU,cafile=$CA,commonname=localhost,snihost=localhost" \
	<"$T/s.bin" >"$T/s.out" 2>"$T/s.err" || rc=$?
assert_rc 0 "$rc" "ktls = false, socat" "$T/s.err"
assert_file_sha "$T/s.out" "$(sha_of "$T/s.bin")" "ktls = false, socat: echo"
total=$((total + 300000))
_userspace_closed() { [[ -z $(ktls_diag "$PU") ]]; }
wait_until 10 _userspace_closed || fail "connections on :$PU still open"
assert_ktls_deltas 0 "ktls = false only"
assert_eq 0 "$(ktls_stat_delta TlsCurrTxSw)" "TlsCurrTxSw"
ktlsd_stats_refresh
assert_eq 0 "$(kstat_delta connections_ktls)" "ktls = false: connections_ktls delta"
assert_eq 4 "$(kstat_delta connections_userspace)" "ktls = false: connections_userspace delta"
assert_eq 4 "$(kstat_delta ktls_fallback_disabled)" "ktls = false: ktls_fallback_disabled delta"
assert_eq 0 "$(kstat_delta bytes_spliced)" "ktls = false: bytes_spliced delta"
assert_eq $((2 * total)) "$(kstat_delta bytes_userspace)" "ktls = false: bytes_userspace delta"
note "2. ktls = false: 4 more connections (TLS 1.3 ChaCha20, TLS 1.2 AES-256/128-GCM) in userspace, tls_stat unchanged"
assert_ktlsd_alive
note "ok"
