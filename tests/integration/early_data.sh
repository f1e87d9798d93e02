#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# early_data.sh - TLS 1.3 0-RTT (openssl s_client -sess_in S -early_data FILE, then
# more data after the handshake) through ktlsd to an echo backend that logs the
# sha256 of everything it received per connection:
#   1. default listener (early data off): the tickets allow no early data ("Max Early
#      Data" 0), so s_client sends none; the backend gets only the later data;
#   2. a ticket issued with early_data = true, offered after a SIGHUP to early_data =
#      false: "Early data was rejected", the early data never reaches the backend (s_client
#      does not send it again), early_data_rejected +1;
#   3. early_data = true, max_early_data = 4096 (the ticket says 4096): "Early data was
#      accepted", the backend gets early data + later data once, in order; ktlsd's debug
#      log says ", early data N bytes"; early_data_accepted +1.  The same ticket again
#      with early data: rejected, early_data_replayed +1, the backend gets only that
#      connection's later data (the early data never twice);
#   4. a byte-exact replay of a recorded first flight (ClientHello + early data,
#      tests/tools/replay.py between s_client and ktlsd) on a new TCP connection:
#      early_data_replayed +1, and the backend never gets that early data again;
#   5. early_data_forward = true (listener "second", proxy_protocol = true, PROXY v2
#      backend): the header carries TLV 0xE0 = 01 and the early data follows it; a first
#      flight with a never-used ticket, sent raw (the handshake never completes),
#      still reaches the backend (forwarded at once); replayed, it does not (replayed +1);
#      a connection without early data has no 0xE0 TLV;
#   6. early_data_forward = true without proxy_protocol: ktlsd refuses the config.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl

REPLAY=$TOOLS/replay.py
start_backend echo
ECHO_ADDR=$BACKEND_ADDR ECHO_LOG=$BACKEND_LOG
start_backend proxyv2
PV2_ADDR=$BACKEND_ADDR PV2_LOG=$BACKEND_LOG
P=$(free_port)
P2=$(free_port)
# conf NAME key=value...: main -> echo backend, "second" -> PROXY v2 backend forwarding early data
conf() {
	local name=$1
	shift
	write_config "$T/$name.conf" backend="$ECHO_ADDR" listen="127.0.0.1:$P" alpn=none \
		listen2="127.0.0.1:$P2" backend2="$PV2_ADDR" proxy_protocol2=true early_data2=true \
		early_data_forward2=true "$@"
}

# mkdata NAME: $T/NAME.bin, one line of about 800 bytes that names itself
mkdata() { printf 'EARLY-%s-%s\n' "$1" "$("$OPENSSL" rand -hex 400)" >"$T/$1.bin"; }

# edc NAME PORT [s_client args...]: one s_client connection (stdin: after the handshake
# $T/NAME.after, then EOF once its echo is back and, with -sess_out, the session is saved);
# output $T/NAME.out; ED <- accepted / rejected / not sent
edc() {
	local name=$1 port=$2 pid a prev="" sess_out=""
	shift 2
	for a in "$@"; do
		[[ $prev == -sess_out ]] && sess_out=$a
		prev=$a
	done
	[[ -z $sess_out ]] || rm -f "$sess_out"
	printf 'AFTER-%s-%s\n' "$name" "$("$OPENSSL" rand -hex 100)" >"$T/$name.after"
	rm -f "$T/$name.go" "$T/$name.go2"
	{
		while [[ ! -e $T/$name.go ]]; do sleep 0.05; done
		cat "$T/$name.after"
		while [[ ! -e $T/$name.go2 ]]; do sleep 0.05; done
	} | sclient "$port" -servername localhost -no_ign_eof "$@" >"$T/$name.out" 2>&1 &
	pid=$!
	track "$pid"
	wait_until 20 grep -q '^Early data was' "$T/$name.out" || {
		show_tail "$T/$name.out" 30
		fail "$name: s_client $* did not finish a TLS 1.3 handshake"
	}
	touch "$T/$name.go"
	wait_until 20 grep -q "^AFTER-$name-" "$T/$name.out" || {
		show_tail "$T/$name.out" 30
		fail "$name: the data sent after the handshake did not come back"
	}
	if [[ -n $sess_out ]]; then
		wait_until 20 test -s "$sess_out" || fail "$name: no NewSessionTicket (s_client -sess_out wrote nothing)"
	fi
	touch "$T/$name.go2"
	wait_exit "$pid" 20 || fail "$name: s_client did not exit after its stdin ended"
	assert_rc 0 "$EXIT_RC" "$name: s_client $*" "$T/$name.out"
	ED=$(sed -nE 's/^Early data was (.*)$/\1/p' "$T/$name.out" | head -n1)
	SESS_STATE=$(sclient_state "$T/$name.out")
}

# backend_got NAME LOG FILE...: the backend received, on one connection, exactly the
# concatenation of FILEs, and no other connection received the same
backend_got() {
	local name=$1 log=$2 n sha
	shift 2
	cat "$@" >"$T/$name.expect"
	n=$(size_of "$T/$name.expect")
	sha=$(sha_of "$T/$name.expect")
	wait_log "$log" "received $n bytes sha256 $sha" 10 || {
		grep -E 'received [0-9]+ bytes' "$log" | tail -n5 | sed 's/^/    backend: /'
		fail "$name: the backend did not receive exactly ${*##*/} ($n bytes) on one connection"
	}
	assert_eq 1 "$(count_log "$log" "sha256 $sha")" "$name: backend connections that received ${*##*/}"
}
# backend_never NAME LOG FILE...: no backend connection received that concatenation
backend_never() {
	local name=$1 log=$2
	shift 2
	cat "$@" >"$T/$name.never"
	assert_eq 0 "$(count_log "$log" "sha256 $(sha_of "$T/$name.never")")" "$name: backend connections that received ${*##*/}"
}
ed_deltas() { # WHAT ACCEPTED REJECTED REPLAYED [LISTENER]
	lstats_refresh "${5:-main}"
	assert_lstat_deltas "$1" early_data_accepted="$2" early_data_rejected="$3" early_data_replayed="$4"
}

# ---- 1. early data off (the default)
conf off
start_ktlsd "$T/off.conf"
lstats_snapshot
edc p1-t "$P" -sess_out "$T/p1.sess"
assert_eq 0 "$(sess_info "$T/p1.sess" max_early_data)" "early data off: the ticket's max_early_data"
mkdata e1
edc p1-e "$P" -sess_in "$T/p1.sess" -early_data "$T/e1.bin"
assert_eq "not sent" "$ED" "early data off: s_client's early data status"
assert_eq Reused "$SESS_STATE" "early data off: the session still resumes"
backend_got p1-e "$ECHO_LOG" "$T/p1-e.after"
backend_never p1-e "$ECHO_LOG" "$T/e1.bin" "$T/p1-e.after"
ed_deltas "1. early data off" 0 0 0
note "1. early data off: the ticket allows none, the client sends none"

# ---- 2. rejected by a listener that turned early data off
conf on2 early_data=true
stop_ktlsd
start_ktlsd "$T/on2.conf"
edc p2-t "$P" -sess_out "$T/p2.sess"
assert_eq 16384 "$(sess_info "$T/p2.sess" max_early_data)" "early_data = true: the ticket's max_early_data (default)"
conf off2
cp "$T/off2.conf" "$T/on2.conf"
reload_ktlsd || fail "no reload result after SIGHUP (early_data = false)"
assert_match "$KTLSD_LOG" 'reloaded' "reload to early_data = false"
sleep "$(scaled 0.3)"
lstats_snapshot
mkdata e2
edc p2-e "$P" -sess_in "$T/p2.sess" -early_data "$T/e2.bin"
assert_eq rejected "$ED" "early data after the listener turned it off"
backend_got p2-e "$ECHO_LOG" "$T/p2-e.after"
backend_never p2-e "$ECHO_LOG" "$T/e2.bin" "$T/p2-e.after"
ed_deltas "2. early data offered to a listener without it" 0 1 0
note "2. early data turned off by SIGHUP: rejected, never delivered; the connection goes on"

# ---- 3. accepted once, the same ticket again is a replay
conf on3 early_data=true max_early_data=4096
cp "$T/on3.conf" "$T/on2.conf"
reload_ktlsd || fail "no reload result after SIGHUP (early_data = true)"
sleep "$(scaled 0.3)"
edc p3-t "$P" -sess_out "$T/p3.sess"
assert_eq 4096 "$(sess_info "$T/p3.sess" max_early_data)" "max_early_data = 4096: the ticket's max_early_data"
lstats_snapshot
mkdata e3
edc p3-a "$P" -sess_in "$T/p3.sess" -early_data "$T/e3.bin"
assert_eq accepted "$ED" "early data with a fresh ticket"
assert_eq Reused "$SESS_STATE" "0-RTT connection: resumed"
backend_got p3-a "$ECHO_LOG" "$T/e3.bin" "$T/p3-a.after"
assert_eq 1 "$(grep -c "^EARLY-e3-" "$T/p3-a.out")" "the echo of the early data at the client"
assert_match "$KTLSD_LOG" "handshake done.*, resumed, early data $(size_of "$T/e3.bin") bytes" "ktlsd's debug log of the 0-RTT handshake"
ed_deltas "3. early data accepted" 1 0 0
edc p3-b "$P" -sess_in "$T/p3.sess" -early_data "$T/e3.bin"
assert_eq rejected "$ED" "early data with a ticket already used for early data"
backend_got p3-b "$ECHO_LOG" "$T/p3-b.after"
backend_never p3-b "$ECHO_LOG" "$T/e3.bin" "$T/p3-b.after"
backend_got p3-a "$ECHO_LOG" "$T/e3.bin" "$T/p3-a.after" # still exactly once
ed_deltas "3. the same ticket's early data again" 1 0 1
note "3. accepted once ($(size_of "$T/e3.bin") bytes); the second use of the ticket: rejected, counted as replayed"

# ---- 4. raw replay of a recorded first flight
edc p4-t "$P" -sess_out "$T/p4.sess"
mkdata e4
rm -f "$T/rec4.port"
"$PYTHON" "$REPLAY" record --target "127.0.0.1:$P" --out "$T/flight4.bin" --port-file "$T/rec4.port" \
	--quiet "$(scaled 0.3)" >"$T/rec4.log" 2>&1 &
rec=$!
track "$rec"
wait_until 10 test -s "$T/rec4.port" || fail "replay.py record did not start"
lstats_snapshot
edc p4-a "$(cat "$T/rec4.port")" -sess_in "$T/p4.sess" -early_data "$T/e4.bin"
assert_eq accepted "$ED" "early data through the recording proxy"
wait_exit "$rec" 20 || fail "replay.py record did not finish"
assert_rc 0 "$EXIT_RC" "replay.py record" "$T/rec4.log"
assert_match "$T/rec4.log" 'recorded first flight: [0-9]+ bytes \([0-9]+ records: 22( 20)? 23' "the recorded first flight (ClientHello, early data)"
backend_got p4-a "$ECHO_LOG" "$T/e4.bin" "$T/p4-a.after"
"$PYTHON" "$REPLAY" send --target "127.0.0.1:$P" --in "$T/flight4.bin" --wait "$(scaled 2)" >"$T/send4.log" 2>&1 ||
	fail "replay.py send failed: $(cat "$T/send4.log")"
note "4. $(cat "$T/rec4.log"); $(cat "$T/send4.log")"
ed_deltas "4. a replayed first flight" 1 0 1
sleep "$(scaled 0.5)" # the replayed connection's backend side (if any) closes
backend_never p4-replay "$ECHO_LOG" "$T/e4.bin"
backend_got p4-a "$ECHO_LOG" "$T/e4.bin" "$T/p4-a.after"
note "4. the replayed first flight: its early data refused, the backend got nothing again"

# ---- 5. early_data_forward = true with PROXY v2
lstats_snapshot second
edc p5-t "$P2" -sess_out "$T/p5.sess"
grep -F 'proxyv2: {' "$PV2_LOG" | tail -n1 >"$T/p5-t.hdr"
assert_not_contains "$T/p5-t.hdr" '"0xe0"' "the PROXY v2 header of a connection without early data"
mkdata e5
edc p5-a "$P2" -sess_in "$T/p5.sess" -early_data "$T/e5.bin"
assert_eq accepted "$ED" "early data on the forwarding listener"
backend_got p5-a "$PV2_LOG" "$T/e5.bin" "$T/p5-a.after"
cid=$(grep -F "sha256 $(sha_of "$T/p5-a.expect")" "$PV2_LOG" | sed -nE 's/.*conn ([0-9]+): .*/\1/p' | head -n1)
grep -F "conn $cid: proxyv2: {" "$PV2_LOG" >"$T/p5-a.hdr" || fail "no PROXY v2 header line for backend connection $cid"
assert_contains "$T/p5-a.hdr" '"0xe0": "01"' "the PROXY v2 header before forwarded early data: TLV 0xE0 = 01"
ed_deltas "5. forwarded early data" 1 0 0 second
note "5. forwarded: $(grep -o '"tlvs": {[^}]*}' "$T/p5-a.hdr")"

# a first flight with a never-used ticket, captured without reaching ktlsd
edc p6-t "$P2" -sess_out "$T/p6.sess"
mkdata e6
rm -f "$T/rec6.port"
"$PYTHON" "$REPLAY" record --capture-only --out "$T/flight6.bin" --port-file "$T/rec6.port" \
	--quiet "$(scaled 0.3)" >"$T/rec6.log" 2>&1 &
rec=$!
track "$rec"
wait_until 10 test -s "$T/rec6.port" || fail "replay.py record --capture-only did not start"
sclient "$(cat "$T/rec6.port")" -servername localhost -sess_in "$T/p6.sess" -early_data "$T/e6.bin" \
	</dev/null >"$T/p6-cap.out" 2>&1 || true
wait_exit "$rec" 20 || fail "replay.py record --capture-only did not finish"
assert_match "$T/rec6.log" 'captured first flight: [0-9]+ bytes \([0-9]+ records: 22( 20)? 23' "the captured first flight"
lstats_snapshot second
"$PYTHON" "$REPLAY" send --target "127.0.0.1:$P2" --in "$T/flight6.bin" --wait "$(scaled 2)" >"$T/send6a.log" 2>&1 ||
	fail "replay.py send failed: $(cat "$T/send6a.log")"
backend_got p6-first "$PV2_LOG" "$T/e6.bin"
cid=$(grep -F "sha256 $(sha_of "$T/e6.bin")" "$PV2_LOG" | sed -nE 's/.*conn ([0-9]+): .*/\1/p' | head -n1)
grep -F "conn $cid: proxyv2: {" "$PV2_LOG" >"$T/p6.hdr" || fail "no PROXY v2 header line for backend connection $cid"
assert_contains "$T/p6.hdr" '"0xe0": "01"' "the PROXY v2 header of the raw first flight"
note "5. a raw first flight (handshake never completed): its early data was forwarded at once; $(cat "$T/send6a.log")"
"$PYTHON" "$REPLAY" send --target "127.0.0.1:$P2" --in "$T/flight6.bin" --wait "$(scaled 2)" >"$T/send6b.log" 2>&1 ||
	fail "replay.py send (again) failed: $(cat "$T/send6b.log")"
lstats_refresh second
assert_lstat_deltas "5. the raw first flight sent twice" early_data_replayed=1
sleep "$(scaled 0.5)"
backend_got p6-first "$PV2_LOG" "$T/e6.bin" # still exactly once
note "5. the same first flight again: not forwarded (early_data_replayed +1)"

# ---- 6. early_data_forward needs proxy_protocol
write_config "$T/bad.conf" backend="$ECHO_ADDR" listen="127.0.0.1:$(free_port)" early_data=true early_data_forward=true
rc=0
to 20 "$KTLSD" -f -c "$T/bad.conf" >"$T/bad.log" 2>&1 </dev/null || rc=$?
assert_rc 1 "$rc" "ktlsd with early_data_forward = true and proxy_protocol = false" "$T/bad.log"
assert_match "$T/bad.log" "$T/bad.conf:[0-9]+: " "the config error for early_data_forward without proxy_protocol"
note "6. $(grep -E "$T/bad.conf:[0-9]+: " "$T/bad.log" | head -n1 | sed "s|$T/||g")"

assert_ktlsd_alive
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
note "ok"
