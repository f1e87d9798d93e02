#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# handoff_client.sh - the handoff socket's client role and warm pool, with the example
# client built on libktls (examples/ktls-client) against real servers (openssl s_server,
# nginx):
#   - op 2: ktlsd connects as TLS client for the application's own socket, verifies the
#     server (client_ca) and the name, sends SNI and ALPN; the application then speaks
#     HTTP over the returned descriptor; the result names the subject and verify result;
#   - host-wide client session cache: process A's connection is full, process B (another
#     process) resumes it, for TLS 1.3 and TLS 1.2 (s_server -no_ticket: session IDs)
#     (single use of TLS 1.3 tickets: tests/unit/test_clientcache.c);
#   - a name that does not match: status 10 with the X509 reason; with VERIFY_OPTIONAL
#     the handshake completes and verify_result says 62 (hostname mismatch);
#   - op 3: the pool fills to pool_size, hands out ready connections (pooled=1) that
#     carry a request to nginx, refills with resumed handshakes, and when nginx restarts
#     (closing every idle connection) it counts them closed_by_peer, never hands one
#     out, and refills; a pool of size 0 serves on demand (pooled=0);
#   - bad input: unknown upstream, unreachable upstream, no host, a pipe, op 3 with a
#     descriptor, an unknown op, a server that closes mid-handshake each get their status;
#     ktlsd's descriptor count returns to its baseline;
#   - SIGTERM with a full pool: the idle connections are let go at once, ktlsd exits
#     without waiting for shutdown_timeout.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl nginx
CLIENT=$BUILD/examples/ktls-client
[[ -x $CLIENT ]] || fail "$CLIENT not built (make all)"
need_ktlsctl

# ---- nginx as the pool's upstream (its own PKI use: the test leaf for "localhost")
NGX=$T/nginx
NGX_PORT=$(free_port)
mkdir -p "$NGX"
cat >"$NGX/nginx.conf" <<EOF
daemon off; worker_processes 1; pid $NGX/nginx.pid; error_log $NGX/error.log;
user root;
events { worker_connections 256; }
http {
	access_log off;
	server {
		listen 127.0.0.1:$NGX_PORT ssl;
		ssl_certificate $CERTS/ecdsa.crt;
		ssl_certificate_key $CERTS/ecdsa.key;
		ssl_protocols TLSv1.2 TLSv1.3;
		location / { return 200 "hello from nginx\n"; }
	}
}
EOF
start_nginx() {
	nginx -c "$NGX/nginx.conf" -p "$NGX" >"$NGX/out.log" 2>&1 &
	NGX_PID=$!
	track "$NGX_PID"
	wait_port 127.0.0.1 "$NGX_PORT" || fail "nginx did not start: $(cat "$NGX/out.log" "$NGX/error.log")"
}
start_nginx

# ---- openssl s_server for the client role (one connection at a time is enough)
S13=$(free_port)
S12=$(free_port)
openssl s_server -accept "127.0.0.1:$S13" -cert "$CERTS/ecdsa.crt" -key "$CERTS/ecdsa.key" -www \
	-alpn h2,http/1.1 -quiet >"$T/s13.log" 2>&1 &
track "$!"
openssl s_server -accept "127.0.0.1:$S12" -cert "$CERTS/ecdsa.crt" -key "$CERTS/ecdsa.key" -www \
	-tls1_2 -no_ticket -quiet >"$T/s12.log" 2>&1 &
track "$!"
{ wait_port 127.0.0.1 "$S13" && wait_port 127.0.0.1 "$S12"; } || fail "s_server did not start"
CLOSER=$(free_port) # accepts and closes at once: a server that dies mid-handshake
"$PYTHON" -c 'import socket,sys
s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen()
while True:
    c,_=s.accept(); c.recv(10); c.close()' "$CLOSER" &
track "$!"
wait_port 127.0.0.1 "$CLOSER"
DEAD=$(free_port) # nothing listens here

SOCK=$T/handoff.sock
CTL=$T/control.sock
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" workers=2 extra="
handoff_socket = \"$SOCK\";
control_socket = \"$CTL\";
client_ca = \"$CA\";
upstreams = (
	{ name = \"web\"; address = \"127.0.0.1:$NGX_PORT\"; sni = \"localhost\";
	  alpn = [ \"http/1.1\" ]; pool_size = 3; max_idle = 120; },
	{ name = \"cold\"; address = \"127.0.0.1:$NGX_PORT\"; sni = \"localhost\"; pool_size = 0; },
	{ name = \"gone\"; address = \"127.0.0.1:$DEAD\"; sni = \"localhost\"; pool_size = 0; }
);"
start_ktlsd "$T/k.conf"
if have_ktls; then want="ktls_tx=1 ktls_rx=1 relay=0"; else want="ktls_tx=0 ktls_rx=0 relay=1"; fi
pools_field() { # UPSTREAM FIELD
	"$KTLSCTL" -s "$CTL" --json pools |
		"$PYTHON" -c 'import json,sys
for p in json.load(sys.stdin)["pools"]:
    if p["name"] == sys.argv[1]: print(p[sys.argv[2]])' "$1" "$2"
}
pool_at_least() { (($(pools_field "$1" "$2") >= $3)); } # UPSTREAM FIELD N (for wait_until)
stat_field() { # PYTHON-EXPR over the stats reply d
	"$KTLSCTL" -s "$CTL" --json stats | "$PYTHON" -c "import json,sys; d=json.load(sys.stdin); print($1)"
}
result() { grep -a "try $1:" "$2" | head -n1; }
printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' >"$T/req10"
printf 'GET / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >"$T/req11"

# ---- op 2 against s_server, TLS 1.3, then a second process resumes the first one's session
"$CLIENT" -s "$SOCK" -a h2,http/1.1 -r "$T/req10" localhost "$S13" >"$T/a.out" 2>"$T/a.err" ||
	fail "client A: $(cat "$T/a.err")"
line=$(result 1 "$T/a.err")
[[ $line == *"TLS 0x0304 "* && $line == *"alpn=h2 "* && $line == *"resumed=0 "* &&
	$line == *"verified=1 verify_result=0 subject=CN=localhost,O=ktlsd test "* && $line == *"$want "* ]] ||
	fail "client A result: $line"
assert_contains "$T/a.out" "HTTP/1.0 200 ok" "s_server's reply read from the returned descriptor"
note "op 2, TLS 1.3: ${line#*: }"
hits0=$(stat_field 'd["client_session_cache"]["hits"]')
"$CLIENT" -s "$SOCK" -a h2,http/1.1 -r "$T/req10" localhost "$S13" >"$T/b.out" 2>"$T/b.err" ||
	fail "client B: $(cat "$T/b.err")"
line=$(result 1 "$T/b.err")
[[ $line == *"resumed=1 "* && $line == *"verified=1 "* ]] || fail "client B (another process) did not resume: $line"
assert_contains "$T/b.out" "Reused, TLSv1.3" "s_server saw the session reused"
assert_eq $((hits0 + 1)) "$(stat_field 'd["client_session_cache"]["hits"]')" "client cache hits"
note "cross-process client resumption, TLS 1.3: process B resumed process A's session"

# ---- TLS 1.2 with session IDs (no tickets): resumed by another process, kept for reuse
for who in c d e; do
	"$CLIENT" -s "$SOCK" -r "$T/req10" localhost "$S12" >"$T/$who.out" 2>"$T/$who.err" ||
		fail "TLS 1.2 client $who: $(cat "$T/$who.err")"
done
[[ $(result 1 "$T/c.err") == *"TLS 0x0303 "*"resumed=0 "* ]] || fail "TLS 1.2 first: $(result 1 "$T/c.err")"
[[ $(result 1 "$T/d.err") == *"TLS 0x0303 "*"resumed=1 "* ]] || fail "TLS 1.2 second: $(result 1 "$T/d.err")"
[[ $(result 1 "$T/e.err") == *"resumed=1 "* ]] || fail "TLS 1.2 third: $(result 1 "$T/e.err")"
note "TLS 1.2 session ID: resumed by two later processes (a TLS 1.2 session serves many)"

# ---- verification
"$CLIENT" -s "$SOCK" -H wrong.example -r "$T/req10" 127.0.0.1 "$S13" >"$T/v.out" 2>"$T/v.err" &&
	fail "a wrong name was accepted: $(cat "$T/v.err")"
assert_contains "$T/v.err" "failed: status 10 " "status 10 for a name mismatch"
assert_contains "$T/v.err" "certificate verify failed: hostname mismatch" "the X509 reason"
"$CLIENT" -s "$SOCK" -k -H wrong.example -r "$T/req10" 127.0.0.1 "$S13" >"$T/k.out" 2>"$T/k.err" ||
	fail "VERIFY_OPTIONAL: $(cat "$T/k.err")"
assert_contains "$T/k.err" "verified=0 verify_result=62 " "VERIFY_OPTIONAL reports the failure"
assert_contains "$T/k.out" "HTTP/1.0 200 ok" "VERIFY_OPTIONAL connection works"
"$CLIENT" -s "$SOCK" -r "$T/req10" 127.0.0.1 "$S13" >"$T/ip.out" 2>"$T/ip.err" ||
	fail "an IP address as the name: $(cat "$T/ip.err")"
assert_contains "$T/ip.err" "verified=1 " "the certificate's IP SAN verified"
assert_ge() { (($2 >= $1)) || fail "$3: $2 < $1"; }
assert_ge 1 "$(stat_field 'd["listeners"]["handoff-client"]["handshake_failures"]["verify"]')" \
	"handshake_failures.verify of listener handoff-client"
note "verification: mismatch refused (status 10), VERIFY_OPTIONAL tells verify_result=62, IP SAN verified"

# KTLS_REQUIRE_KTLS (-K) where the kernel cannot take the connection: status 6 (NO_KTLS),
# never a relayed socket (checked where the kernel has no kTLS, i.e. natively here).
if ! have_ktls; then
	"$CLIENT" -s "$SOCK" -K -r "$T/req10" 127.0.0.1 "$S13" >"$T/K.out" 2>"$T/K.err" &&
		fail "-K (KTLS_REQUIRE_KTLS) succeeded without kernel TLS: $(cat "$T/K.out")"
	assert_contains "$T/K.err" "failed: status 6 " "status 6 (kernel TLS unavailable) with -K"
	note "KTLS_REQUIRE_KTLS without kernel TLS: status 6 ($(head -c 200 "$T/K.err"))"
fi

# ---- the pool
wait_until 10 pool_at_least web idle 3 || fail "pool web did not fill: $("$KTLSCTL" -s "$CTL" pools)"
"$CLIENT" -s "$SOCK" -n 4 -r "$T/req11" -P web >"$T/p.out" 2>"$T/p.err" || fail "pool: $(cat "$T/p.err")"
assert_eq 4 "$(grep -c 'hello from nginx' "$T/p.out")" "nginx replies over pooled connections"
for i in 1 2 3; do
	[[ $(result "$i" "$T/p.err") == *"verified=1 "*"$want pooled=1 "* ]] || fail "pooled try $i: $(result "$i" "$T/p.err")"
done
note "pool: ready connections handed out ($(result 1 "$T/p.err" | grep -o 'pooled=1'), nginx answered 4 requests)"
wait_until 10 pool_at_least web idle 3 || fail "pool web did not refill"
assert_ge 1 "$(pools_field web refills_resumed)" "refills that resumed a session"
note "pool refilled to 3, $(pools_field web refills_resumed) refills resumed"

# nginx restarts: every idle connection is closed by the server; none may be handed out
kill "$NGX_PID"
wait "$NGX_PID" 2>/dev/null || true
wait_until 10 pool_at_least web closed_by_peer 3 ||
	fail "closed idle connections not noticed: $("$KTLSCTL" -s "$CTL" pools)"
start_nginx
wait_until 15 pool_at_least web idle 3 || fail "pool web did not refill after the restart: $("$KTLSCTL" -s "$CTL" pools)"
"$CLIENT" -s "$SOCK" -n 3 -r "$T/req11" -P web >"$T/p2.out" 2>"$T/p2.err" || fail "pool after restart: $(cat "$T/p2.err")"
assert_eq 3 "$(grep -c 'hello from nginx' "$T/p2.out")" "replies over refilled connections"
note "nginx restarted: $(pools_field web closed_by_peer) idle connections counted closed_by_peer, refilled, all handed-out ones live"

"$CLIENT" -s "$SOCK" -r "$T/req11" -P cold >"$T/c0.out" 2>"$T/c0.err" || fail "cold pool: $(cat "$T/c0.err")"
assert_contains "$T/c0.err" "pooled=0 " "an empty pool connects on demand"
assert_contains "$T/c0.out" "hello from nginx" "the on-demand connection works"
assert_eq 1 "$(pools_field cold misses)" "misses of the empty pool"
"$KTLSCTL" -s "$CTL" pools >"$T/pools.txt"
assert_match "$T/pools.txt" '^web +127\.0\.0\.1:[0-9]+ +3 +3 ' "ktlsctl pools table"
note "pool size 0: on demand (pooled=0); ktlsctl pools: $(grep '^web' "$T/pools.txt" | tr -s ' ')"

# ---- bad input
base_fds_settle() { sleep 0.5; find "/proc/$KTLSD_PID/fd" -mindepth 1 | wc -l; }
base_fds=$(base_fds_settle)
expect_status() { handoff_expect_status "$SOCK" "$@"; } # CASE STATUS WHAT [ARGS...]
expect_status pool 11 "an unknown upstream" nosuch
expect_status pool 11 "an unreachable upstream (on demand)" gone
expect_status client_nohost 1 "the client role without a host" 127.0.0.1 "$S13"
expect_status client_pipe 2 "the client role on a pipe"
expect_status pool_fd 1 "op 3 with a descriptor" web
expect_status badop 1 "an unknown op"
expect_status client 4 "a server that closes mid-handshake" 127.0.0.1 "$CLOSER" localhost
_fds_back() { (($(find "/proc/$KTLSD_PID/fd" -mindepth 1 | wc -l) == base_fds)); }
wait_until 10 _fds_back || fail "ktlsd holds $(find "/proc/$KTLSD_PID/fd" -mindepth 1 | wc -l) descriptors, $base_fds before"
note "descriptors back to the baseline ($base_fds, the pool's included)"
assert_ktlsd_alive
# Stopping lets go of the pool's idle connections first: no wait for shutdown_timeout.
wait_until 10 pool_at_least web idle 3 || fail "pool web not full before the stop"
stop_ktlsd "$KTLSD_PID" TERM 3
note "SIGTERM with a full pool: ktlsd exited within 3 s (shutdown_timeout is $(scaled_int 5) s)"
note "ok"
