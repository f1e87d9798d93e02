#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# control_handoff.sh - the control API's listener commands and drain on a ktlsd that also
# runs the handoff socket (whose two internal listeners sit after the file's):
#  1. counts leave the handoff socket's listeners out: the ready line, `ktlsd -t`, status;
#  2. `listeners add --name alt` reports alt and its address, and a real client is served
#     there; `listeners list` marks the internal ones as origin "handoff";
#  3. `listeners remove handoff` is refused; `listeners remove alt` closes alt's port and
#     nothing else (the file's listener and the handoff socket go on); a second remove of
#     alt fails with "no listener";
#  4. a second ktlsd with the same listener address exits 1 and says the address is in use
#     (SO_REUSEPORT would otherwise let it take half of the connections);
#  5. `drain`: a new handoff request gets status 12 (draining) with no descriptor, while
#     the handoff socket file stays; a second stop signal still removes both sockets.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl
need_ktlsctl

CTL=$T/ctl.sock
HSOCK=$T/handoff.sock
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" \
	extra="control_socket = \"$CTL\"; handoff_socket = \"$HSOCK\";"
start_ktlsd "$T/k.conf"
ctl() { "$KTLSCTL" -s "$CTL" "$@"; }

# ---- 1. counts
assert_match "$KTLSD_LOG" "ready: 1 listener\(s\) and the handoff socket," "the ready line's count"
to 20 "$KTLSD" -t -c "$T/k.conf" >"$T/t.out" 2>&1 || fail "ktlsd -t: $(cat "$T/t.out")"
assert_match "$T/t.out" "configuration OK \(2 profile\(s\), 1 listener\(s\) and the handoff socket\)" "ktlsd -t's count"
assert_eq 1 "$(ctl --json status | jfield 'r["listeners"]')" "status: listeners"

# ---- 2. add
P2=$(free_port)
ctl listeners add --name alt --listen "127.0.0.1:$P2" --backend "$BACKEND_ADDR" --profile default \
	>"$T/add.out" 2>&1 || fail "listeners add: $(cat "$T/add.out")"
assert_eq "listener alt added, accepting on 127.0.0.1:$P2" "$(cat "$T/add.out")" "listeners add's report"
probe_ok "$P2" "$T/alt.out" "a client on the added listener" -servername localhost
assert_eq 2 "$(ctl --json status | jfield 'r["listeners"]')" "status: listeners after add"
ctl --json listeners list >"$T/list.json" || fail "listeners list"
assert_eq "main:config alt:runtime handoff:handoff handoff-client:handoff" \
	"$(jfield '" ".join(l["name"] + ":" + l["origin"] for l in r["listeners"])' <"$T/list.json")" \
	"listeners list: names and origins"
say "added alt on port $P2; listeners list: $(jfield '[l["name"] for l in r["listeners"]]' <"$T/list.json")"

# ---- 3. remove
rc=0
ctl listeners remove handoff >"$T/rm-h.out" 2>&1 || rc=$?
((rc != 0)) || fail "removing the handoff socket's listener should be refused"
assert_contains "$T/rm-h.out" "is the handoff socket's" "removing the handoff listener: the message"
ctl listeners remove alt >"$T/rm.out" 2>&1 || fail "listeners remove alt: $(cat "$T/rm.out")"
wait_until 5 eval '! port_listening 127.0.0.1 "$P2"' || fail "port $P2 still listens after remove"
probe_ok "$LISTEN_PORT" "$T/main.out" "the file's listener after alt's removal" -servername localhost
unix_listening "$HSOCK" || fail "the handoff socket went away with alt"
rc=0
ctl listeners remove alt >"$T/rm2.out" 2>&1 || rc=$?
((rc != 0)) || fail "a second remove of alt should fail"
assert_contains "$T/rm2.out" 'no listener "alt"' "second remove: the message"
assert_eq 1 "$(ctl --json status | jfield 'r["listeners"]')" "status: listeners after the removes"
probe_ok "$LISTEN_PORT" "$T/main2.out" "the file's listener after the second remove" -servername localhost
say "remove: handoff refused, alt closed, the second remove refused, main still serves"

# ---- 4. a second ktlsd on the same address is refused (SO_REUSEPORT would split traffic)
sed -e "s|$CTL|$T/ctl2.sock|" -e "s|$HSOCK|$T/handoff2.sock|" "$T/k.conf" >"$T/k2.conf"
rc=0
to 20 "$KTLSD" -f -c "$T/k2.conf" >"$T/second.log" 2>&1 || rc=$?
assert_rc 1 "$rc" "a second ktlsd on the same address" "$T/second.log"
assert_contains "$T/second.log" "(127.0.0.1:$LISTEN_PORT): address in use by another process" \
	"a second ktlsd: the message"
probe_ok "$LISTEN_PORT" "$T/main3.out" "the first ktlsd after the second was refused" -servername localhost
say "a second ktlsd on 127.0.0.1:$LISTEN_PORT: refused ($(grep -o 'address in use.*' "$T/second.log"))"

# ---- 5. drain, then two stop signals
# An open connection keeps the first stop draining; the second stop ends it at once.
held_start h1 sclient "$LISTEN_PORT" /dev/null
wait_until 10 eval '[[ -n $(client_ports "$LISTEN_PORT") ]]' || fail "the held connection did not open"
ctl drain >/dev/null || fail "ktlsctl drain"
# (any connected TCP socket will do: the listener is closed by now, the backend is not)
handoff_expect_status "$HSOCK" server 12 "a handoff request after drain" 127.0.0.1 "$BACKEND_PORT"
[[ -S $HSOCK && -S $CTL ]] || fail "drain removed a socket file"
kill -TERM "$KTLSD_PID"
sleep 0.3
stop_ktlsd "$KTLSD_PID" TERM 10
assert_eq 1 "$KTLSD_RC" "exit status after a second stop signal"
[[ ! -e $CTL ]] || fail "the control socket file is left after a second stop signal"
[[ ! -e $HSOCK ]] || fail "the handoff socket file is left after a second stop signal"
say "drain refuses new handoff requests (status 12); a second stop signal removes both sockets"
note "ok"
