#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# handoff_server.sh - the handoff socket, server role, with the example application
# built on libktls (examples/ktls-echo-server.c): real clients (openssl s_client,
# gnutls-cli) talk TLS to the application, which never does TLS itself; ktlsd does the
# handshake and hands the socket back (with kernel TLS where the kernel has it, else as
# a relayed socketpair: the result says which and the echo is byte-exact either way);
# the non-blocking form in a poll() loop (examples/ktls-echo-poll.c, 6 at once);
# ALPN from the application's list; a session from one application's connection resumes on
# another application's (one resumption state on the host); sendfile() on the returned
# descriptor. Bad input:
# a pipe, a listening socket, an unconnected socket, no descriptor, a short request, a
# wrong magic, an unknown profile, an application that hangs up mid-handshake, and a
# client that never finishes its handshake each get a clear error (or are cleaned up)
# and ktlsd's descriptor count returns to its baseline.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli
EXAMPLE=$BUILD/examples/ktls-echo-server
[[ -x $EXAMPLE ]] || fail "$EXAMPLE not built (make all)"
HO=$ROOT/tests/tools/handoff.py

SOCK=$T/handoff.sock
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" workers=2 handshake_timeout="$(scaled_int 3)" \
	extra="handoff_socket = \"$SOCK\";"
start_ktlsd "$T/k.conf"
fds() { find "/proc/$KTLSD_PID/fd" -mindepth 1 2>/dev/null | wc -l; }
_fds_back() { (($(fds) == base_fds)); }
_results_are() { (($(grep -c "handed back" "$T/example.log") == $1)); }
base_fds=$(fds)

if have_ktls; then want="ktls_tx=1 ktls_rx=1 relay=0"; else want="ktls_tx=0 ktls_rx=0 relay=1"; fi

# ---- echo through the example application
EP=$(free_port)
"$EXAMPLE" -s "$SOCK" -a h2,http/1.1 "$EP" >"$T/example.log" 2>&1 &
EX_PID=$!
track "$EX_PID"
wait_port 127.0.0.1 "$EP" || fail "the example server did not start: $(cat "$T/example.log")"
gen_file "$T/payload.bin" $((256 << 10)) 3
held_start s1 sclient "$EP" "$T/payload.bin" -alpn h2
held_wait s1 $((256 << 10))
held_finish s1
assert_file_sha "$T/s1.out" "$(sha_of "$T/payload.bin")" "s_client echo through the application"
wait_until 5 grep -q "handed back" "$T/example.log" || fail "no result line: $(cat "$T/example.log")"
line=$(grep "handed back" "$T/example.log" | head -n1)
[[ $line == *"TLS 0x0304 "* && $line == *"alpn=h2 "* && $line == *"$want "* ]] ||
	fail "result: $line (expected TLS 1.3, alpn=h2, $want)"
note "s_client: 256 KiB echoed byte-exact; result: ${line#handed back: }"

printf 'gnutls says hi\n' >"$T/g.in"
held_start g1 gnutls "$EP" "$T/g.in" --priority=NORMAL:-VERS-ALL:+VERS-TLS1.2
held_wait g1 15
held_finish g1
assert_eq "gnutls says hi" "$(head -n1 "$T/g1.out" | tr -d '\r')" "gnutls-cli TLS 1.2 echo"
wait_until 5 _results_are 2 || fail "second result line missing: $(cat "$T/example.log")"
assert_contains "$T/example.log" "TLS 0x0303 " "a TLS 1.2 handshake handed back"
kill "$EX_PID" 2>/dev/null || true
wait "$EX_PID" 2>/dev/null || true

# ---- the non-blocking form in a poll() loop: 6 handshakes in flight at once
POLLER=$BUILD/examples/ktls-echo-poll
EPP=$(free_port)
"$POLLER" -s "$SOCK" -n 6 "$EPP" >"$T/poll.log" 2>&1 &
track "$!"
wait_port 127.0.0.1 "$EPP" || fail "ktls-echo-poll did not start: $(cat "$T/poll.log")"
for i in 1 2 3 4 5 6; do
	gen_file "$T/p$i.bin" $((64 << 10)) $((20 + i))
	held_start "p$i" sclient "$EPP" "$T/p$i.bin"
done
for i in 1 2 3 4 5 6; do
	held_wait "p$i" $((64 << 10))
	held_finish "p$i"
	assert_file_sha "$T/p$i.out" "$(sha_of "$T/p$i.bin")" "connection $i through the poll() application"
done
assert_eq 6 "$(grep -c "handed back" "$T/poll.log")" "results in the poll() application"
note "non-blocking API: 6 concurrent connections echoed byte-exact through one poll() loop"

# ---- one resumption state for every application on the host: a session from a connection
# application A handed over resumes on application B (a different process)
EA=$(free_port)
EB=$(free_port)
printf 'hello from an application\n' >"$T/small.txt"
# -f: each sends a small file and closes, so that s_client ends on its own
"$EXAMPLE" -s "$SOCK" -f "$T/small.txt" -n 1 "$EA" >"$T/appA.log" 2>&1 &
track "$!"
"$EXAMPLE" -s "$SOCK" -f "$T/small.txt" -n 1 "$EB" >"$T/appB.log" 2>&1 &
track "$!"
wait_port 127.0.0.1 "$EA" && wait_port 127.0.0.1 "$EB" || fail "the two applications did not start"
sclient "$EA" -ign_eof -sess_out "$T/a.sess" </dev/null >"$T/a.out" 2>&1 || true
[[ -s $T/a.sess ]] || fail "no session saved from application A's connection"
sclient "$EB" -ign_eof -sess_in "$T/a.sess" </dev/null >"$T/b.out" 2>&1 || true
assert_contains "$T/b.out" "hello from an application" "application B's data"
assert_eq Reused "$(sclient_state "$T/b.out")" "a session from application A's connection, offered to application B"
wait_until 5 grep -q "handed back" "$T/appB.log" || fail "application B printed no result"
assert_contains "$T/appB.log" "resumed=1" "application B's result says resumed"
note "cross-process resumption: a session from application A (pid-separate) resumed on application B"

# ---- sendfile() on the returned descriptor
EP2=$(free_port)
gen_file "$T/file.bin" $((1 << 20)) 5
"$EXAMPLE" -s "$SOCK" -f "$T/file.bin" -n 1 "$EP2" >"$T/example2.log" 2>&1 &
track "$!"
wait_port 127.0.0.1 "$EP2" || fail "the sendfile example did not start"
sclient "$EP2" -quiet </dev/null >"$T/file.out" 2>"$T/file.err" || true
assert_file_sha "$T/file.out" "$(sha_of "$T/file.bin")" "1 MiB sent with sendfile() on the returned descriptor"
note "sendfile(): 1 MiB byte-exact ($(grep -o 'ktls_tx=[01] ktls_rx=[01] relay=[01]' "$T/example2.log"))"

# ---- bad input, each with its status
expect_status() { handoff_expect_status "$SOCK" "$@"; } # CASE STATUS WHAT [ARGS...]
expect_status notsocket 2 "a pipe"
expect_status listening 2 "a listening socket"
expect_status unconnected 2 "an unconnected socket"
expect_status nofd 1 "no descriptor"
expect_status short 1 "a short request"
expect_status badmagic 1 "a wrong magic"
expect_status profile 3 "an unknown profile" nosuch 127.0.0.1 "$LISTEN_PORT"

# A peer that never sends a ClientHello: the handshake times out, the application is told.
SILENT=$(free_port)
"$PYTHON" -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); c,_=s.accept(); time.sleep(60)' "$SILENT" &
track "$!"
wait_port 127.0.0.1 "$SILENT"
out=$("$PYTHON" "$HO" "$SOCK" server 127.0.0.1 "$SILENT" </dev/null)
[[ $("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["status"])' "$out") == 5 ]] ||
	fail "silent peer: expected status 5 (timeout), got $out"
note "a peer that never speaks: timeout reply ($out)"

# The application hangs up while its handshake runs: ktlsd drops the handshake.
SILENT2=$(free_port)
"$PYTHON" -c 'import socket,sys,time; s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(); c,_=s.accept(); time.sleep(60)' "$SILENT2" &
track "$!"
wait_port 127.0.0.1 "$SILENT2"
"$PYTHON" "$HO" "$SOCK" hangup 127.0.0.1 "$SILENT2" </dev/null >/dev/null
wait_log "$KTLSD_LOG" "the application went away" 5 || fail "ktlsd did not notice the application hanging up"
note "an application hanging up mid-handshake: its handshake dropped at once"

wait_until 10 _fds_back || fail "ktlsd holds $(fds) descriptors, $base_fds before the handoffs"
note "descriptors back to the baseline ($base_fds)"
assert_ktlsd_alive
note "ok"
