#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# resume_misses.sh - sessions that must NOT resume give a full handshake the client
# does not notice (s_client exits 0 with the backend's page, "New" session), each
# counted under its cause in the listener's stats line; and the ticket modes:
#   1. expired: session_lifetime = 2 s (scaled): the tickets' lifetime hint says so;
#      after it, TLS 1.2 by session ID, TLS 1.2 by ticket and TLS 1.3 by ticket (its
#      saved lifetime hint made longer with sesstool.py so that s_client still offers
#      it) -> full handshakes, resume_miss_expired +3;
#   2. tampered ticket (one byte of the encrypted state flipped with sesstool.py):
#      TLS 1.2 and 1.3 -> full, resume_miss_bad_ticket +2; the untouched sessions
#      still resume;
#   3. a restart: TLS 1.2 session ID -> resume_miss_cache, TLS 1.3 ticket (in-memory
#      keys are new) -> resume_miss_unknown_key;
#   4. another profile's session (SNI other.test, offered with SNI localhost): TLS 1.2
#      session ID -> full handshake with the localhost certificate, resume_miss_mismatch;
#      a TLS 1.3 ticket -> full, counted as one miss (unknown_key or mismatch);
#   5. tickets = "off": TLS 1.2 resumes by session ID (the saved session has no
#      ticket), TLS 1.3 gets no NewSessionTicket and cannot resume;
#   6. tickets = "stateful" (workers = 2): a TLS 1.3 ticket resumes once; offered
#      again (three times) -> full, resume_miss_cache each; the ticket received on the
#      resumed connection resumes; TLS 1.2 resumes by session ID, twice;
#   7. psk_ke = true / false: s_client -allow_no_dhe_kex resumes TLS 1.3 either way,
#      with a key exchange ("Server Temp Key"): OpenSSL's server takes psk_dhe_ke whenever
#      the client offers it, and s_client always does (no stock client here offers
#      psk_ke alone for a resumption).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl

start_backend http
P=$(free_port)
CONFN=0
# restart_with key=value...: a fresh ktlsd on port P with that config, counters snapshot
restart_with() {
	if [[ -n ${KTLSD_PID:-} ]] && is_running "$KTLSD_PID"; then
		stop_ktlsd
		assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
	fi
	CONFN=$((CONFN + 1))
	write_config "$T/k$CONFN.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P" "$@"
	start_ktlsd "$T/k$CONFN.conf"
	lstats_snapshot
}
# misses WHAT FULL RESUMED unknown_key bad_ticket cache expired mismatch
misses() {
	lstats_refresh
	assert_lstat_deltas "$1" handshakes_full="$2" handshakes_resumed="$3" resume_miss_unknown_key="$4" \
		resume_miss_bad_ticket="$5" resume_miss_cache="$6" resume_miss_expired="$7" resume_miss_mismatch="$8"
	note "$1: $(lstats_delta_line)"
}
KINDS=("t12sid -tls1_2 -no_ticket" "t12tk -tls1_2" "t13 -tls1_3")
# new_sessions PREFIX [s_client args]: one full handshake per kind, sessions in $T/PREFIX-KIND.sess
new_sessions() {
	local pre=$1 kind k flags
	shift
	for kind in "${KINDS[@]}"; do
		read -r k flags <<<"$kind"
		read -ra fl <<<"$flags"
		sess_probe "$pre-$k" "$P" "${fl[@]}" -sess_out "$T/$pre-$k.sess" "$@"
		assert_eq New "$SESS_STATE" "$pre-$k: the first connection"
	done
}

# ---- 1. expired
L=$(scaled_int 2)
restart_with session_lifetime="$L"
new_sessions exp
assert_eq "$L" "$(sess_info "$T/exp-t12tk.sess" lifetime_hint)" "TLS 1.2 ticket lifetime hint with session_lifetime = $L"
assert_eq "$L" "$(sess_info "$T/exp-t13.sess" lifetime_hint)" "TLS 1.3 ticket lifetime with session_lifetime = $L"
# a TLS 1.3 client does not offer a ticket past its lifetime: make the saved one say 1 h
"$PYTHON" "$SESSTOOL" set-hint "$T/exp-t13.sess" "$T/exp-t13-long.sess" 3600 || fail "sesstool.py set-hint failed"
sleep $((L + $(scaled_int 2)))
resume_expect New exp-t12sid-late "$P" "$T/exp-t12sid.sess" -tls1_2 -no_ticket
resume_expect New exp-t12tk-late "$P" "$T/exp-t12tk.sess" -tls1_2
resume_expect New exp-t13-late "$P" "$T/exp-t13-long.sess" -tls1_3
misses "1. expired after session_lifetime = $L s" 6 0 0 0 0 3 0

# ---- 2. tampered tickets
restart_with
new_sessions tam
for k in t12tk t13; do
	"$PYTHON" "$SESSTOOL" tamper "$T/tam-$k.sess" "$T/tam-$k-bad.sess" >"$T/tam-$k.tool" || fail "sesstool.py tamper failed"
	assert_ne "$("$PYTHON" "$SESSTOOL" ticket "$T/tam-$k.sess")" "$("$PYTHON" "$SESSTOOL" ticket "$T/tam-$k-bad.sess")" "test bug: the ticket did not change"
	note "$k: $(cat "$T/tam-$k.tool")"
done
resume_expect New tam-t12tk-bad "$P" "$T/tam-t12tk-bad.sess" -tls1_2
resume_expect New tam-t13-bad "$P" "$T/tam-t13-bad.sess" -tls1_3
resume_expect Reused tam-t12tk-good "$P" "$T/tam-t12tk.sess" -tls1_2
resume_expect Reused tam-t13-good "$P" "$T/tam-t13.sess" -tls1_3
misses "2. tampered tickets" 5 2 0 2 0 0 0

# ---- 3. after a restart (sessions of the previous instance, in-memory ticket keys)
restart_with
resume_expect New rst-t12sid "$P" "$T/tam-t12sid.sess" -tls1_2 -no_ticket
resume_expect New rst-t13 "$P" "$T/tam-t13.sess" -tls1_3
misses "3. sessions from before a restart" 2 0 1 0 1 0 0

# ---- 4. another profile's sessions
sess_probe oth-t12sid "$P" -tls1_2 -no_ticket -servername other.test -sess_out "$T/oth-t12sid.sess"
sess_probe oth-t13 "$P" -tls1_3 -servername other.test -sess_out "$T/oth-t13.sess"
lstats_snapshot
for k in "t12sid -tls1_2 -no_ticket" "t13 -tls1_3"; do
	read -r k flags <<<"$k"
	read -ra fl <<<"$flags"
	resume_expect New "oth-$k-x" "$P" "$T/oth-$k.sess" "${fl[@]}" -servername localhost
	sclient_cert "$T/oth-$k-x.out" "$T/oth-$k-x.pem"
	assert_eq localhost "$(cert_cn "$T/oth-$k-x.pem")" "$k: the certificate after offering another profile's session"
done
lstats_refresh
assert_lstat_deltas "4. another profile's sessions" handshakes_full=2 handshakes_resumed=0 \
	resume_miss_bad_ticket=0 resume_miss_cache=0 resume_miss_expired=0
um=$(($(lstat_delta resume_miss_unknown_key) + $(lstat_delta resume_miss_mismatch)))
assert_eq 2 "$um" "4. resume_miss_unknown_key + resume_miss_mismatch for the other profile's session ID + ticket ($(lstats_delta_line))"
(($(lstat_delta resume_miss_mismatch) >= 1)) || fail "4. the other profile's TLS 1.2 session ID was not counted as resume_miss_mismatch ($(lstats_delta_line))"
note "4. another profile's sessions: full handshakes; $(lstats_delta_line)"

# ---- 5. tickets = "off"
restart_with tickets=off
sess_probe off-t12 "$P" -tls1_2 -sess_out "$T/off-t12.sess"
assert_eq 0 "$(sess_info "$T/off-t12.sess" ticket_len)" "tickets = off: a TLS 1.2 ticket in the saved session"
resume_expect Reused off-t12-r "$P" "$T/off-t12.sess" -tls1_2
rm -f "$T/off-t13.sess"
sess_probe off-t13 "$P" -tls1_3 -sess_out "$T/off-t13.sess"
assert_eq 0 "$(sclient_tickets "$T/off-t13.out")" "tickets = off: TLS 1.3 NewSessionTickets"
if [[ -s $T/off-t13.sess ]]; then
	assert_eq 0 "$(sess_info "$T/off-t13.sess" ticket_len)" "tickets = off: a TLS 1.3 ticket in the saved session"
	resume_expect New off-t13-r "$P" "$T/off-t13.sess" -tls1_3
else
	sess_probe off-t13-r "$P" -tls1_3
	assert_eq New "$SESS_STATE" "tickets = off: TLS 1.3"
fi
lstats_refresh
assert_lstat_deltas "5. tickets = off" handshakes_full=3 handshakes_resumed=1 resume_miss_unknown_key=0 resume_miss_bad_ticket=0 resume_miss_expired=0
note "5. tickets = off: TLS 1.2 resumed by session ID, TLS 1.3 not at all; $(lstats_delta_line)"

# ---- 6. tickets = "stateful", two workers
restart_with tickets=stateful workers=2
sess_probe sf-t13 "$P" -tls1_3 -sess_out "$T/sf-t13.sess"
(($(sess_info "$T/sf-t13.sess" ticket_len) > 0)) || fail "tickets = stateful: no TLS 1.3 ticket in the saved session"
resume_expect Reused sf-t13-r1 "$P" "$T/sf-t13.sess" -tls1_3 -sess_out "$T/sf-t13-next.sess"
for i in 2 3 4; do
	resume_expect New "sf-t13-r$i" "$P" "$T/sf-t13.sess" -tls1_3
done
resume_expect Reused sf-t13-next "$P" "$T/sf-t13-next.sess" -tls1_3
sess_probe sf-t12 "$P" -tls1_2 -sess_out "$T/sf-t12.sess"
assert_eq 0 "$(sess_info "$T/sf-t12.sess" ticket_len)" "tickets = stateful: a TLS 1.2 ticket in the saved session"
resume_expect Reused sf-t12-r1 "$P" "$T/sf-t12.sess" -tls1_2
resume_expect Reused sf-t12-r2 "$P" "$T/sf-t12.sess" -tls1_2
misses "6. tickets = stateful" 5 4 0 0 3 0 0

# ---- 7. psk_ke
# OpenSSL's server always takes psk_dhe_ke when the client offers it, and s_client
# -allow_no_dhe_kex offers psk_ke AND psk_dhe_ke (with a key share): so with OpenSSL's
# client a resumption has a key exchange ("Server Temp Key") either way.  What is checked:
# psk_ke = true does not break resumption for a client that allows psk_ke.
for ke in true false; do
	restart_with psk_ke="$ke"
	sess_probe "ke-$ke" "$P" -tls1_3 -allow_no_dhe_kex -sess_out "$T/ke-$ke.sess"
	assert_contains "$T/ke-$ke.out" "Server Temp Key" "psk_ke = $ke: the full handshake's key exchange"
	resume_expect Reused "ke-$ke-r" "$P" "$T/ke-$ke.sess" -tls1_3 -allow_no_dhe_kex
	assert_contains "$T/ke-$ke-r.out" "Server Temp Key" "psk_ke = $ke: the resumption (s_client offers psk_dhe_ke too)"
	misses "7. psk_ke = $ke" 1 1 0 0 0 0 0
done

assert_ktlsd_alive
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
note "ok"
