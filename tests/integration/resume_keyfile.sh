#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# resume_keyfile.sh - ticket keys from files (nginx's ssl_session_ticket_key format):
#   1. ticket_key_files = [ a.key ] (80 bytes, `openssl rand 80`): TLS 1.2 and 1.3
#      tickets carry a.key's 16-byte name; they resume after a restart of ktlsd;
#   2. a second ktlsd (its own config and port) with the same key file: tickets of
#      either instance resume on the other;
#   3. a 48-byte key file works the same (name = its first 16 bytes, resumes);
#   4. a wrong-size (79 bytes) or missing key file: ktlsd exits 1 at start with a
#      "CONFIG:LINE: ..." error that names the key file;
#   5. SIGHUP with [ b.key, a.key ]: new tickets under b, a's tickets still resume;
#      with [ b.key ] alone a's tickets give full handshakes (resume_miss_unknown_key);
#      a reload with a wrong-size file is refused and b keeps working;
#   6. the first file rewritten in place (no SIGHUP): new tickets soon carry its new name;
#   7. no key bytes in any ktlsd log (hex, either case, 16-byte pieces; base64).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl

K=$T/keys
mkdir -p "$K"
"$OPENSSL" rand -out "$K/a.key" 80
"$OPENSSL" rand -out "$K/b.key" 80
"$OPENSSL" rand -out "$K/c48.key" 48
"$OPENSSL" rand -out "$K/bad.key" 79
keyname() { head -c 16 "$1" | od -An -tx1 | tr -d ' \n'; }

start_backend http
P=$(free_port)
P2=$(free_port)
write_config "$T/a.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P" ticket_key_files="$K/a.key"
start_ktlsd "$T/a.conf"

# tickets NAME PORT: a TLS 1.2 and a TLS 1.3 session in $T/NAME-12.sess, $T/NAME-13.sess
tickets() {
	sess_probe "$1-12" "$2" -tls1_2 -sess_out "$T/$1-12.sess"
	sess_probe "$1-13" "$2" -tls1_3 -sess_out "$T/$1-13.sess"
}
# expect_key NAME KEYFILE: both tickets of NAME carry KEYFILE's name
expect_key() {
	assert_eq "$(keyname "$2")" "$(sess_info "$T/$1-12.sess" key_name)" "$1: the TLS 1.2 ticket's key name (${2##*/} encrypts)"
	assert_eq "$(keyname "$2")" "$(sess_info "$T/$1-13.sess" key_name)" "$1: the TLS 1.3 ticket's key name (${2##*/} encrypts)"
}
# resume_both STATE NAME PORT: both tickets of NAME give STATE (New/Reused)
resume_both() {
	resume_expect "$1" "$2-12-on$3" "$3" "$T/$2-12.sess" -tls1_2
	resume_expect "$1" "$2-13-on$3" "$3" "$T/$2-13.sess" -tls1_3
}

# ---- 1. restart
tickets t1 "$P"
expect_key t1 "$K/a.key"
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
start_ktlsd "$T/a.conf"
lstats_snapshot
resume_both Reused t1 "$P"
lstats_refresh
assert_lstat_deltas "1. tickets from before a restart" handshakes_full=0 handshakes_resumed=2 resume_miss_unknown_key=0
note "1. a.key: tickets resume after a restart"

# ---- 2. two instances, one key file
PID1=$KTLSD_PID LOG1=$KTLSD_LOG
write_config "$T/a2.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P2" ticket_key_files="$K/a.key"
start_ktlsd "$T/a2.conf"
PID2=$KTLSD_PID LOG2=$KTLSD_LOG
tickets t2 "$P2"
expect_key t2 "$K/a.key"
resume_both Reused t2 "$P"
resume_both Reused t1 "$P2"
lstats_refresh main "$PID2" "$LOG2"
assert_eq 2 "$(lstat handshakes_resumed)" "2. the second instance: handshakes_resumed (the first instance's tickets)"
stop_ktlsd "$PID2"
assert_eq 0 "$KTLSD_RC" "the second ktlsd's exit status after SIGTERM"
KTLSD_PID=$PID1 KTLSD_LOG=$LOG1
note "2. two instances sharing a.key resume each other's tickets"

# ---- 3. a 48-byte key file
stop_ktlsd
write_config "$T/c.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P" ticket_key_files="$K/c48.key"
start_ktlsd "$T/c.conf"
tickets t3 "$P"
expect_key t3 "$K/c48.key"
resume_both Reused t3 "$P"
resume_both New t1 "$P"
note "3. a 48-byte key file: tickets resume; a.key's tickets do not"

# ---- 4. bad key files at start
for bad in "$K/bad.key" "$K/missing.key"; do
	write_config "$T/bad.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P2" ticket_key_files="$K/a.key,$bad"
	rc=0
	to 20 "$KTLSD" -f -c "$T/bad.conf" >"$T/bad-start.log" 2>&1 </dev/null || rc=$?
	assert_rc 1 "$rc" "ktlsd with ticket key file ${bad##*/}" "$T/bad-start.log"
	assert_match "$T/bad-start.log" "$T/bad.conf:[0-9]+: .*${bad##*/}" "the error for ticket key file ${bad##*/}"
	note "4. ${bad##*/}: $(grep -E "$T/bad.conf:[0-9]+:" "$T/bad-start.log" | head -n1 | sed "s|$T/||g")"
done

# ---- 5. reloads
stop_ktlsd
cp "$T/a.conf" "$T/r.conf"
start_ktlsd "$T/r.conf"
tickets t5a "$P"
expect_key t5a "$K/a.key"
write_config "$T/r.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P" ticket_key_files="$K/b.key,$K/a.key"
reload_ktlsd || fail "no reload result in the log after SIGHUP with [ b.key, a.key ]"
assert_match "$KTLSD_LOG" 'reloaded' "reload with [ b.key, a.key ]"
sleep "$(scaled 0.3)" # let the workers switch
tickets t5b "$P"
expect_key t5b "$K/b.key"
resume_both Reused t5a "$P"
resume_both Reused t5b "$P"
note "5. [ b.key, a.key ]: b encrypts, a's tickets still resume"

write_config "$T/r.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P" ticket_key_files="$K/b.key"
reload_ktlsd || fail "no reload result in the log after SIGHUP with [ b.key ]"
sleep "$(scaled 0.3)"
lstats_snapshot
resume_both New t5a "$P"
resume_both Reused t5b "$P"
lstats_refresh
assert_lstat_deltas "5. [ b.key ] alone" handshakes_full=2 handshakes_resumed=2 resume_miss_unknown_key=2 resume_miss_bad_ticket=0
note "5. [ b.key ]: a's tickets give full handshakes (unknown key), b's resume"

write_config "$T/r.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P" ticket_key_files="$K/bad.key"
reload_ktlsd || fail "no reload result in the log after SIGHUP with a 79-byte key file"
assert_ktlsd_alive
tail -n 5 "$KTLSD_LOG" | grep -qiE 'reload[a-z]* (failed|refused)' || {
	show_tail "$KTLSD_LOG" 10
	fail "SIGHUP with a 79-byte key file was not reported as a failed reload"
}
assert_match "$KTLSD_LOG" "$T/r.conf:[0-9]+: .*bad.key" "the reload error names the key file"
tickets t5c "$P"
expect_key t5c "$K/b.key"
resume_both Reused t5b "$P"
note "5. a reload with a 79-byte key file is refused; b.key keeps encrypting"

# ---- 6. the first file changes in place
write_config "$T/r.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P" ticket_key_files="$K/b.key"
reload_ktlsd || fail "no reload result after restoring [ b.key ]"
cp "$K/b.key" "$K/b-old.key"
"$OPENSSL" rand -out "$K/b.new" 80
mv -f "$K/b.new" "$K/b.key"
want=$(keyname "$K/b.key")
NT=0
_new_name() {
	NT=$((NT + 1))
	sess_probe "t6-$NT" "$P" -tls1_2 -sess_out "$T/t6.sess"
	[[ $(sess_info "$T/t6.sess" key_name) == "$want" ]]
}
wait_until 10 _new_name || fail "b.key rewritten: new tickets still carry $(sess_info "$T/t6.sess" key_name), not $want, after $(scaled 10) s"
note "6. b.key rewritten in place: new tickets carry its new name after $NT probe(s)"

# ---- 7. no key material in the logs
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
for f in a.key b.key b-old.key c48.key; do
	size=$(size_of "$K/$f")
	hex=$(od -An -tx1 -v "$K/$f" | tr -d ' \n')
	for ((o = 32; o + 32 <= size * 2; o += 32)); do # 16-byte pieces after the name
		piece=${hex:o:32}
		for l in "$T"/ktlsd-*.log "$T/bad-start.log"; do
			if grep -qiF -- "$piece" "$l"; then
				fail "key bytes of $f (offset $((o / 2))) appear in ${l#"$T"/}"
			fi
		done
	done
	b64=$(base64 -w0 "$K/$f")
	! grep -qF -- "${b64:0:40}" "$T"/ktlsd-*.log || fail "$f in base64 appears in a ktlsd log"
done
note "7. no key bytes in the logs"
note "ok"
