#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# hello_deadline.sh - client_hello_timeout, seen from outside:
#  1. 200 clients that send part of a ClientHello and 20 that send nothing are all cut
#     at client_hello_timeout (1 s), long before handshake_timeout (30 s), while 50 real
#     handshakes (curl) on the same listener all complete;
#  2. clients whose ClientHello is whole but who never finish get handshake_timeout (3 s),
#     not client_hello_timeout;
#  3. clients that connect and close without a byte are counted as handshake_failed_closed
#     (no SSL object is made for them), not as timeouts;
#  4. both kinds of timeout are counted: handshake_failed_timeout, and
#     handshake_timeouts_client_hello for the first kind only; the log names the
#     ClientHello timeout.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd curl

start_backend http
HTTP=$BACKEND_ADDR
HS=$(scaled_int 30)
write_config "$T/k.conf" workers=2 backend="$HTTP" alpn=http/1.1 client_hello_timeout=1 \
	handshake_timeout="$HS" listen2="127.0.0.1:$(free_port)" client_hello_timeout2=1 \
	handshake_timeout2=3
start_ktlsd "$T/k.conf"

# in_range FILE MIN MAX WHAT: every time in FILE (one per line, "closed" line aside) is
# within [MIN, MAX] seconds.
in_range() {
	local lo hi
	lo=$(grep -v '^closed' "$1" | sort -n | head -n1)
	hi=$(grep -v '^closed' "$1" | sort -n | tail -n1)
	awk -v lo="$lo" -v hi="$hi" -v a="$2" -v b="$3" 'BEGIN { exit !(lo >= a && hi <= b) }' ||
		fail "$4: cut after $lo .. $hi s, want within $2 .. $3 s"
	say "$4: cut after $lo .. $hi s"
}

# listener_stat LISTENER NAME -> the counter from the last per-listener stats line
listener_stat() {
	grep " stats listener \"$1\": " "$KTLSD_LOG" | tail -n1 | tr ' ' '\n' |
		sed -n "s/^$2=//p"
}

# ---- 1. partial and silent clients, with real handshakes beside them
to 60 "$PYTHON" "$TOOLS/stall_hello.py" 127.0.0.1 "$LISTEN_PORT" 200 partial 20 >"$T/partial.out" &
p1=$!
to 60 "$PYTHON" "$TOOLS/stall_hello.py" 127.0.0.1 "$LISTEN_PORT" 20 silent 20 >"$T/silent.out" &
p2=$!
sleep 0.3
for i in $(seq 50); do
	curl_k "$LISTEN_PORT" / -o /dev/null -w '%{time_appconnect}\n' >>"$T/curl.times" \
		2>"$T/curl.err" || { cat "$T/curl.err"; fail "handshake $i beside the stalled clients"; }
done
say "50 handshakes beside the stalled clients: p50 $(sort -n "$T/curl.times" | sed -n 25p) s," \
	"max $(sort -n "$T/curl.times" | tail -n1) s"
wait "$p1" || fail "stall_hello.py partial failed"
wait "$p2" || fail "stall_hello.py silent failed"
assert_match "$T/partial.out" "^closed 200 of 200$" "partial ClientHellos all cut"
assert_match "$T/silent.out" "^closed 20 of 20$" "silent clients all cut"
in_range "$T/partial.out" 0.9 "$(scaled 4)" "200 partial ClientHellos"
in_range "$T/silent.out" 0.9 "$(scaled 4)" "20 silent clients"

# ---- 2. a whole ClientHello, then silence: the handshake's own deadline
to 60 "$PYTHON" "$TOOLS/stall_hello.py" 127.0.0.1 "$LISTEN2_PORT" 5 hello 20 >"$T/hello.out" ||
	fail "stall_hello.py hello failed"
assert_match "$T/hello.out" "^closed 5 of 5$" "stalled handshakes all cut"
in_range "$T/hello.out" 2.9 "$(scaled 7)" "5 whole ClientHellos, never finished"

# ---- 3. clients that connect and close without a byte (health checks, scanners)
"$PYTHON" - "$LISTEN2_PORT" <<'PYEOF' || fail "connect-and-close clients"
import socket, sys
for _ in range(10):
    socket.create_connection(("127.0.0.1", int(sys.argv[1]))).close()
PYEOF
wait_log "$KTLSD_LOG" "client closed before sending anything" 10 ||
	fail "no 'client closed before sending anything' log line"

# ---- 4. counters and log
sleep 1
ktlsd_stats_refresh
assert_eq 220 "$(listener_stat main handshake_failed_timeout)" "main: handshake_failed_timeout"
assert_eq 220 "$(listener_stat main handshake_timeouts_client_hello)" \
	"main: handshake_timeouts_client_hello"
assert_eq 5 "$(listener_stat second handshake_failed_timeout)" "second: handshake_failed_timeout"
assert_eq 0 "$(listener_stat second handshake_timeouts_client_hello)" \
	"second: handshake_timeouts_client_hello"
assert_eq 10 "$(listener_stat second handshake_failed_closed)" \
	"second: connect-and-close clients counted as closed"
assert_eq 50 "$(listener_stat main handshakes_full)" "main: handshakes completed"
wait_log "$KTLSD_LOG" "ClientHello timeout" 5 || fail "no 'ClientHello timeout' log line"
assert_ktlsd_alive
say ok
