#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# timeouts.sh - the backend connect timeout and the idle timeout, seen by a real client.
#
#  1. connect_timeout: the backend's accept queue is full, so the kernel drops ktlsd's SYN
#     and the connect hangs. After connect_timeout the client gets close_notify
#     (s_client prints "closed"), ktlsd logs "backend connect timeout", and keeps serving.
#  2. idle_timeout: a client and a backend that both stay silent are cut after
#     idle_timeout with close_notify; a client that keeps talking is not.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl

# A listener that never accepts, its one-slot queue filled: new SYNs go unanswered.
BLACKHOLE_PORT=$(free_port)
"$PYTHON" - "$BLACKHOLE_PORT" "$(scaled_int 120)" <<'PYEOF' &
import socket, sys, time
port, life = int(sys.argv[1]), float(sys.argv[2])
srv = socket.socket(); srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind(("127.0.0.1", port)); srv.listen(0)
fillers = []
for _ in range(4):  # fills the accept queue; later ones may hang, that is the point
    s = socket.socket(); s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    fillers.append(s)
print("listening", flush=True)
time.sleep(life)
PYEOF
track $!
wait_port 127.0.0.1 "$BLACKHOLE_PORT" || fail "blackhole backend did not start"
sleep 0.5

start_backend hold
HOLD=$BACKEND_ADDR
start_backend echo
ECHO=$BACKEND_ADDR
write_config "$T/k.conf" backend="127.0.0.1:$BLACKHOLE_PORT" connect_timeout=2 idle_timeout=3 \
	listen2="127.0.0.1:$(free_port)" backend2="$HOLD" \
	listen3="127.0.0.1:$(free_port)" backend3="$ECHO"
start_ktlsd "$T/k.conf"

# silent_client PORT OUT: a client that sends nothing; prints the ms until it saw
# close_notify (s_client prints "closed"), or fails after 20 s.
silent_client() {
	local t0 deadline
	t0=$(now_ms)
	deadline=$(deadline_ms 20)
	"$OPENSSL" s_client -connect "127.0.0.1:$1" -servername localhost \
		-CAfile "$CERTS/ca.crt" -ign_eof </dev/null >"$2" 2>&1 &
	until grep -q "^closed" "$2"; do
		(($(now_ms) < deadline)) || { { show_tail "$2"; fail "no close_notify on $2"; } >&2; }
		sleep 0.05
	done
	echo $(($(now_ms) - t0))
	wait $! # s_client exits on the close_notify
}

# ---- 1. backend connect timeout
ms=$(silent_client "$LISTEN_PORT" "$T/ct.out")
((ms >= 1800 && ms < $(scaled_int 8) * 1000)) || fail "connect timeout took $ms ms, want about 2000"
wait_log "$KTLSD_LOG" "backend connect timeout" 5 || fail "no 'backend connect timeout' log line"
say "connect timeout: client got close_notify after $ms ms"

# ---- 2. idle timeout: silent both ways is cut, a talking client is not
ms=$(silent_client "$LISTEN2_PORT" "$T/idle.out")
((ms >= 2800 && ms < $(scaled_int 10) * 1000)) || fail "idle timeout took $ms ms, want about 3000"
say "idle timeout: silent client got close_notify after $ms ms"

# A client that sends a line every second for 6 s (twice the idle timeout) gets every echo.
for i in 1 2 3 4 5 6; do echo "ping $i"; sleep 1; done |
	"$OPENSSL" s_client -connect "127.0.0.1:$LISTEN3_PORT" -servername localhost \
		-CAfile "$CERTS/ca.crt" -quiet >"$T/busy.out" 2>/dev/null &
busy=$!
track "$busy"
sleep 7.5
n=$(grep -c "^ping" "$T/busy.out" || true)
assert_eq 6 "$n" "echoes received by a client active past the idle timeout"
assert_ktlsd_alive
say ok
