#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_handoff.sh - in the kTLS VM, a socket handed to ktlsd comes back to the
# application as a real kernel-TLS socket:
#   - the example application (examples/ktls-echo-server, libktls) reports
#     ktls_tx=1 ktls_rx=1 relay=0 for TLS 1.3 and TLS 1.2 clients;
#   - while the connection is open, sock_diag shows the application's socket (local
#     port = the application's) with ulp=tls, the version, aes-gcm-128, sw/sw, and
#     ktlsd holds no socket of it any more;
#   - the application's plain read()/write() echo 256 KiB byte-exact, and its
#     sendfile() sends 4 MiB byte-exact on the returned descriptor;
#   - tls_stat and ktlsd's counters agree (the suite's KTLSD_EXPECT_KTLS check).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
need_cmd openssl
EXAMPLE=$BUILD/examples/ktls-echo-server
[[ -x $EXAMPLE ]] || fail "$EXAMPLE not built (make all)"

SOCK=$T/handoff.sock
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" extra="handoff_socket = \"$SOCK\";"
start_ktlsd "$T/k.conf"

_results_are() { (($(grep -c "handed back" "$T/example.log") == $1)); }
EP=$(free_port)
"$EXAMPLE" -s "$SOCK" "$EP" >"$T/example.log" 2>&1 &
track "$!"
wait_port 127.0.0.1 "$EP" || fail "the example server did not start: $(cat "$T/example.log")"
gen_file "$T/payload.bin" $((256 << 10)) 7
n=0
for v in 1.3 1.2; do
	held_start "e$v" sclient "$EP" "$T/payload.bin" "-tls${v/./_}"
	held_wait "e$v" $((256 << 10)) 60
	ktls_diag_expect "$EP" "$v" aes-gcm-128 1
	[[ -z $(ktls_diag "$LISTEN_PORT") ]] || fail "ktlsd still holds a socket of the handed-off connection"
	held_finish "e$v"
	assert_file_sha "$T/e$v.out" "$(sha_of "$T/payload.bin")" "TLS $v echo through the application"
	n=$((n + 1))
	wait_until 5 _results_are "$n" || fail "no result line for TLS $v: $(cat "$T/example.log")"
	line=$(grep "handed back" "$T/example.log" | tail -n1)
	[[ $line == *"ktls_tx=1 ktls_rx=1 relay=0"* ]] || fail "TLS $v result: $line"
	note "TLS $v: the application's own socket is on kTLS; echo byte-exact; ${line#handed back: }"
done

EP2=$(free_port)
gen_file "$T/file.bin" $((4 << 20)) 11
"$EXAMPLE" -s "$SOCK" -f "$T/file.bin" -n 1 "$EP2" >"$T/example2.log" 2>&1 &
track "$!"
wait_port 127.0.0.1 "$EP2" || fail "the sendfile example did not start"
sclient "$EP2" -quiet </dev/null >"$T/file.out" 2>"$T/file.err" || true
assert_file_sha "$T/file.out" "$(sha_of "$T/file.bin")" "4 MiB with sendfile() on the kTLS socket"
assert_contains "$T/example2.log" "ktls_tx=1 ktls_rx=1 relay=0" "the sendfile connection's result"
note "sendfile(): 4 MiB byte-exact on the returned kTLS socket"
assert_ktlsd_alive
note "ok"
