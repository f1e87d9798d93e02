#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# seccomp.sh - `seccomp = true`: each worker thread runs under a system-call allow-list.
#  1. each worker loads it and checks it: a call outside the list (getppid) is refused
#     with EPERM and the worker goes on (logged); /proc shows Seccomp: 2 (filter) on the
#     two worker threads, not on the main thread;
#  2. the workers still do all their work under it: full and resumed handshakes, HTTP
#     downloads (kernel TLS where the kernel has it: this test also runs in the kTLS VM),
#     a connection that parks and wakes, a reload, the control API's stats, a clean stop.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd curl openssl
need_ktlsctl

start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" alpn=http/1.1 workers=2 \
	extra="seccomp = true; control_socket = \"$T/ctl.sock\";"
start_ktlsd "$T/k.conf"

# ---- 1. loaded and checked
wait_until 5 eval '(($(grep -c "seccomp allow-list loaded .*getppid refused with EPERM" "$KTLSD_LOG") == 2))' ||
	fail "both workers should log their allow-list: $(grep seccomp "$KTLSD_LOG")"
filtered=0
for st in /proc/"$KTLSD_PID"/task/*/status; do
	[[ $(awk '/^Seccomp:/ { print $2 }' "$st") == 2 ]] && filtered=$((filtered + 1))
done
assert_eq 2 "$filtered" "threads under a seccomp filter (the two workers)"
[[ $(awk '/^Seccomp:/ { print $2 }' "/proc/$KTLSD_PID/status") == 0 ]] || fail "the main thread should not be filtered"
say "2 worker threads filtered, getppid refused with EPERM, the main thread not filtered"

# ---- 2. the work goes on under it
for n in 1000 300000 2000000; do
	curl_k "$LISTEN_PORT" "/size/$n?seed=$n" -o "$T/d$n.bin" || fail "curl /size/$n under seccomp"
	assert_file_sha "$T/d$n.bin" "$(gen_sha "$n" "$n")" "download of $n bytes"
done
# (s_client's exit status says how the close went, which is not the point here)
(sleep "$(scaled 1)") | sclient "$LISTEN_PORT" -servername localhost -sess_out "$T/s" >"$T/f.out" 2>&1 || true
assert_contains "$T/f.out" "New, TLS" "a full handshake under seccomp"
(sleep "$(scaled 1)") | sclient "$LISTEN_PORT" -servername localhost -sess_in "$T/s" >"$T/r.out" 2>&1 || true
assert_contains "$T/r.out" "Reused, TLS" "a resumed handshake under seccomp"
{
	printf 'GET /size/10 HTTP/1.1\r\nHost: localhost\r\n\r\n'
	sleep 1.2
	printf 'GET /size/20 HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n'
	sleep "$(scaled 2)" # s_client stops reading when its stdin ends
} | sclient "$LISTEN_PORT" -servername localhost -quiet >"$T/keep.out" 2>&1 || true
[[ $(grep -ao 'HTTP/1.1 200' "$T/keep.out" | wc -l) == 2 ]] || fail "two requests with a pause between: $(cat "$T/keep.out")"
reload_ktlsd || fail "reload under seccomp"
"$KTLSCTL" -s "$T/ctl.sock" stats >/dev/null || fail "ktlsctl stats"
curl_k "$LISTEN_PORT" / -o /dev/null || fail "curl after the reload"
assert_ktlsd_alive
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "exit status"
say "downloads, full and resumed handshakes, a paused keep-alive connection, a reload, stats and the stop: all under the filter"
note "ok"
