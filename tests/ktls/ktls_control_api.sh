#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_control_api.sh - the control API shows the kernel's view of kernel-TLS
# connections (run in the kTLS VM):
#   - two held echo connections (TLS 1.3 and TLS 1.2) on kTLS: `ktlsctl conns`
#     lists both with path ktls, kTLS TX and RX, and sock_diag's ULP info (ulp
#     tls, the version, aes-gcm-128, txconf/rxconf sw), as ktls-diag sees them;
#   - `ktlsctl stats`: connections_active.ktls 2, sockets.ulp_tls 2, and
#     kernel_tls_stat equal to /proc/net/tls_stat (TlsCurrTxSw, TlsCurrRxSw);
#   - `ktlsctl metrics` carries ktlsd_kernel_tls_stat and parses;
#   - `ktlsctl kill` closes one kTLS connection: the kernel's socket is gone, the
#     other still echoes.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
need_cmd openssl
need_ktlsctl
PROMPY=$(promcheck_py) || fail "no python3-prometheus-client (scripts/deps.sh check installs it)"

SOCK=$T/ctl.sock
start_backend echo
write_config "$T/k.conf" backend="$BACKEND_ADDR" workers=2 extra="control_socket = \"$SOCK\";"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
ctl() { "$KTLSCTL" -s "$SOCK" "$@"; }
_one_left() { (($(ktls_diag "$P" | grep -c .) == 1)); }

printf 'hello kernel\n' >"$T/line"
held_start t13 sclient "$P" "$T/line" -tls1_3
held_start t12 sclient "$P" "$T/line" -tls1_2
held_wait t13 13
held_wait t12 13

ctl --json conns >"$T/conns.json" || fail "ktlsctl conns failed"
assert_eq 2 "$(jget "$T/conns.json" 'r["total"]')" "conns: total"
assert_eq '["ktls", "ktls"]' "$(jget "$T/conns.json" '[c["path"] for c in r["conns"]]')" "conns: path"
assert_eq '[true, true, true, true]' "$(jget "$T/conns.json" '[x for c in r["conns"] for x in (c["ktls_tx"], c["ktls_rx"])]')" "conns: kTLS TX and RX"
assert_eq '["tls", "tls"]' "$(jget "$T/conns.json" '[c["kernel"]["ulp"] for c in r["conns"]]')" "conns: kernel ULP"
assert_eq '["1.2", "1.3"]' "$(jget "$T/conns.json" 'sorted(c["kernel"]["tls_version"] for c in r["conns"])')" "conns: kernel TLS versions"
assert_eq '["aes-gcm-128", "aes-gcm-128"]' "$(jget "$T/conns.json" '[c["kernel"]["tls_cipher"] for c in r["conns"]]')" "conns: kernel ciphers"
assert_eq '["sw", "sw", "sw", "sw"]' "$(jget "$T/conns.json" '[x for c in r["conns"] for x in (c["kernel"]["txconf"], c["kernel"]["rxconf"])]')" "conns: txconf/rxconf"
# The same sockets as ktls-diag lists (by peer address).
diag_peers=$(ktls_diag "$P" | awk '{ print $2 }' | sort | tr '\n' ' ')
ctl_peers=$(jget "$T/conns.json" '" ".join(sorted(c["peer"] for c in r["conns"])) + " "')
assert_eq "$diag_peers" "$ctl_peers" "conns' peers are ktls-diag's"
ctl conns >"$T/conns.txt" || fail "ktlsctl conns (text) failed"
note "conns: 2 kTLS connections with the kernel's ULP info ($(tr -s ' ' <"$T/conns.txt" | tail -n +2 | head -n 2 | tr '\n' '|'))"

ctl --json stats >"$T/stats.json" || fail "ktlsctl stats failed"
assert_eq 2 "$(jget "$T/stats.json" 'r["connections_active"]["ktls"]')" "stats: active kTLS connections"
assert_eq 2 "$(jget "$T/stats.json" 'r["sockets"]["ulp_tls"]')" "stats: sockets with the tls ULP"
for k in TlsCurrTxSw TlsCurrRxSw TlsTxSw TlsRxSw; do
	assert_eq "$(ktls_stat "$k")" "$(jget "$T/stats.json" "r['kernel_tls_stat']['$k']")" "stats: kernel_tls_stat.$k"
done
ctl metrics >"$T/metrics.txt" || fail "ktlsctl metrics failed"
grep -q '^ktlsd_kernel_tls_stat{stat="TlsCurrTxSw"} ' "$T/metrics.txt" || fail "metrics: no ktlsd_kernel_tls_stat"
"$PROMPY" "$ROOT/tests/tools/promcheck.py" "$T/metrics.txt" >/dev/null || fail "metrics do not parse"
note "stats: 2 active on kTLS, 2 ULP sockets, kernel_tls_stat = /proc/net/tls_stat"

victim=$(jget "$T/conns.json" '[c["id"] for c in r["conns"] if c["version"] == "TLSv1.2"][0]')
ctl kill "$victim" >/dev/null || fail "ktlsctl kill $victim failed"
wait_until 10 _one_left || fail "ktls-diag still lists $(ktls_diag "$P" | grep -c .) sockets after the kill"
ktls_diag_expect "$P" 1.3 aes-gcm-128 1
held_finish t13
assert_eq "hello kernel" "$(head -n1 "$T/t13.out")" "the TLS 1.3 connection's echo"
note "kill: the TLS 1.2 kTLS connection closed, the TLS 1.3 one finished normally"
assert_ktlsd_alive
note "ok"
