#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# half_close.sh - TLS half-close through ktlsd, in both directions, with real clients.
#
# What the clients do (measured with GnuTLS 3.7, OpenSSL 3.0, socat 1.7.4, curl 7.88):
#   gnutls-cli: on stdin EOF it sends close_notify (gnutls_bye(GNUTLS_SHUT_WR)) and
#     keeps reading until the server closes: a true client-side half-close.
#     When the server sends close_notify it logs "Peer has closed the GnuTLS
#     connection" and exits 0 (a bare TCP EOF gives "non-properly terminated", 1).
#   socat OPENSSL: on stdin EOF it sends close_notify and keeps relaying the other
#     way for up to -t seconds; after the server's close_notify it keeps sending
#     what stdin still has.  So it exercises both half-close directions.
#   openssl s_client: on stdin EOF it sends close_notify and exits at once without
#     reading the rest (a full close, not a half-close); with -ign_eof (or -quiet) it
#     never sends close_notify.  It is used here only for the server->client direction:
#     with -ign_eof it reads until the server's close_notify ("closed", exit 0).
#   curl: HTTP; never half-closes, not used here.
#
# Checks:
#  1. client -> server half-close: a client sends 4 MiB then close_notify and still
#     receives the complete echo (echo backend: finishes echoing after its EOF, then
#     closes), then ktlsd's close_notify.  gnutls-cli and socat.
#  2. server -> client: the backend sends 2 MiB then FIN while the client keeps its
#     side open: the client gets all 2 MiB, then close_notify, and exits on its own.
#     gnutls-cli and s_client -ign_eof.
#  3. after the backend's FIN (and ktlsd's close_notify) the client keeps sending:
#     socat sends 256 KiB 2 s after it got everything; the backend must receive it all.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli socat

ECHO_N=$((4 << 20))
SRC_N=$((2 << 20))
SRC_SEED=42
UP_N=$((256 << 10))

start_backend echo
ECHO=$BACKEND_ADDR
ECHO_LOG=$BACKEND_LOG
start_backend source "$SRC_N" "$SRC_SEED"
SRC=$BACKEND_ADDR
SRC_LOG=$BACKEND_LOG
write_config "$T/k.conf" backend="$ECHO" listen2="127.0.0.1:$(free_port)" backend2="$SRC"
start_ktlsd "$T/k.conf"
PE=$LISTEN_PORT
PSRC=$LISTEN2_PORT
SOCAT_TLS="cafile=$CA,commonname=localhost,snihost=localhost"

gen_file "$T/payload.bin" "$ECHO_N" 7
want=$(sha_of "$T/payload.bin")

# ---- 1. client half-close, gnutls-cli
rc=0
gnutls "$PE" localhost --logfile="$T/g1.log" <"$T/payload.bin" >"$T/g1.out" 2>&1 || rc=$?
assert_rc 0 "$rc" "gnutls-cli: send 4 MiB, close_notify, read the echo" "$T/g1.log"
assert_eq "$ECHO_N" "$(size_of "$T/g1.out")" "gnutls-cli half-close: echoed bytes"
assert_file_sha "$T/g1.out" "$want" "gnutls-cli half-close: echo"
assert_contains "$T/g1.log" "Peer has closed the GnuTLS connection" \
	"gnutls-cli half-close: ktlsd's close_notify after the echo"
wait_log "$ECHO_LOG" "echo: peer EOF after $ECHO_N bytes" 10 ||
	fail "echo backend never saw EOF after $ECHO_N bytes (ktlsd did not shut down its write side)"
note "1. gnutls-cli: sent 4 MiB + close_notify, got the full echo + close_notify"

# ---- 1b. the same with socat
rc=0
to 60 socat -t "$(scaled 30)" - "OPENSSL:127.0.0.1:$PE,$SOCAT_TLS" <"$T/payload.bin" >"$T/s1.out" 2>"$T/s1.err" || rc=$?
assert_rc 0 "$rc" "socat: send 4 MiB, close_notify, read the echo" "$T/s1.err"
assert_file_sha "$T/s1.out" "$want" "socat half-close: echo"
note "1b. socat: sent 4 MiB + close_notify, got the full echo"

# ---- 2. server half-close: the backend sends 2 MiB and FIN; the client's stdin stays open.
want_src=$(gen_sha "$SRC_N" "$SRC_SEED")
mkfifo "$T/hold"
sleep "$(scaled 60)" >"$T/hold" &
holder=$!
track "$holder"
t0=$(now_ms)
rc=0
gnutls "$PSRC" localhost --logfile="$T/g2.log" <"$T/hold" >"$T/g2.out" 2>&1 || rc=$?
elapsed=$(($(now_ms) - t0))
kill "$holder" 2>/dev/null || true
assert_rc 0 "$rc" "gnutls-cli receiving 2 MiB then the server's close" "$T/g2.log"
assert_file_sha "$T/g2.out" "$want_src" "gnutls-cli: data before the server's close"
assert_contains "$T/g2.log" "Peer has closed the GnuTLS connection" \
	"gnutls-cli: ktlsd sent close_notify after the backend's FIN"
assert_le "$elapsed" "$(($(scaled 20 | cut -d. -f1) * 1000))" \
	"gnutls-cli exited on ktlsd's close_notify (ms), not when its stdin ended"
note "2. gnutls-cli: 2 MiB then close_notify after the backend's FIN (${elapsed} ms)"

rc=0
t0=$(now_ms)
sclient "$PSRC" -ign_eof -servername localhost </dev/null >"$T/sc2.out" 2>"$T/sc2.err" || rc=$?
assert_rc 0 "$rc" "s_client -ign_eof receiving 2 MiB then the server's close" "$T/sc2.err"
assert_match "$T/sc2.out" '^closed$' "s_client: close_notify from ktlsd after the backend's FIN"
note "2b. s_client -ign_eof: saw close_notify after $(($(now_ms) - t0)) ms"

# ---- 3. after the backend's FIN the client still sends; the backend gets it all.
gen_file "$T/up.bin" "$UP_N" 8
want_up=$(sha_of "$T/up.bin")
before=$(count_log "$SRC_LOG" 'after FIN received')
rc=0
{
	sleep "$(scaled 2)"
	cat "$T/up.bin"
} | to 60 socat -t "$(scaled 30)" - "OPENSSL:127.0.0.1:$PSRC,$SOCAT_TLS" >"$T/s3.out" 2>"$T/s3.err" || rc=$?
assert_rc 0 "$rc" "socat: read 2 MiB, then keep sending after the server's close" "$T/s3.err"
assert_file_sha "$T/s3.out" "$want_src" "socat: data before the server's close"
wait_until 10 _log_count_above "$SRC_LOG" 'after FIN received' "$before" ||
	fail "source backend never saw the client's EOF after its own FIN"
line=$(grep 'after FIN received' "$SRC_LOG" | tail -n1)
[[ $line == *"received $UP_N bytes sha256 $want_up (eof)"* ]] || {
	show_tail "$SRC_LOG" 10
	fail "client->backend after the backend's FIN: expected $UP_N bytes sha256 $want_up, backend logged: $line"
}
note "3. socat: 256 KiB sent after ktlsd's close_notify reached the backend intact"

assert_ktlsd_alive
note "ok"
