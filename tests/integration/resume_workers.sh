#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# resume_workers.sh - with workers = 2 a session resumes whichever worker the new
# connection lands on (SO_REUSEPORT spreads them by the client's port): the session
# cache and the ticket keys are shared by the workers.  For TLS 1.2 by session ID,
# TLS 1.2 by ticket and TLS 1.3 by ticket: one full handshake (s_client -sess_out),
# then 20 connections offering that session; every one is "Reused", ktlsd's debug
# log shows resumed handshakes on worker 0 and on worker 1, and some of them on the
# worker that did NOT issue the session; the listener counters say 3 full, 60
# resumed, no misses.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl

start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" workers=2
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
lstats_snapshot

N=20
DONE_RE='handshake done on worker [0-9]+: '
n_done() { count_log "$KTLSD_LOG" "$DONE_RE"; }
worker_of() { sed -nE 's/.*handshake done on worker ([0-9]+): .*/\1/p' <<<"$1"; }

for kind in "t12sid -tls1_2 -no_ticket" "t12tk -tls1_2" "t13 -tls1_3"; do
	read -r k flags <<<"$kind"
	read -ra fl <<<"$flags"
	before=$(n_done)
	sess_probe "$k-new" "$P" "${fl[@]}" -sess_out "$T/$k.sess"
	assert_eq New "$SESS_STATE" "$k: the first connection"
	wait_until 10 _log_count_above "$KTLSD_LOG" "$DONE_RE" "$before" ||
		fail "no 'conn N: handshake done on worker W: ...' debug line for the first $k connection"
	issuer=$(worker_of "$(grep -E "$DONE_RE" "$KTLSD_LOG" | tail -n1)")
	[[ $issuer =~ ^[01]$ ]] || fail "$k: cannot tell the issuing worker from: $(grep -E "$DONE_RE" "$KTLSD_LOG" | tail -n1)"
	from=$(($(wc -l <"$KTLSD_LOG") + 1))
	for ((i = 1; i <= N; i++)); do
		resume_expect Reused "$k-r$i" "$P" "$T/$k.sess" "${fl[@]}"
	done
	sleep "$(scaled 0.2)" # the last debug line
	tail -n +"$from" "$KTLSD_LOG" | grep -E "$DONE_RE" >"$T/$k.done" || true
	r0=$(grep -cE 'on worker 0: .*, resumed(,|$)' "$T/$k.done" || true)
	r1=$(grep -cE 'on worker 1: .*, resumed(,|$)' "$T/$k.done" || true)
	assert_eq "$N" $((r0 + r1)) "$k: resumed handshakes in ktlsd's debug log"
	other=$((issuer == 0 ? r1 : r0))
	((r0 > 0 && r1 > 0)) || fail "$k: all $N resumptions on one worker (worker 0: $r0, worker 1: $r1): SO_REUSEPORT did not spread them, or a worker cannot resume"
	note "$k: issued on worker $issuer; $N of $N resumed (worker 0: $r0, worker 1: $r1; $other on the other worker)"
done

lstats_refresh
assert_lstat_deltas "3 x (1 full + $N resumed) on 2 workers" handshakes_full=3 handshakes_resumed=$((3 * N)) \
	resume_miss_unknown_key=0 resume_miss_bad_ticket=0 resume_miss_cache=0 resume_miss_expired=0 resume_miss_mismatch=0
assert_eq $((3 + 3 * N)) "$(kstat_delta handshakes_completed)" "global handshakes_completed delta"
assert_ktlsd_alive
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
note "ok"
