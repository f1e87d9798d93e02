#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# relay_sizes.sh - byte-exact relay of deterministic pseudo-random payloads of
# 0 B, 1 B, 16383, 16384, 16385 (around one TLS record), 1 MiB and 16 MiB:
#   download: backend (http, GET /size/N) -> ktlsd -> curl, s_client, gnutls-cli
#             (gnutls-cli up to 1 MiB: it writes what it receives to stdout one
#             byte per write(2), so 16 MiB would time the machine's syscalls, not
#             ktlsd, and overrun any fixed limit on a busy machine)
#   upload:   curl POST -> ktlsd -> backend (http), which answers the sha256;
#             gnutls-cli -> ktlsd -> backend (sink), which answers the sha256
#             after the client's close_notify (gnutls-cli sends it on stdin EOF).
# The sink listener uses the smallest buffer_size (4096) to exercise flow control.
# Every comparison is by sha256 and size.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli curl

SIZES=(0 1 16383 16384 16385 1048576 16777216)
[[ -n ${RELAY_SIZES:-} ]] && read -r -a SIZES <<<"$RELAY_SIZES"

start_backend http
HTTP=$BACKEND_ADDR
start_backend sink
SINK=$BACKEND_ADDR
write_config "$T/k.conf" backend="$HTTP" alpn=http/1.1 \
	listen2="127.0.0.1:$(free_port)" backend2="$SINK" buffer_size2=4096
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
PS=$LISTEN2_PORT

for n in "${SIZES[@]}"; do
	seed=$((n % 9973 + 11))
	want=$(gen_sha "$n" "$seed")
	gen_file "$T/up-$n.bin" "$n" "$seed"

	# --- downloads
	rc=0
	curl_k "$P" "/size/$n?seed=$seed" -o "$T/curl-$n.bin" 2>"$T/curl-$n.err" || rc=$?
	assert_rc 0 "$rc" "curl download of $n bytes" "$T/curl-$n.err"
	assert_eq "$n" "$(size_of "$T/curl-$n.bin")" "curl download of $n bytes: size"
	assert_file_sha "$T/curl-$n.bin" "$want" "curl download of $n bytes"

	rc=0
	printf 'GET /size/%s?seed=%s HTTP/1.0\r\n\r\n' "$n" "$seed" |
		sclient "$P" -quiet -servername localhost >"$T/sc-$n.raw" 2>"$T/sc-$n.err" || rc=$?
	assert_rc 0 "$rc" "s_client download of $n bytes" "$T/sc-$n.err"
	read -r status clen < <(http_body "$T/sc-$n.raw" "$T/sc-$n.bin")
	assert_eq "HTTP/1.1_200_OK $n" "$status $clen" "s_client download of $n bytes: response"
	assert_eq "$n" "$(size_of "$T/sc-$n.bin")" "s_client download of $n bytes: body size"
	assert_file_sha "$T/sc-$n.bin" "$want" "s_client download of $n bytes"

	if ((n <= 1048576)); then
		rc=0
		printf 'GET /size/%s?seed=%s HTTP/1.0\r\n\r\n' "$n" "$seed" |
			gnutls "$P" localhost --logfile="$T/gd-$n.log" >"$T/gd-$n.raw" 2>&1 || rc=$?
		assert_rc 0 "$rc" "gnutls-cli download of $n bytes" "$T/gd-$n.log"
		read -r status clen < <(http_body "$T/gd-$n.raw" "$T/gd-$n.bin")
		assert_eq "HTTP/1.1_200_OK $n" "$status $clen" "gnutls-cli download of $n bytes: response"
		assert_file_sha "$T/gd-$n.bin" "$want" "gnutls-cli download of $n bytes"
	fi

	# --- uploads
	rc=0
	curl_k "$P" /upload --data-binary "@$T/up-$n.bin" -H 'Content-Type: application/octet-stream' \
		-o "$T/curl-up-$n.txt" 2>"$T/curl-up-$n.err" || rc=$?
	assert_rc 0 "$rc" "curl upload of $n bytes" "$T/curl-up-$n.err"
	assert_eq "$want" "$(tr -d '\n' <"$T/curl-up-$n.txt")" "curl upload of $n bytes: sha256 the backend received"

	rc=0
	gnutls "$PS" localhost --logfile="$T/gu-$n.log" <"$T/up-$n.bin" >"$T/gu-$n.txt" 2>&1 || rc=$?
	assert_rc 0 "$rc" "gnutls-cli upload of $n bytes" "$T/gu-$n.log"
	assert_eq "$want" "$(tr -d '\n' <"$T/gu-$n.txt")" "gnutls-cli upload of $n bytes: sha256 the sink received"

	rm -f "$T"/*-"$n".bin "$T"/*-"$n".raw
	note "$n bytes: curl down/up, s_client down, gnutls-cli $( ((n <= 1048576)) && echo down/up || echo up) ok"
done

assert_ktlsd_alive
note "ok"
