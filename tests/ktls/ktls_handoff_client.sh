#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_handoff_client.sh - in the kTLS VM, the handoff client role and the warm pool
# return real kernel-TLS sockets to the application (examples/ktls-client, libktls):
#   - op 2 against openssl s_server, TLS 1.3 and TLS 1.2: the result says ktls_tx=1
#     ktls_rx=1 relay=0 and the application reads s_server's page with plain reads;
#     for TLS 1.3 ktlsd read the server's tickets before the handover (the client session
#     cache stored them and a second process resumes);
#   - while an op-2 connection is open, sock_diag shows the application's own socket
#     (remote port = the server's) with ulp=tls, the version, sw/sw;
#   - op 3: a pooled connection to ktlsd's own TLS listener is a kTLS socket too
#     (ktls_tx=1 ktls_rx=1 pooled=1) and carries a request to the HTTP backend;
#   - tls_stat and ktlsd's counters agree (the suite's KTLSD_EXPECT_KTLS check).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
need_cmd openssl
CLIENT=$BUILD/examples/ktls-client
[[ -x $CLIENT ]] || fail "$CLIENT not built (make all)"
need_ktlsctl

S13=$(free_port)
S12=$(free_port)
openssl s_server -accept "127.0.0.1:$S13" -cert "$CERTS/ecdsa.crt" -key "$CERTS/ecdsa.key" -www \
	-quiet >"$T/s13.log" 2>&1 &
track "$!"
openssl s_server -accept "127.0.0.1:$S12" -cert "$CERTS/ecdsa.crt" -key "$CERTS/ecdsa.key" -www \
	-tls1_2 -quiet >"$T/s12.log" 2>&1 &
track "$!"
{ wait_port 127.0.0.1 "$S13" && wait_port 127.0.0.1 "$S12"; } || fail "s_server did not start"

SOCK=$T/handoff.sock
CTL=$T/control.sock
start_backend http
LPORT=$(free_port)
write_config "$T/k.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$LPORT" extra="
handoff_socket = \"$SOCK\";
control_socket = \"$CTL\";
client_ca = \"$CA\";
upstreams = ( { name = \"self\"; address = \"127.0.0.1:$LPORT\"; sni = \"localhost\";
                alpn = [ \"http/1.1\" ]; pool_size = 2; } );"
start_ktlsd "$T/k.conf"
printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >"$T/req10"
printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >"$T/req11"
stored() { "$KTLSCTL" -s "$CTL" --json stats | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["client_session_cache"]["stored"])'; }

for v in 1.3 1.2; do
	port=$S13
	[[ $v == 1.2 ]] && port=$S12
	before=$(stored)
	"$CLIENT" -s "$SOCK" -r "$T/req10" localhost "$port" >"$T/c$v.out" 2>"$T/c$v.err" ||
		fail "TLS $v client: $(cat "$T/c$v.err")"
	line=$(grep -a "try 1:" "$T/c$v.err")
	[[ $line == *"ktls_tx=1 ktls_rx=1 relay=0 "* && $line == *"verified=1 "* ]] || fail "TLS $v result: $line"
	assert_contains "$T/c$v.out" "HTTP/1.0 200 ok" "s_server's page read with plain reads on the kTLS socket"
	(($(stored) > before)) || fail "TLS $v: no session stored (tickets not read before the handover?)"
	"$CLIENT" -s "$SOCK" -r "$T/req10" localhost "$port" >"$T/r$v.out" 2>"$T/r$v.err" ||
		fail "TLS $v second process: $(cat "$T/r$v.err")"
	assert_contains "$T/r$v.err" "resumed=1 " "TLS $v: another process resumed"
	assert_contains "$T/r$v.err" "ktls_tx=1 ktls_rx=1 relay=0 " "TLS $v: the resumed connection is on kTLS too"
	note "op 2, TLS $v: ${line#*: }; a second process resumed, on kTLS"
done

# An open op-2 connection: the application's own socket carries the tls ULP.
mkfifo "$T/in"
"$CLIENT" -s "$SOCK" localhost "$LPORT" <"$T/in" >"$T/held.out" 2>"$T/held.err" &
HELD=$!
track "$HELD"
exec 7>"$T/in"
wait_until 10 grep -q "try 1:" "$T/held.err" || fail "held client: $(cat "$T/held.err")"
out=$("$KTLS_DIAG" -p "$LPORT")
mine=$(printf '%s\n' "$out" | awk -v p=":$LPORT" '{ r = $2; if (substr(r, length(r) - length(p) + 1) == p) print }')
printf '%s\n' "$mine" | grep -q " ulp=tls version=1.3 .*txconf=sw rxconf=sw" ||
	fail "the application's socket (remote port $LPORT) is not on kTLS: $out"
printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >&7
exec 7>&-
wait "$HELD" || fail "held client exited $?"
assert_contains "$T/held.out" "HTTP/1.1 200 OK" "the backend's reply through both kTLS ends"
note "sock_diag: the application's socket to :$LPORT has ulp=tls version=1.3 sw/sw"

# The pool: its connections to ktlsd's own listener are kTLS sockets.
_pool_full() { "$KTLSCTL" -s "$CTL" --json pools | "$PYTHON" -c 'import json,sys; sys.exit(json.load(sys.stdin)["pools"][0]["idle"] != 2)'; }
wait_until 10 _pool_full || fail "the pool did not fill: $("$KTLSCTL" -s "$CTL" pools)"
"$CLIENT" -s "$SOCK" -n 2 -r "$T/req11" -P self >"$T/p.out" 2>"$T/p.err" || fail "pool: $(cat "$T/p.err")"
for i in 1 2; do
	line=$(grep -a "try $i:" "$T/p.err")
	[[ $line == *"ktls_tx=1 ktls_rx=1 relay=0 pooled=1 "* ]] || fail "pooled try $i: $line"
done
assert_eq 2 "$(grep -c "HTTP/1.1 200 OK" "$T/p.out")" "backend replies over pooled kTLS connections"
note "pool: 2 ready kTLS connections handed out and used ($(grep -a 'try 1:' "$T/p.err" | grep -o 'ktls_tx=1 ktls_rx=1 relay=0 pooled=1'))"
assert_ktlsd_alive
note "ok"
