#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# graceful_stop.sh - SIGTERM while a slow download is in flight:
#   - ktlsd stops accepting at once (a new curl gets "connection refused"),
#   - the in-flight download (curl --limit-rate, 4 MiB) completes byte-exact,
#   - ktlsd exits 0 soon after that last connection ends (not at shutdown_timeout).
# Then: an idle connection that never ends is cut at shutdown_timeout (2 s) and
# ktlsd still exits 0; SIGINT stops an idle ktlsd with status 0 as well.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd curl openssl

SIZE=$((4 << 20))
start_backend http
HTTP=$BACKEND_ADDR
write_config "$T/k.conf" backend="$HTTP" alpn=http/1.1 shutdown_timeout=60
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT

curl_k "$P" "/size/$SIZE?seed=3" --limit-rate 1M -o "$T/slow.bin" 2>"$T/slow.err" &
slow=$!
track "$slow"
_growing() { [[ -f $T/slow.bin ]] && (($(size_of "$T/slow.bin") >= 262144)); }
wait_until 20 _growing || fail "the slow download did not start (size $(size_of "$T/slow.bin" 2>/dev/null || echo 0))"
is_running "$slow" || fail "the slow download ended before SIGTERM; make it slower"

kill -TERM "$KTLSD_PID"
t_term=$(now_ms)
note "SIGTERM sent with $(size_of "$T/slow.bin") of $SIZE bytes transferred"

# New connections are refused (the listener is closed) while the download goes on.
_closed() { ! port_listening 127.0.0.1 "$P"; }
wait_until 3 _closed ||
	fail "ktlsd still listens on port $P 3 s after SIGTERM"
rc=0
curl_k "$P" / -o /dev/null 2>"$T/new.err" || rc=$?
assert_rc 7 "$rc" "a new connection after SIGTERM (curl: 7 = connection refused)" "$T/new.err"
assert_ktlsd_alive
is_running "$slow" || note "warning: the download finished before the refusal check"

wait_exit "$slow" 60 || fail "the in-flight download did not finish within $(scaled 60) s"
t_done=$(now_ms)
assert_rc 0 "$EXIT_RC" "the in-flight download (curl)" "$T/slow.err"
assert_eq "$SIZE" "$(size_of "$T/slow.bin")" "in-flight download: size"
assert_file_sha "$T/slow.bin" "$(gen_sha "$SIZE" 3)" "in-flight download"
note "download completed byte-exact $((t_done - t_term)) ms after SIGTERM"

stop_ktlsd "$KTLSD_PID" 0 10
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after a graceful stop"
t_exit=$(now_ms)
assert_le "$((t_exit - t_done))" "$(($(scaled 3 | cut -d. -f1) * 1000))" \
	"ktlsd exits once the last connection is done (ms after the download ended)"
assert_match "$KTLSD_LOG" 'stop' "ktlsd logs the stop"
note "ktlsd exited 0, $((t_exit - t_done)) ms after the download ended"

# An idle connection does not hold ktlsd beyond shutdown_timeout.
start_backend echo
write_config "$T/k2.conf" backend="$BACKEND_ADDR" shutdown_timeout=2
start_ktlsd "$T/k2.conf"
mkfifo "$T/hold"
sleep "$(scaled 60)" >"$T/hold" &
holder=$!
track "$holder"
sclient "$LISTEN_PORT" -ign_eof -servername localhost <"$T/hold" >"$T/idle.out" 2>&1 &
idle=$!
track "$idle"
wait_log "$T/idle.out" '^New, TLS' 10 || fail "the idle client did not connect"
t0=$(now_ms)
stop_ktlsd "$KTLSD_PID" TERM 20
ms=$(($(now_ms) - t0))
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after shutdown_timeout"
((ms >= 1500)) || fail "ktlsd exited after $ms ms, before shutdown_timeout (2 s) with a connection open"
assert_le "$ms" "$(awk -v s="$TIMEOUT_SCALE" 'BEGIN { printf "%d", 5 * s * 1000 }')" \
	"ktlsd exit after SIGTERM with an idle connection (ms; shutdown_timeout 2 s + 3 s slack)"
wait_exit "$idle" 10 || fail "the idle client was not disconnected when ktlsd exited"
kill "$holder" 2>/dev/null || true
note "idle connection: ktlsd exited 0 after $ms ms (shutdown_timeout 2 s)"

# SIGINT is a graceful stop too.
start_ktlsd "$T/k2.conf"
stop_ktlsd "$KTLSD_PID" INT 10
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGINT"
note "ok"
