#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktls_control.sh - TLS control records on connections that ktlsd moved to kernel
# TLS (the kernel hands them to ktlsd as non-data records), and the handover edge
# where the client's first data travels with its Finished.
#
#  1. close_notify: gnutls-cli sends 256 KiB, then close_notify on stdin EOF and
#     keeps reading.  ktlsd half-closes toward the sink backend, which answers the
#     sha256 of all it got; that answer reaches gnutls-cli, then ktlsd's
#     close_notify (exit 0).  close_notify_received +1.
#  2. fatal alert: tests/tools/tlsctl.py alert (python ssl + a TLS 1.3 alert record
#     sealed with the client's application key, see there: no stock client sends a
#     fatal alert after a completed handshake on its own) -> ktlsd closes the
#     connection (the client sees EOF or a reset), alerts_received +1, "client sent
#     alert 80" in the log, and ktlsd goes on serving (a new connection echoes).
#  3. KeyUpdate: openssl s_client (interactive mode: a line "k" sends KeyUpdate
#     update_not_requested, "K" update_requested; it prints KEYUPDATE on stderr).
#     The 6.1 kernel cannot take new RX keys, so ktlsd logs "KeyUpdate, which this
#     kernel cannot follow", sends close_notify and closes: s_client ends on its own
#     with status 0 (it saw close_notify, not a bare EOF), the data before the
#     KeyUpdate was echoed, nothing after it; key_update_closes +1 each.
#  4. The same s_client dialogue on a "ktls = false" listener of the same ktlsd:
#     OpenSSL handles both KeyUpdates, the line typed after each still echoes, the
#     connection stays until s_client's stdin ends; ktls_fallback_disabled +1 and
#     no kernel TLS install for it.
#  5. pipelined data: tlsctl.py pipeline finishes the handshake in memory and
#     sends its Finished plus application data in ONE send(), then more data after
#     a pause.  Every byte is echoed; the connection still moved to kTLS; every
#     payload byte is counted exactly once: bytes_userspace + bytes_spliced ==
#     2 x payload.  (ktlsd receives the client's last flight record by record, so
#     the pipelined records normally stay in the socket for the kernel and
#     bytes_userspace stays 0; whatever OpenSSL did decrypt would be counted
#     there.)  Once with 100 bytes (one record, one segment) and once with 100000
#     bytes (several records and segments behind the Finished).
# Every kTLS case also checks tls_stat (TlsTxSw/TlsRxSw +1, TlsDecryptError +0).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktls
need_cmd openssl gnutls-cli
"$PYTHON" -c 'import cryptography' 2>/dev/null ||
	fail "python3-cryptography is missing (scripts/deps.sh check installs it)"
# s_client may be gone when we type the next line: EPIPE, not death by SIGPIPE.
trap '' PIPE

start_backend sink
SINK=$BACKEND_ADDR
SINK_LOG=$BACKEND_LOG
start_backend echo
ECHO=$BACKEND_ADDR
write_config "$T/k.conf" backend="$SINK" \
	listen2="127.0.0.1:$(free_port)" backend2="$ECHO" \
	listen3="127.0.0.1:$(free_port)" backend3="$ECHO" ktls3=false
start_ktlsd "$T/k.conf"
PSINK=$LISTEN_PORT PECHO=$LISTEN2_PORT PUSER=$LISTEN3_PORT
DELAY=$(scaled 0.2)

# begin WHAT / end: snapshots of tls_stat and ktlsd's counters around one case
begin() {
	WHAT=$1
	ktls_stat_snapshot
	ktlsd_stats_snapshot
}
expect() { # COUNTER DELTA
	assert_eq "$2" "$(kstat_delta "$1")" "$WHAT: $1 delta"
}

# ---- 1. client close_notify -> half-close toward the backend
N=$((256 << 10))
gen_file "$T/up.bin" "$N" 3
want=$(sha_of "$T/up.bin")
begin "close_notify"
rc=0
{
	sleep "$DELAY"
	cat "$T/up.bin"
} | gnutls "$PSINK" localhost --logfile="$T/g1.log" >"$T/g1.out" 2>&1 || rc=$?
assert_rc 0 "$rc" "$WHAT: gnutls-cli" "$T/g1.log"
assert_eq "$want" "$(tr -d '\n' <"$T/g1.out")" "$WHAT: the sink's answer (sha256 of what it got) after the client's close_notify"
assert_contains "$T/g1.log" "Peer has closed the GnuTLS connection" "$WHAT: ktlsd's close_notify"
assert_contains "$SINK_LOG" "sink: $N bytes sha256 $want" "$WHAT: the backend got every byte"
ktls_wait_closed 10
assert_ktls_deltas 1 "$WHAT"
ktlsd_stats_refresh
expect connections_ktls 1
expect close_notify_received 1
expect bytes_userspace 0
expect bytes_spliced $((N + 65))
assert_contains "$KTLSD_LOG" "client sent close_notify" "$WHAT: ktlsd's log"
note "1. close_notify: $N bytes up, the backend's answer back after the half-close, on kTLS"

# ---- 2. a fatal alert from the client
begin "fatal alert"
rc=0
to 60 "$PYTHON" "$TOOLS/tlsctl.py" alert --port "$PECHO" --ca "$CA" --delay "$DELAY" \
	--timeout "$(scaled 10)" >"$T/alert.out" 2>&1 || rc=$?
cat "$T/alert.out"
assert_rc 0 "$rc" "$WHAT: tlsctl.py alert (server must close)" "$T/alert.out"
assert_match "$T/alert.out" 'server closed: (eof|reset)' "$WHAT: ktlsd closed the connection"
ktls_wait_closed 10
assert_ktls_deltas 1 "$WHAT"
ktlsd_stats_refresh
expect connections_ktls 1
expect alerts_received 1
expect close_notify_received 0
expect bytes_userspace 0
expect bytes_spliced 10
assert_contains "$KTLSD_LOG" "client sent alert 80" "$WHAT: ktlsd's log"
# still serving
rc=0
{
	sleep "$DELAY"
	echo "still there"
} | gnutls "$PECHO" localhost --logfile="$T/g2.log" >"$T/g2.out" 2>&1 || rc=$?
assert_rc 0 "$rc" "$WHAT: a connection after the alert" "$T/g2.log"
assert_eq "still there" "$(cat "$T/g2.out")" "$WHAT: echo after the alert"
ktls_wait_closed 10
note "2. fatal alert: connection closed, ktlsd still serving"

# ---- 3./4. KeyUpdate from s_client
# keyupdate PORT CMD OUT: hello, then CMD (k or K), then "after"; stdin stays open
# until s_client exits or $T/stop-CMD exists.  Sets SC_RC.
keyupdate() {
	local port=$1 cmd=$2 out=$3 fifo pid
	fifo=$T/in-$port-$cmd
	mkfifo "$fifo"
	sclient "$port" -servername localhost <"$fifo" >"$out" 2>"$out.err" &
	pid=$!
	track "$pid"
	exec 3>"$fifo"
	sleep "$DELAY"
	echo "hello $cmd" >&3
	wait_log "$out" "^hello $cmd\$" 20 || {
		show_tail "$out.err"
		fail "$WHAT: no echo of the line before the KeyUpdate"
	}
	echo "$cmd" >&3
	wait_log "$out.err" '^KEYUPDATE' 10 || fail "$WHAT: s_client did not send its KeyUpdate"
	sleep "$DELAY"
	echo "after $cmd" >&3 2>/dev/null || true
	if [[ $port == "$PUSER" ]]; then
		wait_log "$out" "^after $cmd\$" 20 || {
			show_tail "$out"
			fail "$WHAT: the line after the KeyUpdate was not echoed"
		}
	fi
	# on kTLS s_client ends by itself; in userspace its stdin ends here
	[[ $port == "$PUSER" ]] && exec 3>&-
	wait_exit "$pid" 30 || fail "$WHAT: s_client did not exit"
	exec 3>&-
	SC_RC=$EXIT_RC
}

for cmd in k K; do
	begin "KeyUpdate '$cmd' on kTLS"
	before=$(count_log "$KTLSD_LOG" "KeyUpdate, which this kernel cannot follow")
	keyupdate "$PECHO" "$cmd" "$T/ku-$cmd.out"
	assert_rc 0 "$SC_RC" "$WHAT: s_client exit status (0: the server's close_notify, not a bare EOF)" "$T/ku-$cmd.out"
	assert_not_contains "$T/ku-$cmd.out" "after $cmd" "$WHAT: nothing relayed after the KeyUpdate"
	assert_not_contains "$T/ku-$cmd.out.err" "unexpected eof" "$WHAT: s_client saw close_notify"
	ktls_wait_closed 10
	assert_ktls_deltas 1 "$WHAT"
	ktlsd_stats_refresh
	expect connections_ktls 1
	expect key_update_closes 1
	expect bytes_userspace 0
	expect alerts_received 0
	assert_eq $((before + 1)) "$(count_log "$KTLSD_LOG" "KeyUpdate, which this kernel cannot follow")" \
		"$WHAT: ktlsd's log line"
	note "3. KeyUpdate '$cmd' on kTLS: clean close (s_client status 0), key_update_closes +1"
done

for cmd in k K; do
	begin "KeyUpdate '$cmd' with ktls = false"
	keyupdate "$PUSER" "$cmd" "$T/kf-$cmd.out"
	assert_rc 0 "$SC_RC" "$WHAT: s_client" "$T/kf-$cmd.out.err"
	ktlsd_stats_refresh
	assert_ktls_deltas 0 "$WHAT"
	expect connections_ktls 0
	expect connections_userspace 1
	expect ktls_fallback_disabled 1
	expect key_update_closes 0
	expect bytes_spliced 0
	note "4. KeyUpdate '$cmd' with ktls = false: handled by OpenSSL, data after it echoed"
done

# ---- 5. data pipelined with the client's Finished
for size in 100 100000; do
	then=65536
	begin "pipelined $size bytes"
	rc=0
	to 60 "$PYTHON" "$TOOLS/tlsctl.py" pipeline --port "$PECHO" --ca "$CA" --size "$size" \
		--then "$then" --delay "$DELAY" --timeout "$(scaled 20)" >"$T/pipe.out" 2>&1 || rc=$?
	cat "$T/pipe.out"
	assert_rc 0 "$rc" "$WHAT: tlsctl.py pipeline" "$T/pipe.out"
	ktls_wait_closed 10
	assert_ktls_deltas 1 "$WHAT"
	ktlsd_stats_refresh
	expect connections_ktls 1
	expect connections_userspace 0
	u=$(kstat_delta bytes_userspace)
	s=$(kstat_delta bytes_spliced)
	assert_eq $((2 * (size + then))) $((u + s)) "$WHAT: bytes_userspace (+$u) + bytes_spliced (+$s)"
	note "5. pipelined $size bytes: echoed, kTLS, bytes_userspace +$u bytes_spliced +$s"
done

assert_eq 0 "$(kstat ktls_rx_errors)" "ktls_rx_errors"
assert_ktlsd_alive
note "ok"
