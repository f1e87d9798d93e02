#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# idle_park.sh - a userspace-path connection that goes quiet gives its buffers back
# (relay_parked) and takes them again when either side speaks, with redis-server as the
# backend and real clients:
#  1. request, pause, request: s_client sends inline redis commands with 1.5 s pauses;
#     each pause parks the connection and every reply still arrives, in order;
#  2. the backend speaks first after a pause: redis-cli --tls SUBSCRIBEs and sits quiet
#     (parked); a PUBLISH made directly to redis reaches it through ktlsd;
#  3. idle_timeout on a parked connection still ends it with close_notify (gnutls-cli
#     reports "Peer has closed the GnuTLS connection").
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli redis-server redis-cli

RPORT=$(free_port)
redis-server --port "$RPORT" --bind 127.0.0.1 --save '' --appendonly no \
	--dir "$T" >"$T/redis.log" 2>&1 </dev/null &
track $!
wait_port 127.0.0.1 "$RPORT" 10 || { show_tail "$T/redis.log"; fail "redis-server did not start"; }

IDLE=$(scaled_int 3)
write_config "$T/k.conf" backend="127.0.0.1:$RPORT" alpn=none ktls=false idle_timeout="$IDLE"
start_ktlsd "$T/k.conf"

parked() { ktlsd_stats relay_parked; }
parked_above() { (($(parked) > $1)); }

# ---- 1. request, pause, request
p0=$(parked)
{
	sleep 0.3
	printf 'PING\r\n'
	sleep 1.5
	printf 'SET ktlsd parked\r\n'
	sleep 1.5
	printf 'GET ktlsd\r\n'
	sleep 0.5
} | sclient "$LISTEN_PORT" -quiet >"$T/rr.out" 2>"$T/rr.err" || {
	cat "$T/rr.err"
	fail "s_client with pauses"
}
tr -d '\r' <"$T/rr.out" >"$T/rr.txt"
[[ $(tr '\n' ' ' <"$T/rr.txt") == "+PONG +OK \$6 parked " ]] ||
	fail "replies after pauses: got '$(tr '\n' ' ' <"$T/rr.txt")'"
p1=$(parked)
((p1 - p0 >= 2)) || fail "two pauses should park the connection twice (relay_parked $p0 -> $p1)"
say "request/pause/request: all replies in order; parked $((p1 - p0)) times"

# ---- 2. the backend speaks first to a parked connection
to 20 redis-cli --tls --cacert "$CA" --sni localhost -h 127.0.0.1 -p "$LISTEN_PORT" \
	SUBSCRIBE news >"$T/sub.out" 2>"$T/sub.err" &
sub=$!
track "$sub"
wait_until 10 grep -q '^news$' "$T/sub.out" || {
	cat "$T/sub.err"
	fail "redis-cli --tls did not subscribe"
}
wait_until 5 parked_above "$p1" || fail "the subscriber's connection did not park"
n=$(redis-cli -h 127.0.0.1 -p "$RPORT" PUBLISH news "after the pause")
[[ $n == 1 ]] || fail "PUBLISH reached $n subscribers, want 1"
wait_until 5 grep -q '^after the pause$' "$T/sub.out" ||
	fail "the message published to a parked subscriber did not arrive"
kill "$sub" 2>/dev/null
say "a PUBLISH reached the parked subscriber"

# ---- 3. idle_timeout while parked: close_notify still goes out
{
	printf 'PING\r\n'
	sleep $((IDLE + 2))
} | gnutls "$LISTEN_PORT" localhost >"$T/gt.out" 2>&1 || {
	cat "$T/gt.out"
	fail "gnutls-cli on a connection ended by idle_timeout"
}
assert_match "$T/gt.out" "^\+PONG" "reply before the pause"
assert_match "$T/gt.out" "Peer has closed the GnuTLS connection" "close_notify after idle_timeout"
took=$(sed -n 's/.* access .*duration_ms=\([0-9]*\) .*end="idle timeout".*/\1/p' "$KTLSD_LOG" | tail -n1)
[[ -n $took ]] && ((took < IDLE * 1000 + 1500)) ||
	fail "the parked connection should end at idle_timeout (${IDLE} s), took '${took}' ms"
say "parked connection ended by idle_timeout after ${took} ms, with close_notify"

assert_ktlsd_alive
note "ok"
