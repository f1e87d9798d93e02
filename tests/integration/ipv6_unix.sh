#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ipv6_unix.sh - an IPv6 listener ([::1]:PORT) and a unix-socket backend
# ("unix:/path"): curl -g https://[::1]:PORT/ (verified by the IP:::1 SAN),
# s_client -connect [::1]:PORT, an IPv4 listener to the same unix backend, and
# a 1 MiB upload/download across IPv6 -> unix.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd curl openssl
have_ipv6 || skip "no IPv6 loopback (::1) on this machine"

SOCK=$T/backend.sock
start_backend --listen "unix:$SOCK" http
wait_unix "$SOCK" 10 || fail "the unix backend socket $SOCK is not listening"
P6=$(free_port)
write_config "$T/k.conf" backend="unix:$SOCK" alpn=http/1.1 listen="[::1]:$P6" \
	listen2="127.0.0.1:$(free_port)"
start_ktlsd "$T/k.conf"
P4=$LISTEN2_PORT
port_listening ::1 "$P6" || fail "ktlsd does not listen on [::1]:$P6"

# curl over IPv6, by address (the certificate has IP:::1) and by name.
rc=0
to 30 curl -sS --fail --http1.1 -g --cacert "$CA" "https://[::1]:$P6/" -o "$T/v6.html" 2>"$T/v6.err" || rc=$?
assert_rc 0 "$rc" "curl https://[::1]:$P6/" "$T/v6.err"
assert_contains "$T/v6.html" "Hello from the backend" "curl over IPv6 to a unix backend"
rc=0
to 30 curl -sS --fail --http1.1 --cacert "$CA" --resolve "localhost:$P6:::1" "https://localhost:$P6/" \
	-o "$T/v6name.html" 2>"$T/v6name.err" || rc=$?
assert_rc 0 "$rc" "curl https://localhost:$P6/ resolved to ::1" "$T/v6name.err"

# s_client over IPv6.
rc=0
printf 'GET / HTTP/1.0\r\n\r\n' | to 20 "$OPENSSL" s_client -connect "[::1]:$P6" -CAfile "$CA" \
	-verify_return_error -verify_ip ::1 -ign_eof >"$T/sc6.out" 2>&1 || rc=$?
assert_rc 0 "$rc" "s_client -connect [::1]:$P6" "$T/sc6.out"
assert_contains "$T/sc6.out" "Hello from the backend" "s_client over IPv6"

# IPv4 listener to the same unix backend.
probe_ok "$P4" "$T/v4.out" "IPv4 listener -> unix backend" -servername localhost

# 1 MiB both ways over [::1] -> unix.
N=$((1 << 20))
rc=0
to 60 curl -sS --fail --http1.1 -g --cacert "$CA" "https://[::1]:$P6/size/$N?seed=6" -o "$T/down.bin" 2>"$T/down.err" || rc=$?
assert_rc 0 "$rc" "1 MiB download over IPv6 -> unix" "$T/down.err"
assert_file_sha "$T/down.bin" "$(gen_sha "$N" 6)" "1 MiB download over IPv6 -> unix"
gen_file "$T/up.bin" "$N" 16
rc=0
to 60 curl -sS --fail --http1.1 -g --cacert "$CA" --data-binary "@$T/up.bin" "https://[::1]:$P6/upload" \
	-o "$T/up.txt" 2>"$T/up.err" || rc=$?
assert_rc 0 "$rc" "1 MiB upload over IPv6 -> unix" "$T/up.err"
assert_eq "$(sha_of "$T/up.bin")" "$(tr -d '\n' <"$T/up.txt")" "1 MiB upload over IPv6 -> unix: sha256 at the backend"

# The backend saw unix-socket peers (no TCP address), i.e. ktlsd really used the socket.
assert_match "$BACKEND_LOG" 'accepted from unix' "backend connections came over the unix socket"
assert_ktlsd_alive
note "ok"
