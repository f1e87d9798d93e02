#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# resume_basic.sh - every valid session a client offers resumes (default config:
# stateless tickets, the shared session cache, one worker):
#   1. openssl s_client -sess_out / -sess_in: TLS 1.2 by session ID (-no_ticket; the
#      saved session has no ticket), TLS 1.2 by ticket, TLS 1.3 by ticket; five
#      resumptions each, all "Reused"; a TLS 1.3 handshake (full or resumed) sends
#      exactly one NewSessionTicket (tls13_tickets default 1);
#   2. gnutls-cli --resume with TLS 1.2 (ticket, and session ID with %NO_TICKETS) and
#      TLS 1.3: "This is a resumed session";
#   3. curl, two URLs in one run (the backend closes after each response, so the
#      second one is a new connection that resumes curl's session), TLS 1.2 and 1.3;
#      both bodies byte-exact;
#   4. 1 MiB (+ an odd tail) through a resumed connection of each kind (s_client
#      -quiet), byte-exact;
#   and ktlsd's listener counters agree at each step: handshakes_full and
#   handshakes_resumed moved by what the clients saw, no resume_miss_* moved, the
#   global handshakes_completed = full + resumed, and the debug log has one
#   "handshake done ..., resumed" line per resumption;
#   5. tls13_tickets = 3: three NewSessionTickets per full TLS 1.3 handshake (one after a
#      resumption: OpenSSL's rule), the last one
#      resumes; tls13_tickets = 0: none, and TLS 1.2 tickets are unaffected.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli curl

start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
lstats_snapshot
log0=$(resumed_log_lines)

# check_counters WHAT FULL RESUMED: deltas since the snapshot
check_counters() {
	local what=$1 full=$2 res=$3
	lstats_refresh
	assert_lstat_deltas "$what" handshakes_full="$full" handshakes_resumed="$res" \
		resume_miss_unknown_key=0 resume_miss_bad_ticket=0 resume_miss_cache=0 \
		resume_miss_expired=0 resume_miss_mismatch=0
	assert_eq $((full + res)) "$(kstat_delta handshakes_completed)" "$what: global handshakes_completed delta = full + resumed"
	assert_eq "$res" $(($(resumed_log_lines) - log0)) "$what: 'handshake done ..., resumed' debug lines"
	note "$what: handshakes_full +$full, handshakes_resumed +$res, no misses"
}

N=5
# ---- 1. s_client
# kind: name, s_client flags for both connections
for kind in "t12sid -tls1_2 -no_ticket" "t12tk -tls1_2" "t13 -tls1_3"; do
	read -r k flags <<<"$kind"
	read -ra fl <<<"$flags"
	sess_probe "$k-new" "$P" "${fl[@]}" -sess_out "$T/$k.sess"
	assert_eq New "$SESS_STATE" "$k: the first connection"
	case $k in
	t12sid)
		assert_eq 0 "$(sess_info "$T/$k.sess" ticket_len)" "$k: the saved session has no ticket (-no_ticket)"
		[[ -n $(sess_info "$T/$k.sess" session_id) ]] || fail "$k: the saved session has no session ID"
		;;
	*)
		(($(sess_info "$T/$k.sess" ticket_len) > 0)) || fail "$k: the saved session has no ticket"
		;;
	esac
	for ((i = 1; i <= N; i++)); do
		resume_expect Reused "$k-r$i" "$P" "$T/$k.sess" "${fl[@]}"
		assert_match "$T/$k-r$i.out" "^Reused, $(sclient_proto "$T/$k-new.out")," "$k-r$i: the protocol of the resumed session"
	done
	if [[ $k == t13 ]]; then
		assert_eq 1 "$(sclient_tickets "$T/t13-new.out")" "TLS 1.3 NewSessionTickets after a full handshake (default tls13_tickets)"
		assert_eq 1 "$(sclient_tickets "$T/t13-r1.out")" "TLS 1.3 NewSessionTickets after a resumption"
	fi
	note "s_client $k: $N of $N resumed"
done
check_counters "s_client" 3 $((3 * N))

# ---- 2. gnutls-cli --resume
lstats_snapshot
log0=$(resumed_log_lines)
for g in "g12tk NORMAL:-VERS-ALL:+VERS-TLS1.2" "g12sid NORMAL:-VERS-ALL:+VERS-TLS1.2:%NO_TICKETS" "g13 NORMAL:-VERS-ALL:+VERS-TLS1.3"; do
	read -r k prio <<<"$g"
	rc=0
	printf 'GET / HTTP/1.0\r\n\r\n' |
		gnutls "$P" localhost --resume --priority "$prio" >"$T/$k.out" 2>&1 || rc=$?
	assert_rc 0 "$rc" "gnutls-cli --resume --priority $prio" "$T/$k.out"
	assert_contains "$T/$k.out" "This is a resumed session" "gnutls-cli --resume --priority $prio"
	assert_contains "$T/$k.out" "Hello from the backend" "gnutls-cli --resume --priority $prio: the response"
	note "gnutls-cli $prio: resumed"
done
check_counters "gnutls-cli --resume" 3 3

# ---- 3. curl: two URLs, one run, the backend closes after each response
lstats_snapshot
log0=$(resumed_log_lines)
for v in "--tlsv1.2 --tls-max 1.2" "--tlsv1.3"; do
	read -ra vf <<<"$v"
	rm -f "$T/curl-a.bin" "$T/curl-b.bin"
	rc=0
	curl_k "$P" "/size/300001?seed=11" "${vf[@]}" -H 'Connection: close' \
		-o "$T/curl-a.bin" "https://localhost:$P/size/300001?seed=12" -o "$T/curl-b.bin" \
		-v 2>"$T/curl.err" || rc=$?
	assert_rc 0 "$rc" "curl $v, two URLs" "$T/curl.err"
	# the first -o goes with the first URL on the command line (seed 12; curl_k adds its URL last)
	assert_file_sha "$T/curl-a.bin" "$(gen_sha 300001 12)" "curl $v: the first body"
	assert_file_sha "$T/curl-b.bin" "$(gen_sha 300001 11)" "curl $v: the second body (resumed connection)"
	(($(grep -c 'Connected to localhost' "$T/curl.err") == 2)) ||
		note "warning: curl $v did not report two connections: $(grep -c 'Connected to localhost' "$T/curl.err")"
	note "curl $v: 2 connections, both bodies byte-exact"
done
check_counters "curl (2 runs of 2 URLs)" 2 2

# ---- 4. bulk data through resumed connections
lstats_snapshot
log0=$(resumed_log_lines)
SIZE=$(((1 << 20) + 4099))
for kind in "t12sid -tls1_2 -no_ticket" "t12tk -tls1_2" "t13 -tls1_3"; do
	read -r k flags <<<"$kind"
	read -ra fl <<<"$flags"
	sclient_get "$k-bulk" "$P" "/size/$SIZE?seed=7" "${fl[@]}" -sess_in "$T/$k.sess"
	assert_file_sha "$T/$k-bulk.body" "$(gen_sha "$SIZE" 7)" "$k: $SIZE bytes through a resumed connection"
done
check_counters "1 MiB through resumed connections" 0 3

# ---- 5. tls13_tickets = 3 and 0
for nt in 3 0; do
	stop_ktlsd
	assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
	write_config "$T/k$nt.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P" tls13_tickets="$nt"
	start_ktlsd "$T/k$nt.conf"
	lstats_snapshot
	log0=$(resumed_log_lines)
	rm -f "$T/n$nt.sess"
	sess_probe "n$nt-new" "$P" -tls1_3 -sess_out "$T/n$nt.sess"
	assert_eq New "$SESS_STATE" "tls13_tickets = $nt: the first connection (after a restart)"
	assert_eq "$nt" "$(sclient_tickets "$T/n$nt-new.out")" "tls13_tickets = $nt: NewSessionTickets after a full TLS 1.3 handshake"
	if ((nt > 0)); then
		resume_expect Reused "n$nt-r" "$P" "$T/n$nt.sess" -tls1_3
		# OpenSSL sends at most one ticket after a resumption, whatever num_tickets says.
		assert_eq 1 "$(sclient_tickets "$T/n$nt-r.out")" "tls13_tickets = $nt: NewSessionTickets after a resumption"
		check_counters "tls13_tickets = $nt" 1 1
	else
		if [[ -s $T/n$nt.sess ]]; then
			assert_eq 0 "$(sess_info "$T/n$nt.sess" ticket_len)" "tls13_tickets = 0: a ticket in the saved session"
		fi
		# TLS 1.2 tickets do not depend on tls13_tickets
		sess_probe n0-12 "$P" -tls1_2 -sess_out "$T/n0-12.sess"
		resume_expect Reused n0-12r "$P" "$T/n0-12.sess" -tls1_2
		check_counters "tls13_tickets = 0" 2 1
	fi
	note "tls13_tickets = $nt: $nt NewSessionTicket(s) per TLS 1.3 handshake"
done

assert_ktlsd_alive
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
note "ok"
