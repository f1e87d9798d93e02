#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# limits.sh - connection limits and per-listener socket options, seen from outside:
#  1. a listener with max_connections = 3 holds 3 s_client connections; a 4th client's
#     TCP connection is established (backlog, or held by ktlsd untouched) but its
#     handshake waits; once one of the 3 ends, the 4th completes; accept_paused counts;
#  2. the global max_connections = 2 spans listeners: one connection held on each, a third
#     on either waits, and goes on when one ends;
#  3. tcp_keepalive and mark reach the accepted sockets (ss: timer:(keepalive,...) and
#     fwmark) and mark the backend connection too.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl ss

start_backend echo
ECHO=$BACKEND_ADDR
# listener_opt FILE LISTENER-INDEX(1|2) SETTING: add a setting to that listener's group
listener_opt() {
	awk -v n="$2" -v opt="$3" '/^    buffer_size = / { k++; if (k == n) { print; print "    " opt ";"; next } } { print }' \
		"$1" >"$1.new" && mv "$1.new" "$1"
}
handshaken() { grep -q '^New, TLS' "$1" 2>/dev/null; }
# waiting_client NAME PORT: an s_client that stays connected for 20 s once through
waiting_client() {
	{ sleep 20; } | sclient "$2" -servername localhost >"$T/$1.out" 2>&1 &
	track $!
}

# ---- 1. a listener's own limit
write_config "$T/k.conf" backend="$ECHO" workers=2 listen2="127.0.0.1:$(free_port)" backend2="$ECHO"
listener_opt "$T/k.conf" 1 "max_connections = 3"
start_ktlsd "$T/k.conf"
for i in 1 2 3; do held_start "a$i" sclient "$LISTEN_PORT" /dev/null; done
wait_until 10 eval '(($(client_ports "$LISTEN_PORT" | wc -l) >= 3))' || fail "3 connections did not open"
sleep 1
waiting_client w4 "$LISTEN_PORT"
sleep 2
handshaken "$T/w4.out" && { grep -E "access|accept|limit" "$KTLSD_LOG"; cat "$T/w4.out"; fail "a 4th connection got its handshake past max_connections = 3"; }
(($(client_ports "$LISTEN_PORT" | wc -l) >= 4)) || fail "the 4th client's TCP connection should be established (it waits)"
[[ $(ktlsd_stats accept_paused) -ge 1 ]] || fail "accept_paused not counted"
held_finish a1
wait_until 5 handshaken "$T/w4.out" || fail "the 4th client did not get its handshake once one of 3 ended"
say "max_connections = 3: the 4th waited in the backlog, then got in (accept_paused $(ktlsd_stats accept_paused))"
stop_ktlsd

# ---- 2. the global limit spans listeners
write_config "$T/g.conf" backend="$ECHO" listen2="127.0.0.1:$(free_port)" backend2="$ECHO" \
	extra="max_connections = 2;"
start_ktlsd "$T/g.conf"
held_start g1 sclient "$LISTEN_PORT" /dev/null
held_start g2 sclient "$LISTEN2_PORT" /dev/null
wait_until 10 eval '(($(client_ports "$LISTEN_PORT" | wc -l) + $(client_ports "$LISTEN2_PORT" | wc -l) >= 2))' ||
	fail "the 2 connections did not open"
sleep 1
waiting_client g3 "$LISTEN2_PORT"
sleep 2
handshaken "$T/g3.out" && fail "a 3rd connection got in past the global max_connections = 2"
held_finish g1
wait_until 5 handshaken "$T/g3.out" || fail "the 3rd client did not get in once one of 2 ended"
say "global max_connections = 2 over two listeners: the 3rd waited, then got in"
stop_ktlsd

# ---- 3. socket options
write_config "$T/o.conf" backend="$ECHO"
listener_opt "$T/o.conf" 1 "tcp_keepalive = 30"
listener_opt "$T/o.conf" 1 "mark = 42"
start_ktlsd "$T/o.conf"
held_start o1 sclient "$LISTEN_PORT" /dev/null
wait_until 10 eval '[[ -n $(client_ports "$LISTEN_PORT") ]]' || fail "no connection"
sleep 0.5
ss -tnoe state established "( sport = :$LISTEN_PORT )" >"$T/ss-client.txt"
ss -tnoe state established "( dport = :$BACKEND_PORT )" >"$T/ss-backend.txt"
assert_contains "$T/ss-client.txt" "timer:(keepalive," "keepalive on the accepted socket"
assert_contains "$T/ss-client.txt" "fwmark:0x2a" "the mark on the accepted socket"
assert_contains "$T/ss-backend.txt" "fwmark:0x2a" "the mark on the backend connection"
say "tcp_keepalive = 30 and mark = 42: $(grep -o 'timer:([^)]*)' "$T/ss-client.txt" | head -n1), fwmark:0x2a both sides"
held_finish o1
note "ok"
