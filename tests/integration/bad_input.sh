#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# bad_input.sh - ktlsd survives bad clients and bad backends, and keeps serving:
#   - garbage instead of a ClientHello (random bytes, a plain-HTTP request) is
#     closed promptly;
#   - a client that sends half a ClientHello and stalls, and one that connects and
#     says nothing, are cut after handshake_timeout (2 s here), not much later and
#     not earlier;
#   - a backend that refuses the connection (nothing listening) and a backend that
#     resets it: the client sees a clean TLS close (s_client "closed", gnutls-cli
#     "Peer has closed", curl "empty reply"), promptly;
#   - clients that connect and leave, or abort a download midway;
# and after each, a normal client is still served by the same ktlsd process.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli curl socat

HS_TIMEOUT=2
start_backend http
HTTP=$BACKEND_ADDR
start_backend reset
RESET=$BACKEND_ADDR
NOBODY=127.0.0.1:$(free_port) # nothing listens there
write_config "$T/k.conf" backend="$HTTP" handshake_timeout="$HS_TIMEOUT" connect_timeout=2 \
	listen2="127.0.0.1:$(free_port)" backend2="$NOBODY" \
	listen3="127.0.0.1:$(free_port)" backend3="$RESET"
start_ktlsd "$T/k.conf"
GOOD=$LISTEN_PORT
declare -A BAD_PORT=([refused]=$LISTEN2_PORT [reset]=$LISTEN3_PORT)
PID0=$KTLSD_PID

still_serving() { # WHAT
	assert_ktlsd_alive "$PID0"
	probe_ok "$GOOD" "$T/after-${1// /_}.out" "a normal client after $1" -servername localhost
}

# rawclient MODE: a plain TCP client (python) that sends MODE's bytes to the good
# listener and waits (bounded) for ktlsd to close; prints
# "closed <ms> <eof|reset> <bytes received> <first bytes hex>" or "open <ms>".
rawclient() {
	"$PYTHON" - "$GOOD" "$1" "$(scaled 30)" <<'PYEOF'
import os, random, socket, sys, time
port, mode, limit = int(sys.argv[1]), sys.argv[2], float(sys.argv[3])
rng = random.Random(12345)
if mode == "garbage":
    data = b"\x00" + rng.randbytes(4095)     # never a TLS record header
elif mode == "http":
    data = b"GET / HTTP/1.1\r\nHost: localhost\r\n\r\n"
elif mode == "half-hello":
    # TLS record header announcing a 512-byte ClientHello, then only its first 60 bytes
    body = b"\x01\x00\x01\xfc\x03\x03" + rng.randbytes(32) + b"\x00" + b"\x00\x20" + rng.randbytes(18)
    data = b"\x16\x03\x01\x02\x00" + body[:60]
elif mode == "nothing":
    data = b""
else:
    sys.exit("unknown mode " + mode)
s = socket.create_connection(("127.0.0.1", port), timeout=limit)
t0 = time.monotonic()
if data:
    s.sendall(data)
got = b""
how = None
try:
    while True:
        d = s.recv(65536)
        if not d:
            how = "eof"
            break
        got += d
except ConnectionResetError:
    how = "reset"
except socket.timeout:
    pass
ms = int((time.monotonic() - t0) * 1000)
if how:
    print("closed", ms, how, len(got), got[:16].hex() or "-")
else:
    print("open", ms)
PYEOF
}

# ---- garbage instead of a ClientHello
for mode in garbage http; do
	read -r state ms how nbytes head < <(rawclient "$mode")
	note "$mode: $state after ${ms} ms (${how:-}, ${nbytes:-0} bytes back: ${head:-})"
	assert_eq closed "$state" "$mode instead of a ClientHello: connection state"
	assert_le "$ms" "$(($(scaled 5 | cut -d. -f1) * 1000))" "$mode: closed within 5 s (ms)"
	still_serving "$mode"
done

# ---- half a ClientHello, then silence; and silence from the start
lo=$((HS_TIMEOUT * 1000 - 500))
hi=$(awk -v t="$HS_TIMEOUT" -v s="$TIMEOUT_SCALE" 'BEGIN { printf "%d", (t + 2) * s * 1000 }')
for mode in half-hello nothing; do
	read -r state ms how nbytes head < <(rawclient "$mode")
	note "$mode: $state after ${ms} ms (${how:-})"
	assert_eq closed "$state" "$mode: connection state after waiting $(scaled 30) s"
	((ms >= lo)) || fail "$mode: cut after $ms ms, before handshake_timeout ($HS_TIMEOUT s)"
	((ms <= hi)) || fail "$mode: cut after $ms ms, expected within handshake_timeout $HS_TIMEOUT s + 2 s slack ($hi ms)"
	still_serving "$mode"
done

# ---- backend refuses / resets
for which in refused reset; do
	port=${BAD_PORT[$which]}
	t0=$(now_ms)
	probe "$port" "$T/$which.out" -servername localhost
	ms=$(($(now_ms) - t0))
	assert_not_contains "$T/$which.out" "Hello from the backend" "backend $which"
	if [[ -n $(sclient_proto "$T/$which.out") ]]; then
		# handshake done, then ktlsd must close the TLS session properly
		assert_rc 0 "$PROBE_RC" "backend $which: s_client after the handshake (want close_notify)" "$T/$which.out"
		assert_match "$T/$which.out" '^closed$' "backend $which: close_notify to the client"
		note "backend $which: s_client got a handshake then close_notify after $ms ms"
	else
		err=$(sclient_error "$T/$which.out")
		[[ $err == *alert* ]] || {
			show_tail "$T/$which.out" 20
			fail "backend $which: handshake cut without a TLS alert (a bare TCP close): $err"
		}
		note "backend $which: handshake refused with $err after $ms ms"
	fi
	assert_le "$ms" "$(($(scaled 5 | cut -d. -f1) * 1000))" "backend $which: s_client done within 5 s (ms)"

	rc=0
	printf 'GET / HTTP/1.0\r\n\r\n' | gnutls "$port" localhost --logfile="$T/$which-g.log" >"$T/$which-g.out" 2>&1 || rc=$?
	assert_not_contains "$T/$which-g.out" "Hello from the backend" "backend $which (gnutls-cli)"
	assert_not_contains "$T/$which-g.log" "non-properly terminated" "backend $which: gnutls-cli saw a bare TCP close"
	note "backend $which: gnutls-cli exit $rc: $(grep -E 'Peer has closed|alert|Fatal' "$T/$which-g.log" | head -n1)"

	rc=0
	curl_k "$port" / -o /dev/null 2>"$T/$which-curl.err" || rc=$?
	((rc != 0)) || fail "backend $which: curl succeeded"
	((rc != 28)) || fail "backend $which: curl timed out instead of seeing the close"
	note "backend $which: curl exit $rc: $(cat "$T/$which-curl.err")"
	still_serving "backend $which"
done

# ---- connect and leave; abort a download midway
for i in 1 2 3 4 5; do
	to 10 socat -u /dev/null "TCP:127.0.0.1:$GOOD" || true
done
still_serving "connect-and-close clients"
rc=0
curl_k "$GOOD" "/size/$((16 << 20))" --limit-rate 200k --max-time "$(scaled 1)" -o /dev/null 2>/dev/null || rc=$?
((rc == 28)) || note "aborted download: curl exit $rc (expected 28, timeout)"
still_serving "an aborted download"

stop_ktlsd "$PID0"
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
note "ok"
