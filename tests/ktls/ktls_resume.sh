#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_resume.sh - resumed connections end on kernel TLS like full ones:
#   - TLS 1.2 by session ID, TLS 1.2 by ticket, TLS 1.3 by ticket (s_client
#     -sess_out on a first connection, -sess_in on the next), and one TLS 1.3 0-RTT
#     connection (early_data = true; s_client -early_data) whose early data and the
#     data after the handshake both come back from the echo backend byte-exact;
#   - each resumed connection, while open, is on kTLS (ktls-diag: ulp=tls, the
#     version, aes-gcm-128, sw both ways) and echoes 256 KiB (+ an odd tail) byte-exact;
#   - ktlsd's counters: handshakes_resumed +4 and handshakes_full +3 on the listener,
#     early_data_accepted +1, connections_ktls +7 (every connection), and tls_stat
#     TlsTxSw/TlsRxSw +7, TlsDecryptError +0.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
need_cmd openssl

N=$(((256 << 10) + 4099))
start_backend echo
write_config "$T/k.conf" backend="$BACKEND_ADDR" early_data=true
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
gen_file "$T/payload.bin" "$N" 9
want=$(sha_of "$T/payload.bin")
ktls_stat_snapshot
lstats_snapshot

# one_conn NAME VERSION EXPECT_FILE [s_client args...]: a held s_client echo connection
# that must be on kTLS while open and get EXPECT_FILE back
one_conn() {
	local name=$1 ver=$2 expect=$3
	shift 3
	held_start "$name" sclient "$P" "$T/payload.bin" "$@"
	held_wait "$name" "$(size_of "$expect")" 60
	ktls_diag_expect "$P" "$ver" aes-gcm-128 1
	held_finish "$name"
	assert_file_sha "$T/$name.out" "$(sha_of "$expect")" "$name: echo"
	wait_until 10 _no_conns || fail "$name: ktlsd's side of the connection is still open"
}
_no_conns() { [[ -z $(ktls_diag "$P") ]]; }

conns=0
for kind in "t12sid 1.2 -tls1_2 -no_ticket" "t12tk 1.2 -tls1_2" "t13 1.3 -tls1_3"; do
	read -r k ver flags <<<"$kind"
	read -ra fl <<<"$flags"
	one_conn "$k-new" "$ver" "$T/payload.bin" "${fl[@]}" -sess_out "$T/$k.sess"
	[[ -s $T/$k.sess ]] || fail "$k: s_client saved no session"
	before=$(resumed_log_lines)
	one_conn "$k-res" "$ver" "$T/payload.bin" "${fl[@]}" -sess_in "$T/$k.sess"
	assert_eq $((before + 1)) "$(resumed_log_lines)" "$k: the connection offering the saved session was resumed (ktlsd's 'handshake done ..., resumed' lines)"
	conns=$((conns + 2))
	note "$k: full and resumed connection on kTLS, echo byte-exact"
done
assert_ne 0 "$(sess_info "$T/t13.sess" max_early_data)" "the TLS 1.3 ticket allows early data"

# 0-RTT: the echo is the early data, then the payload
printf 'EARLY-%s\n' "$("$OPENSSL" rand -hex 600)" >"$T/early.bin"
cat "$T/early.bin" "$T/payload.bin" >"$T/early-expect.bin"
before=$(resumed_log_lines)
one_conn zrtt 1.3 "$T/early-expect.bin" -tls1_3 -sess_in "$T/t13.sess" -early_data "$T/early.bin"
conns=$((conns + 1))
assert_eq $((before + 1)) "$(resumed_log_lines)" "0-RTT: resumed (ktlsd's 'handshake done ..., resumed' lines)"
assert_match "$KTLSD_LOG" "handshake done.*, resumed, early data $(size_of "$T/early.bin") bytes" "ktlsd's log of the 0-RTT handshake"
note "0-RTT: $(size_of "$T/early.bin") bytes of early data and $N after, on kTLS, byte-exact"

ktls_wait_closed 10
assert_ktls_deltas "$conns" "$conns connections (3 full, 4 resumed)"
lstats_refresh
assert_lstat_deltas "resumed connections on kTLS" handshakes_full=3 handshakes_resumed=4 early_data_accepted=1 \
	resume_miss_unknown_key=0 resume_miss_bad_ticket=0 resume_miss_cache=0 resume_miss_expired=0 resume_miss_mismatch=0
assert_eq "$conns" "$(kstat_delta connections_ktls)" "connections_ktls delta"
assert_eq 0 "$(kstat_delta connections_userspace)" "connections_userspace delta"
assert_eq 0 "$(kstat ktls_rx_errors)" "ktls_rx_errors"
assert_ktlsd_alive
note "ok"
