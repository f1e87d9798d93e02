#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# concurrency.sh - 200 TLS connections open at the same time through ktlsd to an
# echo backend, each sending its own pseudo-random payload (1 B .. 256 KiB) and
# checking it gets back exactly its own bytes (driver: tests/tools/tlsclients.py,
# python's ssl module, since no stock client opens hundreds of verified
# connections at once); then 8 parallel curl downloads of different sizes and
# seeds, each compared by sha256; then ktlsd is still serving.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd curl
N=${CONCURRENCY_N:-200}

start_backend echo
ECHO=$BACKEND_ADDR
start_backend http
HTTP=$BACKEND_ADDR
write_config "$T/k.conf" workers=2 backend="$ECHO" \
	listen2="127.0.0.1:$(free_port)" backend2="$HTTP" alpn2=http/1.1
start_ktlsd "$T/k.conf"

rc=0
to 180 "$PYTHON" "$TOOLS/tlsclients.py" --port "$LISTEN_PORT" --ca "$CA" -n "$N" \
	--timeout "$(scaled 90)" >"$T/clients.out" 2>&1 || rc=$?
cat "$T/clients.out"
assert_rc 0 "$rc" "$N concurrent echo clients" "$T/clients.out"
assert_match "$T/clients.out" "^clients: $N ok, 0 failed, max open $N," "$N concurrent echo clients"

# Parallel curls, each its own size and seed.
pids=()
for i in 1 2 3 4 5 6 7 8; do
	n=$((i * 300000 + i))
	curl_k "$LISTEN2_PORT" "/size/$n?seed=$i" -o "$T/c$i.bin" 2>"$T/c$i.err" &
	pids+=($!)
	track "$!"
done
for i in 1 2 3 4 5 6 7 8; do
	wait_exit "${pids[$((i - 1))]}" 120 || fail "curl $i did not finish"
	assert_rc 0 "$EXIT_RC" "parallel curl $i" "$T/c$i.err"
	assert_file_sha "$T/c$i.bin" "$(gen_sha $((i * 300000 + i)) "$i")" "parallel curl $i"
done
note "8 parallel curl downloads byte-exact"

assert_ktlsd_alive
probe_ok "$LISTEN2_PORT" "$T/after.out" "a client after the load" -servername localhost
# every connection was closed: ktlsd logs no leftovers when it stops
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
note "ok"
