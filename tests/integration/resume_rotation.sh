#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# resume_rotation.sh - in-memory ticket keys rotate every ticket_rotation seconds
# and ticket_keys_kept = 1 previous key still decrypts:
#   - a TLS 1.2 and a TLS 1.3 ticket issued under key K0 still resume once K1 has
#     replaced it (one rotation), and the resumed connection gets a fresh ticket
#     under K1 (the 16-byte key name at the start of the ticket says which key), which
#     resumes too;
#   - after the second rotation K0 is gone: the old tickets give full handshakes,
#     with no error for the client, counted as resume_miss_unknown_key.
# The current key is found by looking at the key name of a freshly issued ticket
# (no log format involved); if a rotation races a step, that step is retried.
# ticket_rotation is 6 s * TIMEOUT_SCALE: long enough for the steps between two rotations
# (several s_client runs and a stats read) on a loaded machine under ASan.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl

R=$(scaled_int 6)
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" ticket_rotation="$R" ticket_keys_kept=1
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT

# current_key: CUR <- the key name in a brand-new TLS 1.2 ticket
NPROBE=0
current_key() {
	NPROBE=$((NPROBE + 1))
	sess_probe "cur-$NPROBE" "$P" -tls1_2 -sess_out "$T/cur.sess"
	CUR=$(sess_info "$T/cur.sess" key_name)
	[[ ${#CUR} == 32 ]] || fail "a fresh TLS 1.2 ticket has no 16-byte key name (ticket_len $(sess_info "$T/cur.sess" ticket_len))"
}
_key_is_not() {
	current_key
	[[ $CUR != "$1" ]]
}
# wait_rotation OLD: until new tickets are issued under another key than OLD; CUR is it
wait_rotation() {
	wait_until 20 _key_is_not "$1" ||
		fail "the ticket key did not change within $(scaled 20) s with ticket_rotation = $R (still $1)"
}

# offer NAME SESS ARGS: like resume_expect, but only sets SESS_STATE
offer() { sess_probe "$1" "$P" -sess_in "$2" "${@:3}"; }

done1=0
for attempt in 1 2 3; do
	sess_probe "a12-$attempt" "$P" -tls1_2 -sess_out "$T/a12.sess"
	sess_probe "a13-$attempt" "$P" -tls1_3 -sess_out "$T/a13.sess"
	K0=$(sess_info "$T/a12.sess" key_name)
	[[ ${#K0} == 32 ]] || fail "the TLS 1.2 ticket has no 16-byte key name"
	if [[ $(sess_info "$T/a13.sess" key_name) != "$K0" ]]; then
		note "attempt $attempt: a rotation came between the two tickets; again"
		continue
	fi
	wait_rotation "$K0"
	K1=$CUR
	note "K0 ${K0:0:8} replaced by K1 ${K1:0:8}"
	lstats_snapshot
	offer "a12-r-$attempt" "$T/a12.sess" -tls1_2
	s12=$SESS_STATE
	offer "a13-r-$attempt" "$T/a13.sess" -tls1_3 -sess_out "$T/b13.sess"
	s13=$SESS_STATE
	lstats_refresh
	current_key
	if [[ $CUR != "$K1" ]]; then
		note "attempt $attempt: a second rotation came before the resumptions were checked; again"
		continue
	fi
	assert_eq Reused "$s12" "TLS 1.2 ticket under the previous key (one rotation later)"
	assert_eq Reused "$s13" "TLS 1.3 ticket under the previous key (one rotation later)"
	assert_lstat_deltas "tickets under the previous key" handshakes_full=0 handshakes_resumed=2 \
		resume_miss_unknown_key=0 resume_miss_bad_ticket=0 resume_miss_expired=0 resume_miss_mismatch=0
	# s_client saves no session from a resumed TLS 1.2 handshake; it prints the renewed ticket
	assert_eq "$K1" "$(sclient_ticket_name "$T/a12-r-$attempt.out")" "TLS 1.2: the key of the fresh ticket sent on the resumed connection"
	assert_eq "$K1" "$(sess_info "$T/b13.sess" key_name)" "TLS 1.3: the key of the ticket sent on the resumed connection"
	resume_expect Reused "b13-r-$attempt" "$P" "$T/b13.sess" -tls1_3
	note "one rotation later: the K0 tickets resumed and were replaced by K1 tickets; the TLS 1.3 one resumes"
	done1=1
	break
done
((done1)) || fail "three attempts, each raced by a rotation (ticket_rotation = $R s): the machine is too slow for this TIMEOUT_SCALE"

wait_rotation "$K1"
K2=$CUR
note "K1 ${K1:0:8} replaced by K2 ${K2:0:8}: K0 retired (ticket_keys_kept = 1)"
lstats_snapshot
resume_expect New a12-retired "$P" "$T/a12.sess" -tls1_2
resume_expect New a13-retired "$P" "$T/a13.sess" -tls1_3
lstats_refresh
assert_lstat_deltas "tickets under a retired key" handshakes_full=2 handshakes_resumed=0 \
	resume_miss_unknown_key=2 resume_miss_bad_ticket=0 resume_miss_cache=0 resume_miss_expired=0 resume_miss_mismatch=0
note "two rotations later: full handshakes, resume_miss_unknown_key +2"

assert_ktlsd_alive
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
note "ok"
