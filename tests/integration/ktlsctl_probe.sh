#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# ktlsctl_probe.sh - `ktlsctl probe HOST:PORT`, the TLS server measurement, checked
# against servers whose behaviour is known:
#   1. ktlsd (http backend, alpn h2,http/1.1, one worker):
#      - -n 5 --cafile CA --json: TLS 1.3, 5 connects and 5 full handshakes, the ticket
#        of each resumes (5/5), no session-ID step; address, SNI, group, the chain (the
#        leaf's subject, issuer, key and notAfter as `openssl x509` reads the file), the
#        verification; every step's min <= median <= p99 and its samples; and ktlsd's
#        own counters moved by exactly that: handshakes_full +5, handshakes_resumed +5;
#      - the text form of the same: the table rows and the leaf's subject;
#      - --tls1.2: ticket 5/5 and session ID 5/5 (ktlsd: full +10, resumed +10: one
#        more full handshake per try, with tickets off, gives the session ID);
#      - --alpn h2 / http/1.1 / foo,http/1.1 / spdy/1: what ktlsd chose, or none;
#      - --early-data 100 on a listener with early_data = true: accepted 5/5; on the
#        default listener (no early data): not sent, the ticket allows 0 bytes;
#      - [::1]:PORT (if the host has IPv6): the address used, no SNI, the IP checked;
#   2. openssl s_server:
#      - -early_data (TLS 1.3): ticket 5/5 and --early-data 100 accepted 5/5; the data
#        reached the server (its log);
#      - -www -tls1_2 (its own session cache): TLS 1.2 negotiated without --tls1.2,
#        ticket 5/5 and session ID 5/5; with -no_ticket: no ticket (skipped 3),
#        session ID 3/3;
#      - -num_tickets 0 (TLS 1.3): the ticket step has nothing to offer (skipped);
#   3. failures: nothing listening (exit 1, "Connection refused"); the test CA not
#      given (exit 1 naming the verification error); --insecure (exit 0, the error
#      reported, verify.ok false); a name the certificate lacks (--sni other.name);
#      usage errors (exit 2, the usage printed, nothing measured).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl "$PYTHON"

need_ktlsctl
N=5

# probe RC NAME ARGS...: ktlsctl probe ARGS, stdout in $T/NAME.out, stderr in $T/NAME.err;
# fails unless it exits with RC.  Sanitizer reports on stderr fail the test too.
probe() {
	local want=$1 name=$2 rc=0
	shift 2
	to 120 "$KTLSCTL" probe "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null || rc=$?
	if [[ $rc != "$want" ]]; then
		show_tail "$T/$name.out" 30
		show_tail "$T/$name.err" 20
		fail "$name: ktlsctl probe $*: exit status $rc, expected $want"
	fi
	check_sanitizer_log "$T/$name.err" || fail "$name: sanitizer report"
}

# jcheck NAME EXPR...: each Python expression is true for r = the JSON in $T/NAME.out
# (helpers: step(k) = r["steps"][k], ordered(k): min <= median <= p99 and the samples agree)
jcheck() {
	local name=$1 out
	shift
	out=$("$PYTHON" - "$T/$name.out" "$@" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
def step(k):
    return r["steps"][k]
def ordered(k):
    s = step(k)
    v = sorted(s["samples_ms"])
    return (len(v) == s["n"] and s["n"] > 0 and s["min_ms"] == v[0]
            and s["min_ms"] <= s["median_ms"] <= s["p99_ms"] == v[-1]
            and all(x >= 0 for x in v))
bad = [e for e in sys.argv[2:] if not eval(e)]
for e in bad:
    print("not true: " + e)
if bad:
    print(json.dumps(r, indent=1)[:3000])
EOF
	) || fail "$name: the output is not one JSON object"
	[[ -z $out ]] || {
		printf '%s\n' "$out"
		fail "$name: JSON checks failed"
	}
}

# the leaf ktlsd and s_server serve, as openssl reads it
LEAF_SUBJECT=$(cert_subject "$CERTS/ecdsa.crt")
CA_SUBJECT=$(cert_subject "$CA")
LEAF_END=$("$OPENSSL" x509 -in "$CERTS/ecdsa.crt" -noout -enddate | sed 's/^notAfter=//')
LEAF_END_ISO=$(date -u -d "$LEAF_END" +%Y-%m-%dT%H:%M:%SZ)
LEAF_DAYS=$(($(($(date -u -d "$LEAF_END" +%s) - $(date -u +%s))) / 86400))

# ------------------------------------------------------------------ 1. ktlsd
start_backend http
P2=$(free_port)
write_config "$T/k.conf" backend="$BACKEND_ADDR" listen2="127.0.0.1:$P2" early_data2=true
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT

lstats_snapshot main
probe 0 k13 "127.0.0.1:$P" --sni localhost -n $N --cafile "$CA" --json
lstats_refresh main
assert_lstat_deltas "probe -n $N (TLS 1.3)" handshakes_full=$N handshakes_resumed=$N
jcheck k13 \
	"r['target'] == '127.0.0.1:$P' and r['address'] == '127.0.0.1:$P' and r['port'] == $P" \
	"r['sni'] == 'localhost' and r['tries'] == $N" \
	"r['version'] == 'TLSv1.3' and r['cipher'].startswith('TLS_') and r['group']" \
	"r['alpn'] is None and r['alpn_offered'] is None" \
	"r['verify'] == {'ok': True, 'code': 0, 'result': 'ok', 'name': 'localhost', 'ca': '$CA', 'enforced': True}" \
	"len(r['chain']) == 1" \
	"r['chain'][0]['subject'] == '$LEAF_SUBJECT' and r['chain'][0]['issuer'] == '$CA_SUBJECT'" \
	"r['chain'][0]['key_type'] == 'EC' and r['chain'][0]['key_bits'] == 256 and r['chain'][0]['key_group'] == 'prime256v1'" \
	"r['chain'][0]['signature'] == 'ecdsa-with-SHA256' and r['chain'][0]['not_after'] == '$LEAF_END_ISO'" \
	"abs(r['chain'][0]['days_left'] - $LEAF_DAYS) <= 1" \
	"sorted(r['steps']) == ['connect', 'full', 'ticket']" \
	"step('connect')['n'] == $N and step('full')['n'] == $N and step('full')['hits'] is None" \
	"step('ticket')['n'] == $N and step('ticket')['hits'] == $N and step('ticket')['skipped'] == 0" \
	"ordered('connect') and ordered('full') and ordered('ticket')"
note "ktlsd, TLS 1.3: full $N, ticket $N/$N resumed, ktlsd counted $N full + $N resumed"

# the text form: the same facts for people
probe 0 k13-text "localhost:$P" -n 2 --cafile "$CA"
assert_match "$T/k13-text.out" "^target: +localhost:$P \(address 127\.0\.0\.1:$P, SNI localhost\)$" "text: target"
assert_match "$T/k13-text.out" '^negotiated: +TLSv1\.3, cipher TLS_[A-Z0-9_]+, group [a-z0-9]+, ALPN none$' "text: negotiated"
assert_match "$T/k13-text.out" "^verification: +ok \(name localhost, CA $CA\)$" "text: verification"
assert_contains "$T/k13-text.out" "  0 subject   $LEAF_SUBJECT" "text: the leaf"
assert_match "$T/k13-text.out" '^  STEP +N +MIN +MEDIAN +P99 +HITS$' "text: table header"
assert_match "$T/k13-text.out" '^  full +2( +[0-9]+\.[0-9]{3}){3}  -$' "text: full row"
assert_match "$T/k13-text.out" '^  ticket +2( +[0-9]+\.[0-9]{3}){3}  2/2$' "text: ticket row"

# TLS 1.2: tickets, and session IDs (ktlsd's shared session cache)
lstats_snapshot main
probe 0 k12 "localhost:$P" -n $N --tls1.2 --cafile "$CA" --json
lstats_refresh main
assert_lstat_deltas "probe --tls1.2 -n $N" handshakes_full=$((2 * N)) handshakes_resumed=$((2 * N))
jcheck k12 "r['version'] == 'TLSv1.2' and r['sni'] == 'localhost'" \
	"sorted(r['steps']) == ['connect', 'full', 'session_id', 'ticket']" \
	"step('ticket')['hits'] == $N and step('ticket')['n'] == $N" \
	"step('session_id')['hits'] == $N and step('session_id')['n'] == $N" \
	"ordered('full') and ordered('ticket') and ordered('session_id')"
note "ktlsd, TLS 1.2: ticket $N/$N, session ID $N/$N (ktlsd: +$((2 * N)) full, +$((2 * N)) resumed)"

# ALPN: ktlsd's order is h2, http/1.1
for c in "h2 h2" "http/1.1 http/1.1" "foo,http/1.1 http/1.1" "http/1.1,h2 h2"; do
	read -r offer want <<<"$c"
	probe 0 "alpn-${offer//[\/,]/_}" "localhost:$P" -n 1 --alpn "$offer" --cafile "$CA" --json
	jcheck "alpn-${offer//[\/,]/_}" "r['alpn'] == '$want'" "r['alpn_offered'] == '$offer'.split(',')" \
		"step('ticket')['hits'] == 1"
done
# nothing in common: no ALPN, or the no_application_protocol alert (exit 1)
rc=0
to 60 "$KTLSCTL" probe "localhost:$P" -n 1 --alpn spdy/1 --cafile "$CA" --json >"$T/alpn-none.out" 2>"$T/alpn-none.err" || rc=$?
check_sanitizer_log "$T/alpn-none.err" || fail "alpn-none: sanitizer report"
if ((rc == 0)); then
	jcheck alpn-none "r['alpn'] is None"
else
	assert_eq 1 "$rc" "--alpn spdy/1: exit status"
	assert_match "$T/alpn-none.err" 'no application protocol' "--alpn spdy/1: the alert"
fi
note "ALPN: h2, http/1.1 chosen as ktlsd prefers; spdy/1: $( ((rc == 0)) && echo none || echo refused)"

# 0-RTT: the listener with early_data = true accepts; the default one's tickets allow none
lstats_snapshot second
probe 0 k-early "localhost:$P2" -n $N --early-data 100 --cafile "$CA" --json
lstats_refresh second
jcheck k-early "sorted(r['steps']) == ['connect', 'early_data', 'full', 'ticket']" \
	"step('ticket')['hits'] == $N" \
	"step('early_data')['n'] == $N and step('early_data')['accepted'] == $N and step('early_data')['hits'] == $N" \
	"step('early_data')['rejected'] == 0 and step('early_data')['bytes'] == 100" \
	"step('early_data')['max_early_data'] > 100 and ordered('early_data')"
assert_lstat_deltas "probe --early-data" handshakes_full=$N handshakes_resumed=$((2 * N)) \
	early_data_accepted=$N
probe 0 k-early-off "localhost:$P" -n 2 --early-data 100 --cafile "$CA" --json
jcheck k-early-off "step('early_data')['n'] == 0 and step('early_data')['not_sent'] == 2" \
	"step('early_data')['max_early_data'] == 0 and step('early_data')['min_ms'] is None"
probe 0 k-early-off-text "localhost:$P" -n 2 --early-data 100 --cafile "$CA"
assert_contains "$T/k-early-off-text.out" "early_data: not sent in 2 tries: the server's tickets allow 0 bytes of early data, 100 asked" "text: 0-RTT not sent"
note "ktlsd 0-RTT: accepted $N/$N with early_data = true; not sent (0 allowed) without"

if have_ipv6; then
	K1_PID=$KTLSD_PID K1_LOG=$KTLSD_LOG
	P6=$(free_port)
	write_config "$T/k6.conf" backend="$BACKEND_ADDR" listen="[::1]:$P6"
	start_ktlsd "$T/k6.conf"
	probe 0 k6 "[::1]:$P6" -n 2 --cafile "$CA" --json
	jcheck k6 "r['address'] == '[::1]:$P6' and r['host'] == '::1' and r['sni'] is None" \
		"r['verify']['name'] == '::1' and r['verify']['ok']" "step('ticket')['hits'] == 2"
	stop_ktlsd
	assert_eq 0 "$KTLSD_RC" "the IPv6 ktlsd's exit status after SIGTERM"
	KTLSD_PID=$K1_PID KTLSD_LOG=$K1_LOG
	note "IPv6: [::1]:$P6, no SNI, the certificate's IP address verified"
else
	note "no IPv6 on this host: [::1] not probed"
fi

# ------------------------------------------------------------------ 2. openssl s_server
# sserver NAME PORT ARGS...: s_server with the ECDSA leaf on 127.0.0.1:PORT; its stdin
# a FIFO this shell holds open (without -www it ends at stdin's EOF); log $T/NAME.log
SS_FDS=()
sserver() {
	local name=$1 port=$2 fd
	shift 2
	mkfifo "$T/$name.fifo"
	exec {fd}<>"$T/$name.fifo"
	SS_FDS+=("$fd")
	"$OPENSSL" s_server -accept "127.0.0.1:$port" -cert "$CERTS/ecdsa.crt" \
		-key "$CERTS/ecdsa.key" "$@" <"$T/$name.fifo" >"$T/$name.log" 2>&1 &
	track $!
	wait_port 127.0.0.1 "$port" 10 || {
		show_tail "$T/$name.log"
		fail "openssl s_server $* did not listen on $port"
	}
}

S1=$(free_port)
sserver ss13 "$S1" -early_data
probe 0 s13 "localhost:$S1" -n $N --early-data 100 --cafile "$CA" --json
jcheck s13 "r['version'] == 'TLSv1.3' and r['chain'][0]['subject'] == '$LEAF_SUBJECT'" \
	"step('ticket')['hits'] == $N and step('ticket')['n'] == $N" \
	"step('early_data')['accepted'] == $N and step('early_data')['rejected'] == 0" \
	"ordered('ticket') and ordered('early_data')"
assert_eq $N "$(grep -c '^Early data received:' "$T/ss13.log" || true)" "s_server: connections with early data"
assert_contains "$T/ss13.log" "ktlsctl probe 0-RTT data" "s_server: the early data"
note "s_server -early_data: ticket $N/$N, 0-RTT accepted $N/$N"

S2=$(free_port)
sserver ss12 "$S2" -www -tls1_2
probe 0 s12 "localhost:$S2" -n $N --cafile "$CA" --json
jcheck s12 "r['version'] == 'TLSv1.2' and r['cipher'].startswith('ECDHE-ECDSA-')" \
	"step('ticket')['hits'] == $N and step('session_id')['hits'] == $N" \
	"step('session_id')['n'] == $N and ordered('session_id')"
note "s_server -www -tls1_2: TLS 1.2 negotiated, ticket $N/$N, session ID $N/$N"

S3=$(free_port)
sserver ss12nt "$S3" -www -tls1_2 -no_ticket
probe 0 s12nt "localhost:$S3" -n 3 --cafile "$CA" --json
jcheck s12nt "step('ticket')['n'] == 0 and step('ticket')['skipped'] == 3 and step('ticket')['hits'] == 0" \
	"step('session_id')['hits'] == 3"
probe 0 s12nt-text "localhost:$S3" -n 3 --cafile "$CA"
assert_contains "$T/s12nt-text.out" "ticket: 3 tries without a session to offer (the server gave none)" "text: no ticket"
note "s_server -no_ticket: ticket skipped 3/3, session ID 3/3"

S4=$(free_port)
sserver ss13nt "$S4" -num_tickets 0
probe 0 s13nt "localhost:$S4" -n 2 --cafile "$CA" --json
jcheck s13nt "r['version'] == 'TLSv1.3' and step('ticket')['skipped'] == 2 and step('ticket')['n'] == 0"
note "s_server -num_tickets 0: nothing to resume with (skipped 2/2)"

# ------------------------------------------------------------------ 3. failures
DEAD=$(free_port)
probe 1 refused "127.0.0.1:$DEAD" -n 2
assert_match "$T/refused.err" "^ktlsctl: probe 127\.0\.0\.1:$DEAD: cannot connect: connect to 127\.0\.0\.1:$DEAD: Connection refused$" "nothing listening"
[[ ! -s $T/refused.out ]] || fail "refused: wrote to stdout"

probe 1 unverified "localhost:$P" -n 2
assert_match "$T/unverified.err" "^ktlsctl: probe localhost:$P: .*certificate verification failed: unable to get local issuer certificate$" "no CA"
probe 0 insecure "localhost:$P" -n 2 --insecure --json
jcheck insecure "r['verify']['ok'] is False and r['verify']['code'] == 20" \
	"r['verify']['result'] == 'unable to get local issuer certificate' and r['verify']['enforced'] is False" \
	"r['verify']['ca'] == 'system' and step('ticket')['hits'] == 2"
probe 0 insecure-ca "localhost:$P" -n 1 --insecure --cafile "$CA" --json
jcheck insecure-ca "r['verify']['ok'] is True and r['verify']['enforced'] is False"
probe 0 insecure-text "localhost:$P" -n 1 --insecure
assert_match "$T/insecure-text.out" '^verification: +FAILED: unable to get local issuer certificate \(name localhost, CA system\), measured anyway \(--insecure\)$' "text: --insecure"
probe 1 wrongname "localhost:$P" -n 1 --sni nothere.test --cafile "$CA"
assert_contains "$T/wrongname.err" "certificate verification failed: hostname mismatch (expected nothere.test)" "a name the certificate lacks"
# a server that accepts and says nothing: the handshake step times out (-t 0.5)
start_backend hold
t0=$(now_ms)
probe 1 silent "127.0.0.1:$BACKEND_PORT" -n 1 -t 0.5
assert_match "$T/silent.err" "^ktlsctl: probe 127\.0\.0\.1:$BACKEND_PORT: try 1 \(full handshake, 127\.0\.0\.1:$BACKEND_PORT\): handshake: no progress within 0\.5 s$" "a silent server"
(($(now_ms) - t0 < $(scaled_int 5) * 1000)) || fail "silent server: -t 0.5 took $(($(now_ms) - t0)) ms"
# one that resets the connection at once
start_backend reset
probe 1 reset "127.0.0.1:$BACKEND_PORT" -n 1
assert_match "$T/reset.err" "^ktlsctl: probe 127\.0\.0\.1:$BACKEND_PORT: try 1 \(full handshake, 127\.0\.0\.1:$BACKEND_PORT\): handshake: (Connection reset by peer|the server closed the connection|.*unexpected eof.*)$" "a resetting server"
note "failures: refused, unverified (exit 1), --insecure (exit 0, reported), hostname mismatch, silent server (-t), reset"

u=0
usage_case() { # ARGS...: exit 2, a reason and the usage on stderr, nothing on stdout
	u=$((u + 1))
	probe 2 "usage$u" "$@"
	assert_match "$T/usage$u.err" '^ktlsctl: ' "usage '$*': reason"
	assert_contains "$T/usage$u.err" "usage: ktlsctl" "usage '$*': the usage"
	[[ ! -s $T/usage$u.out ]] || fail "usage '$*': wrote to stdout"
}
usage_case
usage_case "localhost:$P" extra
usage_case localhost
usage_case "localhost:0"
usage_case "localhost:65536"
usage_case "::1:$P"
usage_case "[localhost]:$P"
usage_case "localhost:$P" -n 0
usage_case "localhost:$P" -n abc
usage_case "localhost:$P" -n 10001
usage_case "localhost:$P" --tls1.2 --tls1.3
usage_case "localhost:$P" --tls1.2 --early-data 10
usage_case "localhost:$P" --early-data -1
usage_case "localhost:$P" --alpn h2,,x
usage_case "localhost:$P" --alpn ""
usage_case "localhost:$P" --sni ""
usage_case "localhost:$P" --listener main
usage_case "localhost:$P" -t 0
# probe's options belong to probe
rc=0
"$KTLSCTL" -s "$T/none.sock" status --alpn h2 >"$T/status-alpn.out" 2>"$T/status-alpn.err" || rc=$?
assert_eq 2 "$rc" "status --alpn: exit status"
assert_contains "$T/status-alpn.err" "status: option --alpn does not apply" "status --alpn"
note "usage errors: $u cases, exit 2"

assert_ktlsd_alive
note "ok"
