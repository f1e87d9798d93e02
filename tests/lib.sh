# shellcheck shell=bash
# shellcheck disable=SC2034 # variables set here are for the scenarios
# SPDX-License-Identifier: MIT
#
# tests/lib.sh - shared helpers for the integration scenarios in tests/integration/.
#
# A scenario starts with
#     . "$(dirname "$0")/../lib.sh"
# and then gets:
#   - strict mode (set -euo pipefail), a private temp dir $T, and an EXIT trap
#     that stops every process the scenario started (ktlsd gets SIGTERM first
#     so sanitizer builds report leaks) and fails the test if a sanitizer
#     reported anything;
#   - CERTS: a cached test PKI (scripts/gen-certs.sh) under $BUILD/test-certs;
#   - free_port, write_config, start_ktlsd/stop_ktlsd/reload_ktlsd,
#     start_backend, wait_port/wait_log/wait_exit, the client wrappers, and
#     assertions that print what differed.
#
# Exit codes of a scenario: 0 pass, 1 fail, 77 skip.
#
# Environment:
#   BUILD          build directory (default: build), relative to the repository
#   KTLSD          the daemon binary (default: $BUILD/ktlsd)
#   TIMEOUT_SCALE  multiplier for every wait and timeout (default 1; 10 in a slow VM)
#   KTLSD_VERBOSE  1 (default) runs ktlsd with -v
#   KEEP_TMP       1 keeps $T after the test (its path is printed)
#   TEST_LOG_DIR   if set, every *.log of $T is copied there at exit
#   PYTHON         python3 interpreter (default: python3)

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) BUILDDIR=$BUILD ;;
*) BUILDDIR=$ROOT/$BUILD ;;
esac
KTLSD=${KTLSD:-$BUILDDIR/ktlsd}
KTLSCTL=${KTLSCTL:-$BUILDDIR/ktlsctl}
TIMEOUT_SCALE=${TIMEOUT_SCALE:-1}
KTLSD_VERBOSE=${KTLSD_VERBOSE:-1}
PYTHON=${PYTHON:-python3}
TOOLS=$ROOT/tests/tools
BACKEND_PY=$TOOLS/backend.py
TEST_NAME=${TEST_NAME:-$(basename "$0" .sh)}
OPENSSL=${OPENSSL:-openssl}

# Sanitizer builds: report everything, keep going, never ask for a symbolizer we lack.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=0}
export LSAN_OPTIONS=${LSAN_OPTIONS:-}

T=$(mktemp -d "${TMPDIR:-/tmp}/ktlsd-$TEST_NAME.XXXXXX")
_PIDS=()        # every background process started through this library
_KTLSD_PIDS=()  # the ktlsd instances among them
_KTLSD_LOGS=()  # and their logs
declare -A _KTLSD_REAPED=() # the ones stop_ktlsd (or start_ktlsd) already collected
_KTLSD_N=0
_BACKEND_N=0
_FAILED=0
_T0=$SECONDS

# ------------------------------------------------------------------ messages
say() { printf '[%s +%ds] %s\n' "$TEST_NAME" $((SECONDS - _T0)) "$*"; }
note() { say "$*"; }

# Prints the tail of a file under a header (for diagnostics).
show_tail() { # FILE [LINES]
	local f=$1 n=${2:-40}
	if [[ -s $f ]]; then
		printf -- '----- last %d lines of %s -----\n' "$n" "${f#"$T"/}"
		tail -n "$n" "$f"
		printf -- '-----\n'
	fi
}

# Dumps every ktlsd log, then exits 1.
fail() {
	_FAILED=1
	say "FAIL: $*"
	local l
	for l in "${_KTLSD_LOGS[@]}"; do show_tail "$l" 60; done
	exit 1
}

skip() {
	say "SKIP: $*"
	exit 77
}

# ------------------------------------------------------------------ fuzzing
# run_fuzzer TARGET: builds the libFuzzer targets (`make fuzz`: clang, ASan, UBSan) and
# runs $BUILD/fuzz/TARGET for FUZZ_SECONDS (default 20) from the seed corpus
# fuzz/corpus/${TARGET#fuzz_}; fails on any crash, leak or sanitizer report, with the
# input left in $T. Known leaks inside libraries are listed in fuzz/lsan.supp.
run_fuzzer() {
	local target=$1 corpus=$ROOT/fuzz/corpus/${1#fuzz_} fuzzer=$BUILD/fuzz/$1 secs rc=0 runs
	command -v clang >/dev/null || fail "clang is not installed (scripts/deps.sh check installs it)"
	make -s -C "$ROOT" BUILD="$BUILD" fuzz >"$T/build.log" 2>&1 || {
		show_tail "$T/build.log" 30
		fail "make fuzz failed"
	}
	[[ -x $fuzzer ]] || fail "make fuzz did not produce $fuzzer"
	mkdir -p "$T/corpus"
	cp "$corpus"/* "$T/corpus/"
	secs=${FUZZ_SECONDS:-20}
	(cd "$T" && LSAN_OPTIONS=suppressions=$ROOT/fuzz/lsan.supp "$fuzzer" -max_total_time="$secs" \
		-max_len=70000 -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$T/corpus" \
		>"$T/fuzz.log" 2>&1) || rc=$?
	if ((rc != 0)) || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$T/fuzz.log"; then
		show_tail "$T/fuzz.log" 40
		fail "the fuzzer found a problem (exit $rc); the input is in $T (crash-*, leak-*)"
	fi
	runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$T/fuzz.log" | tail -n1)
	note "$target: ${runs:-?} inputs in ${secs}s, no crash, leak or sanitizer report"
}

# ------------------------------------------------------------------ timing
# scaled SECONDS -> SECONDS * TIMEOUT_SCALE (decimals allowed)
scaled() { awk -v a="$1" -v s="$TIMEOUT_SCALE" 'BEGIN { v = a * s; printf (v == int(v) ? "%d\n" : "%.2f\n"), v }'; }

# scaled_int SECONDS -> SECONDS * TIMEOUT_SCALE rounded up to a whole number
scaled_int() { awk -v a="$1" -v s="$TIMEOUT_SCALE" 'BEGIN { v = a * s; i = int(v); print (i < v ? i + 1 : i) }'; }

# to SECONDS CMD... : run CMD with a scaled timeout (KILL 5 s after TERM).
to() {
	local secs
	secs=$(scaled "$1")
	shift
	timeout -k 5 "$secs" "$@"
}

now_ms() { date +%s%3N; }

# ------------------------------------------------------------------ cleanup
_stop_pid() { # PID: TERM the process, KILL it if it is still there after 5 s
	local pid=$1 i
	is_running "$pid" || return 0
	kill -TERM "$pid" 2>/dev/null || return 0
	for ((i = 0; i < 50; i++)); do
		is_running "$pid" || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
}

# Looks for sanitizer reports in a log; prints them and returns 1 if any.
check_sanitizer_log() { # FILE
	local f=$1
	[[ -f $f ]] || return 0
	if grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|WARNING: ThreadSanitizer|SUMMARY: (Address|Undefined|Leak)' "$f"; then
		say "sanitizer report in ${f#"$T"/}:"
		grep -nE -A25 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$f" | head -n 80
		return 1
	fi
	return 0
}

_cleanup() {
	local rc=$? i pid deadline
	set +e
	trap - EXIT INT TERM
	# ktlsd first, gracefully: a sanitizer build prints its leak report at exit,
	# and a ktlsd that does not exit 0 on SIGTERM fails the test.
	for i in "${!_KTLSD_PIDS[@]}"; do
		pid=${_KTLSD_PIDS[$i]}
		[[ -n ${_KTLSD_REAPED[$pid]:-} ]] && continue # stop_ktlsd collected it
		if ! is_running "$pid"; then
			# (after a failure or a timeout kill this is old news: stay quiet)
			local st=0
			wait "$pid" 2>/dev/null || st=$?
			if ((rc == 0)); then
				say "FAIL: ktlsd pid $pid had exited by itself (status $st) before the test ended"
				show_tail "${_KTLSD_LOGS[$i]}" 20
				rc=1
			fi
		else
			kill -TERM "$pid" 2>/dev/null
			deadline=$(deadline_ms 15)
			while is_running "$pid" && (($(now_ms) < deadline)); do sleep 0.1; done
			if is_running "$pid"; then
				say "FAIL: ktlsd pid $pid did not exit within $(scaled 15) s of SIGTERM (cleanup); killing it"
				kill -KILL "$pid" 2>/dev/null
				rc=1
			else
				local st=0
				wait "$pid" 2>/dev/null || st=$?
				if ((st != 0)); then
					say "FAIL: ktlsd pid $pid exited with status $st on SIGTERM (cleanup)"
					show_tail "${_KTLSD_LOGS[$i]}" 20
					rc=1
				fi
			fi
		fi
	done
	for pid in "${_PIDS[@]}" $(jobs -p); do _stop_pid "$pid"; done
	wait 2>/dev/null
	if [[ ${KTLSD_EXPECT_KTLS:-0} == 1 ]] && ((rc == 0)) && ((${#_KTLSD_LOGS[@]} > 0)); then
		_ktls_expect_check || rc=1
	fi
	for i in "${!_KTLSD_LOGS[@]}"; do
		if ! check_sanitizer_log "${_KTLSD_LOGS[$i]}"; then
			((rc == 0 || rc == 77)) && say "FAIL: sanitizer reported errors"
			rc=1
		fi
	done
	if [[ -n ${TEST_LOG_DIR:-} ]]; then
		mkdir -p "$TEST_LOG_DIR"
		find "$T" -maxdepth 1 -name '*.log' -exec cp -f {} "$TEST_LOG_DIR"/ \; 2>/dev/null
	fi
	if [[ ${KEEP_TMP:-0} == 1 ]]; then
		say "kept $T"
	else
		rm -rf "$T"
	fi
	exit "$rc"
}
trap _cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Registers a background process started by the scenario itself.
track() { _PIDS+=("$1"); }

# ------------------------------------------------------------------ prerequisites
need_cmd() {
	local c
	for c in "$@"; do
		command -v "$c" >/dev/null 2>&1 || fail "command '$c' not found: scripts/deps.sh check installs it"
	done
}

need_ktlsd() {
	[[ -x $KTLSD ]] || fail "ktlsd binary not found at $KTLSD (build it with make)"
}
need_ktlsctl() {
	[[ -x $KTLSCTL ]] || fail "ktlsctl binary not found at $KTLSCTL (build it with make)"
}
# jfield EXPR < JSON: prints EXPR (Python, over the parsed object `r`)
jfield() { "$PYTHON" -c 'import json,sys; r=json.load(sys.stdin); print(eval(sys.argv[1]))' "$1"; }
# jget FILE EXPR: the same over a file; objects, lists, booleans and null printed as JSON
jget() { "$PYTHON" -c 'import json,sys; r=json.load(open(sys.argv[1])); v=eval(sys.argv[2]); print(json.dumps(v) if isinstance(v,(dict,list,bool)) or v is None else v)' "$1" "$2"; }

have_ipv6() {
	"$PYTHON" - <<'EOF' 2>/dev/null
import socket
s = socket.socket(socket.AF_INET6)
s.bind(("::1", 0))
EOF
}

# ------------------------------------------------------------------ ports
# free_port -> a TCP port that is free on 127.0.0.1 and (if present) ::1, below
# the ephemeral range so outgoing connections cannot grab it, and never one this
# test already handed out.
free_port() {
	local p
	p=$("$PYTHON" - "$T/.ports" <<'EOF'
import os, random, socket, sys
used = set()
try:
    used = set(int(x) for x in open(sys.argv[1]).read().split())
except OSError:
    pass
rng = random.SystemRandom()
for _ in range(500):
    port = rng.randrange(20000, 32000)
    if port in used:
        continue
    ok = True
    for fam, host in ((socket.AF_INET, "127.0.0.1"), (socket.AF_INET6, "::1")):
        try:
            s = socket.socket(fam, socket.SOCK_STREAM)
        except OSError:
            continue
        try:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind((host, port))
        except OSError as e:
            if fam == socket.AF_INET or e.errno not in (99, 97):  # no ::1 is fine
                ok = False
        finally:
            s.close()
    if ok:
        print(port)
        break
else:
    sys.exit("no free port found")
EOF
	) || fail "free_port: could not find a free port"
	echo "$p" >>"$T/.ports"
	echo "$p"
}

# ------------------------------------------------------------------ waiting
# deadline_ms SECONDS -> now + SECONDS*TIMEOUT_SCALE, in ms
deadline_ms() { echo $(($(now_ms) + $(awk -v a="$1" -v s="$TIMEOUT_SCALE" 'BEGIN { printf "%d", a * s * 1000 }'))); }

# The socket checks below read /proc/net/{tcp,tcp6,unix} directly (no ss/netstat
# needed, so they also work in a minimal VM).  Ports are unique per test, so only
# the port (and the address family) is compared.

# port_listening HOST PORT: is something listening there right now? (no connection made)
port_listening() {
	local f=/proc/net/tcp
	[[ $1 == *:* ]] && f=/proc/net/tcp6
	[[ -r $f ]] || return 1
	awk -v p="$(printf '%04X' "$2")" '
		FNR > 1 && $4 == "0A" { n = split($2, a, ":"); if (a[n] == p) { found = 1; exit } }
		END { exit !found }' "$f"
}

# client_ports PORT -> local ports of established TCP connections to PORT (IPv4 and IPv6)
client_ports() {
	local h
	awk -v p="$(printf '%04X' "$1")" '
		FNR > 1 && $4 == "01" { n = split($3, r, ":"); if (r[n] == p) { m = split($2, l, ":"); print l[m] } }' \
		/proc/net/tcp /proc/net/tcp6 2>/dev/null |
		while read -r h; do echo $((16#$h)); done
}

# unix_listening PATH: a unix stream socket listens at PATH
unix_listening() {
	[[ -S $1 ]] && awk -v p="$1" 'FNR > 1 && $NF == p && $4 == "00010000" { found = 1; exit } END { exit !found }' /proc/net/unix
}

# wait_port HOST PORT [SECONDS]: until something listens there.
wait_port() {
	local deadline
	deadline=$(deadline_ms "${3:-10}")
	until port_listening "$1" "$2"; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
}

# wait_unix PATH [SECONDS]: until a unix socket listens at PATH.
wait_unix() {
	local deadline
	deadline=$(deadline_ms "${2:-10}")
	until unix_listening "$1"; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
}

# wait_log FILE REGEX [SECONDS]: until an extended regex (case-insensitive) matches a line.
wait_log() {
	local deadline
	deadline=$(deadline_ms "${3:-10}")
	until grep -qiE -- "$2" "$1" 2>/dev/null; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
}

# count_log FILE REGEX -> number of matching lines (case-insensitive)
count_log() { grep -ciE -- "$2" "$1" 2>/dev/null || true; }

# is_running PID: alive and not a zombie
is_running() {
	local st
	kill -0 "$1" 2>/dev/null || return 1
	st=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
	st=${st##*) }
	[[ ${st%% *} != Z ]]
}

# wait_exit PID [SECONDS]: waits for a background child of this shell to exit and
# sets EXIT_RC to its status.  Returns 1 on timeout.  (Not in $(...): a subshell
# cannot wait for its parent's children.)
wait_exit() {
	local deadline
	deadline=$(deadline_ms "${2:-10}")
	while is_running "$1"; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.05
	done
	EXIT_RC=0
	wait "$1" 2>/dev/null || EXIT_RC=$?
}

# wait_until SECONDS CMD...: polls CMD (every 0.1 s) until it succeeds.
wait_until() {
	local deadline
	deadline=$(deadline_ms "$1")
	shift
	until "$@"; do
		(($(now_ms) < deadline)) || return 1
		sleep 0.1
	done
}

# ------------------------------------------------------------------ certificates
# CERTS: the shared test PKI (generated once per build directory, read-only use).
CERTS=$BUILDDIR/test-certs
ensure_certs() {
	"$ROOT/scripts/gen-certs.sh" "$CERTS" || fail "scripts/gen-certs.sh $CERTS failed"
	CA=$CERTS/ca.crt
}
ensure_certs

# private_certs DIR: a copy of the PKI a scenario may change (reload tests).
private_certs() {
	mkdir -p "$1"
	cp -p "$CERTS"/*.crt "$CERTS"/*.key "$1"/
}

# new_leaf DIR NAME CN SAN [ec|rsa]: another leaf signed by DIR's CA.
new_leaf() {
	"$ROOT/scripts/gen-certs.sh" "$1" --leaf "$2" "$3" "$4" "${5:-ec}" || fail "new_leaf $2 failed"
}

# cert_field FILE -> "subject serial" one-liner of a PEM certificate
cert_subject() { "$OPENSSL" x509 -in "$1" -noout -subject -nameopt RFC2253 | sed 's/^subject=//'; }
cert_serial() { "$OPENSSL" x509 -in "$1" -noout -serial | sed 's/^serial=//'; }

# ------------------------------------------------------------------ data
# gen_file FILE N [SEED]: the deterministic stream backend.py serves in mode source/http.
gen_file() { "$PYTHON" "$BACKEND_PY" gen "$2" "${3:-0}" >"$1"; }
gen_sha() { "$PYTHON" "$BACKEND_PY" sha "$1" "${2:-0}"; }
sha_of() { sha256sum "$1" | cut -d' ' -f1; }
size_of() { stat -c %s "$1"; }

# ------------------------------------------------------------------ config
# write_config FILE [key=value ...]
# One listener "main" (plus an optional second one, keys suffixed with 2) and two
# profiles: "default" (localhost, ECDSA + RSA) and "other" (other.test, *.wild.test).
# Keys (defaults in brackets):
#   workers [1] log_level [debug] shutdown_timeout [5 s * TIMEOUT_SCALE]
#   certdir [$CERTS]  default_certs [ecdsa,rsa]  other_certs [other]
#   min_version max_version ciphers ciphersuites groups   (default profile; omitted if empty)
#   listen [127.0.0.1:$(free_port)]  backend (required)  profiles [default,other]
#   sni_strict [false]  alpn [h2,http/1.1] ("none" omits it)  proxy_protocol [false]
#   handshake_timeout [5]  idle_timeout [30]  connect_timeout [3] (seconds; the defaults,
#   not values passed in, are multiplied by TIMEOUT_SCALE)  buffer_size [65536]
#   ktls [omitted: the daemon's default, true] true/false: move connections to kernel TLS
#   listen2 backend2 profiles2 sni_strict2 alpn2 proxy_protocol2 ...: a listener "second"
#   (each key falls back to the main listener's value); the same with 3 ("third")
#   and 4 ("fourth")
#   extra: raw text appended at the end of the file
# Session resumption (omitted unless given; the daemon's defaults apply):
#   session_cache_size (top level)
#   tickets ("stateless"/"stateful"/"off") session_lifetime tls13_tickets psk_ke
#   ticket_rotation ticket_keys_kept ticket_key_files (a,b -> [ "a", "b" ]): the
#   default profile; the same keys suffixed with _other for the "other" profile
#   early_data max_early_data early_data_forward: per listener (suffix 2..4 as above)
# Sets LISTEN_PORT (and LISTEN2_PORT .. LISTEN4_PORT) from the listen addresses.
write_config() {
	local file=$1 kv k v
	shift
	local -A c=(
		[workers]=1 [log_level]=debug [shutdown_timeout]="$(scaled_int 5)" [certdir]="$CERTS"
		[default_certs]="ecdsa,rsa" [other_certs]=other
		[min_version]="" [max_version]="" [ciphers]="" [ciphersuites]="" [groups]=""
		[listen]="" [backend]="" [profiles]="default,other" [sni_strict]=false
		[alpn]="h2,http/1.1" [proxy_protocol]=false [handshake_timeout]="$(scaled_int 5)"
		[idle_timeout]="$(scaled_int 30)" [connect_timeout]="$(scaled_int 3)" [buffer_size]=65536 [extra]=""
		[ktls]="" [session_cache_size]="" [early_data]="" [max_early_data]="" [early_data_forward]=""
		[client_hello_timeout]=""
	)
	for kv in "$@"; do
		k=${kv%%=*}
		v=${kv#*=}
		[[ $kv == *=* ]] || fail "write_config: bad argument '$kv' (want key=value)"
		c[$k]=$v
	done
	[[ -n ${c[backend]} ]] || fail "write_config: backend= is required"
	[[ -n ${c[listen]} ]] || c[listen]=127.0.0.1:$(free_port)

	_qlist() { # a,b -> "a", "b"
		local IFS=, out="" x
		for x in $1; do out+="${out:+, }\"$x\""; done
		printf '%s' "$out"
	}
	_certs() { # ecdsa,rsa -> ( { cert = ...; key = ...; }, ... )
		local IFS=, out="" x
		for x in $1; do
			out+="${out:+,}"$'\n'"      { cert = \"${c[certdir]}/$x.crt\"; key = \"${c[certdir]}/$x.key\"; }"
		done
		printf '(%s\n    )' "$out"
	}
	_listener() { # NAME SUFFIX
		local s=$2 key val
		printf '  {\n    name = "%s";\n' "$1"
		for key in listen backend; do
			val=${c[$key$s]:-${c[$key]}}
			printf '    %s = "%s";\n' "$key" "$val"
		done
		printf '    profiles = [ %s ];\n' "$(_qlist "${c[profiles$s]:-${c[profiles]}}")"
		val=${c[alpn$s]:-${c[alpn]}}
		[[ $val == none ]] || printf '    alpn = [ %s ];\n' "$(_qlist "$val")"
		for key in sni_strict proxy_protocol client_hello_timeout handshake_timeout idle_timeout connect_timeout buffer_size ktls \
			early_data max_early_data early_data_forward; do
			val=${c[$key$s]:-${c[$key]}}
			[[ -n $val ]] && printf '    %s = %s;\n' "$key" "$val"
		done
		printf '  }'
	}
	_resumption() { # SUFFIX: the profile's session resumption keys
		local s=$1 key val
		val=${c[tickets$s]:-}
		[[ -z $val ]] || printf '    tickets = "%s";\n' "$val"
		for key in session_lifetime tls13_tickets psk_ke ticket_rotation ticket_keys_kept; do
			val=${c[$key$s]:-}
			[[ -z $val ]] || printf '    %s = %s;\n' "$key" "$val"
		done
		val=${c[ticket_key_files$s]:-}
		[[ -z $val ]] || printf '    ticket_key_files = [ %s ];\n' "$(_qlist "$val")"
	}
	{
		printf '# written by tests/lib.sh write_config for %s\n' "$TEST_NAME"
		printf 'workers = %s;\nlog_level = "%s";\nshutdown_timeout = %s;\n' \
			"${c[workers]}" "${c[log_level]}" "${c[shutdown_timeout]}"
		[[ -z ${c[session_cache_size]} ]] || printf 'session_cache_size = %s;\n' "${c[session_cache_size]}"
		printf '\n'
		printf 'profiles = (\n  {\n    name = "default";\n    server_names = [ "localhost" ];\n'
		printf '    certificates = %s;\n' "$(_certs "${c[default_certs]}")"
		for k in min_version max_version ciphers ciphersuites groups; do
			[[ -n ${c[$k]} ]] && printf '    %s = "%s";\n' "$k" "${c[$k]}"
		done
		_resumption ""
		printf '  },\n  {\n    name = "other";\n    server_names = [ "other.test", "*.wild.test" ];\n'
		printf '    certificates = %s;\n' "$(_certs "${c[other_certs]}")"
		_resumption _other
		printf '  }\n);\n\n' 
		printf 'listeners = (\n'
		_listener main ""
		local n names=([2]=second [3]=third [4]=fourth)
		for n in 2 3 4; do
			if [[ -n ${c[listen$n]:-} ]]; then
				printf ',\n'
				_listener "${names[$n]}" "$n"
			fi
		done
		printf '\n);\n'
		if [[ -n ${c[extra]} ]]; then printf '%s\n' "${c[extra]}"; fi
	} >"$file"
	LISTEN_ADDR=${c[listen]}
	LISTEN_PORT=${LISTEN_ADDR##*:}
	LISTEN2_PORT='' LISTEN3_PORT='' LISTEN4_PORT=''
	[[ -z ${c[listen2]:-} ]] || LISTEN2_PORT=${c[listen2]##*:}
	[[ -z ${c[listen3]:-} ]] || LISTEN3_PORT=${c[listen3]##*:}
	[[ -z ${c[listen4]:-} ]] || LISTEN4_PORT=${c[listen4]##*:}
	return 0
}

# promcheck_py -> a python3 that has Debian's prometheus_client (the system one has it
# even when $PYTHON is a virtualenv or pyenv interpreter without it); empty if none.
promcheck_py() {
	local py
	for py in "$PYTHON" /usr/bin/python3; do
		if "$py" -c 'import prometheus_client.parser' 2>/dev/null; then
			printf '%s\n' "$py"
			return 0
		fi
	done
	return 1
}

# ------------------------------------------------------------------ ktlsd
# _listen_addrs CONF -> "host port" per listen = "..." line
_listen_addrs() {
	sed -nE 's/^[[:space:]]*listen[[:space:]]*=[[:space:]]*"([^"]+)".*/\1/p' "$1" |
		sed -E 's/^\[(.*)\]:([0-9]+)$/\1 \2/; t; s/^(.*):([0-9]+)$/\1 \2/'
}

# start_ktlsd CONF [EXTRA ARGS...]
# Starts "$KTLSD -f -c CONF [-v]" with its stderr in $T/ktlsd-N.log, waits for
# the "ready" log line (or every listen port of CONF to be bound) and fails fast
# if it exits. Sets KTLSD_PID and KTLSD_LOG.
start_ktlsd() {
	local conf=$1 args=() deadline rc
	shift
	need_ktlsd
	_KTLSD_N=$((_KTLSD_N + 1))
	KTLSD_LOG=$T/ktlsd-$_KTLSD_N.log
	[[ $KTLSD_VERBOSE == 1 ]] && args+=(-v)
	"$KTLSD" -f -c "$conf" "${args[@]}" "$@" >"$KTLSD_LOG" 2>&1 </dev/null &
	KTLSD_PID=$!
	_KTLSD_PIDS+=("$KTLSD_PID")
	_KTLSD_LOGS+=("$KTLSD_LOG")
	local -a addrs
	local tx0=0 rx0=0
	if [[ ${KTLSD_EXPECT_KTLS:-0} == 1 ]] && have_ktls; then
		tx0=$(ktls_stat TlsTxSw)
		rx0=$(ktls_stat TlsRxSw)
	fi
	mapfile -t addrs < <(_listen_addrs "$conf")
	deadline=$(deadline_ms 15)
	while :; do
		if ! is_running "$KTLSD_PID"; then
			rc=0
			wait "$KTLSD_PID" || rc=$?
			_KTLSD_REAPED[$KTLSD_PID]=1
			fail "ktlsd exited with status $rc during startup ($KTLSD -f -c $conf)"
		fi
		grep -q 'ready' "$KTLSD_LOG" 2>/dev/null && break
		if ((${#addrs[@]} > 0)); then
			local a all=1
			for a in "${addrs[@]}"; do
				# shellcheck disable=SC2086 # "host port"
				port_listening $a || { all=0 && break; }
			done
			if ((all)); then
				wait_log "$KTLSD_LOG" ready 1 || note "ktlsd: ports bound but no 'ready' log line"
				break
			fi
		fi
		(($(now_ms) < deadline)) || fail "ktlsd did not become ready within $(scaled 15)s"
		sleep 0.05
	done
	if [[ ${KTLSD_EXPECT_KTLS:-0} == 1 ]] && have_ktls; then
		_KTLSD_START_TX[${#_KTLSD_LOGS[@]} - 1]=$(($(ktls_stat TlsTxSw) - tx0))
		_KTLSD_START_RX[${#_KTLSD_LOGS[@]} - 1]=$(($(ktls_stat TlsRxSw) - rx0))
	fi
	note "ktlsd pid $KTLSD_PID ready (log ${KTLSD_LOG#"$T"/})"
}

# stop_ktlsd [PID] [SIGNAL] [SECONDS]: signal (default TERM), wait for the exit
# (default 30 s, scaled) and set KTLSD_RC to the exit status.
stop_ktlsd() {
	local pid=${1:-$KTLSD_PID} sig=${2:-TERM}
	kill -"$sig" "$pid" 2>/dev/null || true
	wait_exit "$pid" "${3:-30}" || fail "ktlsd pid $pid did not exit within $(scaled "${3:-30}")s of SIG$sig"
	_KTLSD_REAPED[$pid]=1
	KTLSD_RC=$EXIT_RC
}

# reload_ktlsd [PID] [LOG]: SIGHUP, then wait until the log has one more line
# telling how the reload ended ("reloaded ..." or "reload failed/refused ...").
# Returns 1 if none appeared.
RELOAD_DONE_RE='reloaded|reload[a-z]* (failed|refused|error)'
reload_ktlsd() {
	local pid=${1:-$KTLSD_PID} log=${2:-$KTLSD_LOG} before
	before=$(count_log "$log" "$RELOAD_DONE_RE")
	kill -HUP "$pid"
	wait_until 10 _log_count_above "$log" "$RELOAD_DONE_RE" "$before"
}
_log_count_above() { (($(count_log "$1" "$2") > $3)); }

assert_ktlsd_alive() { # [PID]
	is_running "${1:-$KTLSD_PID}" || fail "ktlsd (pid ${1:-$KTLSD_PID}) is not running any more"
}

# ------------------------------------------------------------------ kernel TLS
# The kernel's view (/proc/net/tls_stat, sock_diag through $BUILD/ktls-diag) and
# ktlsd's own counters (the "stats: name=value ..." line it logs on SIGUSR2 and at
# exit).  The tls_stat counters are per network namespace and count every socket
# of the machine, so the deltas are exact only while one scenario runs at a time
# (tests/run.sh runs them one after the other) and no client uses kTLS itself
# (none of the test clients enables it: OpenSSL and GnuTLS need an explicit opt-in).
#
#   have_ktls / need_ktls        is kTLS there? (need_ktls skips the scenario if not)
#   ktls_stat NAME               a tls_stat counter (TlsTxSw, TlsCurrRxSw, TlsDecryptError...)
#   ktls_stat_snapshot           remembers all of them; ktls_stat_delta NAME -> now - then
#   assert_ktls_deltas N WHAT    TlsTxSw and TlsRxSw grew by exactly N, TlsDecryptError by 0
#   ktls_wait_closed [SECONDS]   until TlsCurrTxSw/TlsCurrRxSw are back at the snapshot
#   ktlsd_stats NAME [PID] [LOG] SIGUSR2, wait for the new stats line, print counter NAME
#   ktlsd_stats_refresh [PID] [LOG]  the same, filling the array KSTATS (no output)
#   ktlsd_final_stats [LOG]      KSTATS from the last stats line (e.g. the one logged at exit)
#   kstat NAME                   ${KSTATS[NAME]}, failing if ktlsd has no such counter
#   ktlsd_stats_snapshot / kstat_delta NAME   the same for ktlsd's counters
#   ktlsd_wait_stat NAME VALUE [SECONDS]      until ktlsd's counter NAME reaches VALUE
#   ktls_diag_expect PORT VERSION CIPHER [COUNT]  live sockets on ktlsd's side of PORT
#                                are on kTLS with that version and cipher, sw both ways
#   ktls_diag_expect_plain PORT [COUNT]  ... or have no ULP at all (userspace TLS)
#
# KTLSD_EXPECT_KTLS=1 (tests/run.sh sets it in the VM): when the scenario ends, after
# every ktlsd has exited, ktlsd's counters must agree with the kernel: the sum of
# connections_ktls over the scenario's ktlsd instances == TlsTxSw delta == TlsRxSw
# delta, TlsDecryptError delta == 0, ktls_fallback_failed == 0, and every kTLS socket
# is closed again (TlsCurrTxSw/TlsCurrRxSw back where they were).
KTLS_STAT_FILE=${KTLS_STAT_FILE:-/proc/net/tls_stat}
KTLS_DIAG=${KTLS_DIAG:-$BUILDDIR/ktls-diag}

# Errors of helpers that are meant to be used in $(...): to stderr, and exit.
_kdie() {
	say "FAIL: $*" >&2
	exit 1
}

have_ktls() { [[ -r $KTLS_STAT_FILE ]]; }

need_ktls() {
	have_ktls || skip "no $KTLS_STAT_FILE: this kernel has no kernel TLS (run these in the VM: tests/run.sh --vm-only)"
	[[ -x $KTLS_DIAG ]] || fail "$KTLS_DIAG not found (build it with make)"
}

ktls_stat() { # NAME -> value
	local v
	v=$(awk -v n="$1" '$1 == n { print $2; exit }' "$KTLS_STAT_FILE" 2>/dev/null)
	[[ $v =~ ^[0-9]+$ ]] || _kdie "ktls_stat: no counter '$1' in $KTLS_STAT_FILE"
	echo "$v"
}

declare -A _KTLS_SNAP=()
ktls_stat_snapshot() {
	local k v
	_KTLS_SNAP=()
	while read -r k v; do _KTLS_SNAP[$k]=$v; done <"$KTLS_STAT_FILE"
}

ktls_stat_delta() { # NAME -> now - snapshot
	local now
	[[ -n ${_KTLS_SNAP[$1]:-} ]] || _kdie "ktls_stat_delta $1: no ktls_stat_snapshot (or no such counter)"
	now=$(ktls_stat "$1") || exit 1
	echo $((now - _KTLS_SNAP[$1]))
}

# ktls_deltas -> "TlsTxSw +1 TlsRxSw +1 ..." for every counter that moved
ktls_deltas() {
	local k v out=""
	while read -r k v; do
		if [[ -n ${_KTLS_SNAP[$k]:-} ]] && ((v != _KTLS_SNAP[$k])); then
			out+="${out:+ }$k $(printf '%+d' $((v - _KTLS_SNAP[$k])))"
		fi
	done <"$KTLS_STAT_FILE"
	echo "${out:-(none)}"
}

# assert_ktls_deltas N WHAT: exactly N kTLS TX and N RX contexts were installed since
# the snapshot, and no record failed to decrypt.
assert_ktls_deltas() {
	local n=$1 what=$2 tx rx de
	tx=$(ktls_stat_delta TlsTxSw)
	rx=$(ktls_stat_delta TlsRxSw)
	de=$(ktls_stat_delta TlsDecryptError)
	if ((tx != n || rx != n || de != 0)); then
		say "tls_stat changes: $(ktls_deltas)"
		fail "$what: kernel TLS installs: TlsTxSw +$tx, TlsRxSw +$rx, TlsDecryptError +$de; expected +$n, +$n, +0"
	fi
	note "$what: tls_stat TlsTxSw +$tx TlsRxSw +$rx TlsDecryptError +0"
}

_ktls_closed() {
	(($(ktls_stat TlsCurrTxSw) == _KTLS_SNAP[TlsCurrTxSw] && $(ktls_stat TlsCurrRxSw) == _KTLS_SNAP[TlsCurrRxSw]))
}
# ktls_wait_closed [SECONDS]: every kTLS socket opened since the snapshot is closed.
ktls_wait_closed() {
	wait_until "${1:-10}" _ktls_closed ||
		fail "kTLS sockets still open: TlsCurrTxSw $(ktls_stat TlsCurrTxSw), TlsCurrRxSw $(ktls_stat TlsCurrRxSw); at the snapshot ${_KTLS_SNAP[TlsCurrTxSw]}, ${_KTLS_SNAP[TlsCurrRxSw]}"
}

# ---- ktlsd's counters
declare -A KSTATS=() _KSTATS0=()
_parse_stats_line() { # LINE -> KSTATS
	local kv
	KSTATS=()
	for kv in ${1#*stats: }; do
		[[ $kv == *=* ]] && KSTATS[${kv%%=*}]=${kv#*=}
	done
	((${#KSTATS[@]} > 0))
}
_stats_lines() { grep -c ' stats: ' "$1" 2>/dev/null || true; }

ktlsd_stats_refresh() { # [PID] [LOG]
	local pid=${1:-$KTLSD_PID} log=${2:-$KTLSD_LOG} before
	before=$(_stats_lines "$log")
	kill -USR2 "$pid" 2>/dev/null || _kdie "ktlsd_stats: cannot signal ktlsd pid $pid"
	wait_until 10 _log_count_above "$log" ' stats: ' "$before" ||
		_kdie "ktlsd pid $pid logged no stats line within $(scaled 10) s of SIGUSR2"
	_parse_stats_line "$(grep ' stats: ' "$log" | tail -n1)" || _kdie "cannot parse ktlsd's stats line"
}

ktlsd_stats() { # NAME [PID] [LOG] -> value
	ktlsd_stats_refresh "${2:-$KTLSD_PID}" "${3:-$KTLSD_LOG}"
	kstat "$1"
}

ktlsd_final_stats() { # [LOG]
	local line
	line=$(grep ' stats: ' "${1:-$KTLSD_LOG}" | tail -n1)
	[[ -n $line ]] || _kdie "no stats line in ${1:-$KTLSD_LOG}"
	_parse_stats_line "$line"
}

kstat() { # NAME -> value from the last refresh
	[[ -n ${KSTATS[$1]:-} ]] || _kdie "ktlsd has no counter '$1' (have: ${!KSTATS[*]})"
	echo "${KSTATS[$1]}"
}

ktlsd_stats_snapshot() { # [PID] [LOG]
	local k
	ktlsd_stats_refresh "$@"
	_KSTATS0=()
	for k in "${!KSTATS[@]}"; do _KSTATS0[$k]=${KSTATS[$k]}; done
}

kstat_delta() { # NAME -> last refresh - snapshot
	local v
	v=$(kstat "$1") || exit 1
	echo $((v - ${_KSTATS0[$1]:-0}))
}

# kstats_line [NAME...] -> "name=value ..." of the last refresh (all counters by default)
kstats_line() {
	local k out=""
	# shellcheck disable=SC2046 # one word per counter name
	(($# == 0)) && set -- $(printf '%s\n' "${!KSTATS[@]}" | sort)
	for k in "$@"; do out+="${out:+ }$k=${KSTATS[$k]:-?}"; done
	echo "$out"
}

_kstat_reached() { # NAME VALUE [PID] [LOG]
	ktlsd_stats_refresh "${3:-$KTLSD_PID}" "${4:-$KTLSD_LOG}"
	((KSTATS[$1] >= $2))
}
# ktlsd_wait_stat NAME VALUE [SECONDS] [PID] [LOG]: polls (SIGUSR2) until ktlsd's
# counter NAME is at least VALUE; leaves the last reading in KSTATS.
ktlsd_wait_stat() {
	local name=$1 value=$2
	wait_until "${3:-10}" _kstat_reached "$name" "$value" "${4:-$KTLSD_PID}" "${5:-$KTLSD_LOG}" ||
		fail "ktlsd counter $name stayed at ${KSTATS[$name]:-?}, expected $value ($(kstats_line))"
}

# ---- sock_diag
# ktls_diag PORT -> ktls-diag lines of ktlsd's side of PORT (local port == PORT)
ktls_diag() {
	"$KTLS_DIAG" -p "$1" | awk -v p=":$1" '{ l = $1; if (substr(l, length(l) - length(p) + 1) == p) print }'
}

# ktls_diag_expect PORT VERSION CIPHER [COUNT]: every established socket whose local
# port is PORT (ktlsd's accepted client sockets) has ulp=tls with that version
# (1.2/1.3, TLSv1.3 accepted) and kernel cipher name (aes-gcm-128, aes-gcm-256,
# chacha20-poly1305), txconf=sw rxconf=sw; there is at least one (exactly COUNT if
# given).  And no client socket (peer port PORT) uses kTLS: the clients do TLS in
# userspace, so tls_stat deltas count ktlsd alone.
ktls_diag_expect() {
	local port=$1 ver=${2#TLSv} cipher=$3 count=${4:-} out n bad
	out=$("$KTLS_DIAG" -p "$port" 2>&1) || {
		printf '%s\n' "$out"
		fail "$KTLS_DIAG -p $port failed"
	}
	local mine theirs
	mine=$(printf '%s\n' "$out" | awk -v p=":$port" '{ l = $1; if (substr(l, length(l) - length(p) + 1) == p) print }')
	theirs=$(printf '%s\n' "$out" | awk -v p=":$port" '{ r = $2; if (substr(r, length(r) - length(p) + 1) == p) print }')
	n=$(printf '%s' "$mine" | grep -c . || true)
	bad=$(printf '%s\n' "$mine" | grep -v " ulp=tls version=$ver cipher=$cipher txconf=sw rxconf=sw " | grep . || true)
	if ((n == 0)) || [[ -n $bad ]] || { [[ -n $count ]] && ((n != count)); }; then
		printf '%s\n' "$out" | sed 's/^/    ktls-diag: /'
		fail "ktls-diag -p $port: expected ${count:-at least 1} socket(s) of ktlsd with ulp=tls version=$ver cipher=$cipher txconf=sw rxconf=sw, found $n${bad:+, these differ: $bad}"
	fi
	if printf '%s\n' "$theirs" | grep -q ' ulp=tls'; then
		printf '%s\n' "$out" | sed 's/^/    ktls-diag: /'
		fail "ktls-diag -p $port: a client socket uses kernel TLS itself (the tls_stat deltas would count it)"
	fi
	note "ktls-diag: $n socket(s) on :$port with ulp=tls version=$ver cipher=$cipher txconf=sw rxconf=sw"
}

# ktls_diag_expect_plain PORT [COUNT]: ktlsd's established sockets on PORT have no
# ULP (records done by OpenSSL in userspace); at least one (exactly COUNT if given).
ktls_diag_expect_plain() {
	local port=$1 count=${2:-} mine n bad
	mine=$(ktls_diag "$port") || fail "$KTLS_DIAG -p $port failed"
	n=$(printf '%s' "$mine" | grep -c . || true)
	bad=$(printf '%s\n' "$mine" | grep -v ' ulp=- ' | grep . || true)
	if ((n == 0)) || [[ -n $bad ]] || { [[ -n $count ]] && ((n != count)); }; then
		"$KTLS_DIAG" -p "$port" 2>&1 | sed 's/^/    ktls-diag: /'
		fail "ktls-diag -p $port: expected ${count:-at least 1} socket(s) of ktlsd without a ULP, found $n${bad:+, these differ: $bad}"
	fi
	note "ktls-diag: $n socket(s) on :$port with ulp=- (userspace TLS)"
}

# ---- the KTLSD_EXPECT_KTLS check (called by _cleanup once every ktlsd has exited)
declare -A _KTLS_SNAP0=()
_KTLSD_START_TX=() _KTLSD_START_RX=() # per ktlsd: tls_stat installs while start_ktlsd waited
if [[ ${KTLSD_EXPECT_KTLS:-0} == 1 ]] && have_ktls; then
	while read -r _k _v; do _KTLS_SNAP0[$_k]=$_v; done <"$KTLS_STAT_FILE"
	unset _k _v
fi
_ktls_expect_check() {
	local log sum=0 n=0 failed=0 k line tx rx de ctx crx
	have_ktls || {
		say "FAIL: KTLSD_EXPECT_KTLS=1 but there is no $KTLS_STAT_FILE"
		return 1
	}
	# ktlsd's start-up probe installs kTLS on loopback test sockets too: one TX per
	# "+tx" and one RX per "+rx" in its "kernel TLS available on ..." line.
	local ptx=0 prx=0 i probe
	for i in "${!_KTLSD_LOGS[@]}"; do
		log=${_KTLSD_LOGS[$i]}
		probe=$(grep -m1 'kernel TLS available on' "$log" 2>/dev/null)
		if [[ -n $probe ]]; then
			ptx=$((ptx + $(grep -o '+tx' <<<"$probe" | grep -c .)))
			prx=$((prx + $(grep -o '+rx' <<<"$probe" | grep -c .)))
		else # no such line: what the kernel counted while start_ktlsd waited
			ptx=$((ptx + ${_KTLSD_START_TX[$i]:-0}))
			prx=$((prx + ${_KTLSD_START_RX[$i]:-0}))
		fi
		line=$(grep ' stats: ' "$log" 2>/dev/null | tail -n1)
		if [[ -z $line ]]; then
			grep -q ' ready' "$log" 2>/dev/null || continue # never served
			say "kTLS consistency: not checked, ${log#"$T"/} has no stats line (ktlsd killed?)"
			return 0
		fi
		_parse_stats_line "$line"
		sum=$((sum + ${KSTATS[connections_ktls]:-0}))
		n=$((n + 1))
		if ((${KSTATS[ktls_fallback_failed]:-0} != 0)); then
			say "FAIL: kTLS consistency: ${log#"$T"/}: ktls_fallback_failed=${KSTATS[ktls_fallback_failed]} (kTLS install failed)"
			failed=1
		fi
	done
	# the sockets are closed when ktlsd exits; give the kernel a moment
	for ((k = 0; k < 50; k++)); do
		ctx=$(($(ktls_stat TlsCurrTxSw) - _KTLS_SNAP0[TlsCurrTxSw]))
		crx=$(($(ktls_stat TlsCurrRxSw) - _KTLS_SNAP0[TlsCurrRxSw]))
		((ctx == 0 && crx == 0)) && break
		sleep 0.1
	done
	tx=$(($(ktls_stat TlsTxSw) - _KTLS_SNAP0[TlsTxSw] - ptx))
	rx=$(($(ktls_stat TlsRxSw) - _KTLS_SNAP0[TlsRxSw] - prx))
	de=$(($(ktls_stat TlsDecryptError) - _KTLS_SNAP0[TlsDecryptError]))
	if ((tx != sum || rx != sum || de != 0 || ctx != 0 || crx != 0)); then
		say "FAIL: kTLS consistency: ktlsd connections_ktls=$sum ($n instance(s)) but the kernel counted" \
			"TlsTxSw +$tx TlsRxSw +$rx (start-up probes +$ptx/+$prx not included) TlsDecryptError +$de," \
			"still open TlsCurrTxSw +$ctx TlsCurrRxSw +$crx"
		failed=1
	fi
	((failed == 0)) && say "kTLS consistency: connections_ktls=$sum = TlsTxSw +$tx = TlsRxSw +$rx" \
		"(+ start-up probes $ptx/$prx), TlsDecryptError +0, all closed"
	return "$failed"
}

# ------------------------------------------------------------------ handoff socket
# handoff_expect_status SOCKET CASE STATUS WHAT [ARGS...]: tests/tools/handoff.py's CASE
# (a byte-level request) gets STATUS and no descriptor back; notes the message.
handoff_expect_status() {
	local sock=$1 case=$2 want=$3 what=$4 out
	shift 4
	out=$("$PYTHON" "$ROOT/tests/tools/handoff.py" "$sock" "$case" "$@" </dev/null) || fail "$what: handoff.py failed"
	[[ $("$PYTHON" -c 'import json,sys; r=json.loads(sys.argv[1]); print(r["status"], r["fd"])' "$out") == "$want False" ]] ||
		fail "$what: expected status $want and no descriptor, got $out"
	note "$what: status $want ($("$PYTHON" -c 'import json,sys; print(json.loads(sys.argv[1])["message"])' "$out"))"
}

# ------------------------------------------------------------------ backends
# start_backend [--listen ADDR] MODE [ARGS...]
# Starts tests/tools/backend.py; sets BACKEND_PID, BACKEND_LOG, BACKEND_ADDR
# ("127.0.0.1:PORT" or "unix:/path") and BACKEND_PORT.
start_backend() {
	local listen=127.0.0.1:0
	if [[ ${1:-} == --listen ]]; then
		listen=$2
		shift 2
	fi
	_BACKEND_N=$((_BACKEND_N + 1))
	BACKEND_LOG=$T/backend-$_BACKEND_N-$1.log
	local pf=$T/.backend-$_BACKEND_N.port
	"$PYTHON" "$BACKEND_PY" --listen "$listen" --port-file "$pf" "$@" >"$BACKEND_LOG" 2>&1 </dev/null &
	BACKEND_PID=$!
	track "$BACKEND_PID"
	wait_until 10 test -s "$pf" || {
		show_tail "$BACKEND_LOG"
		fail "backend $* did not start"
	}
	BACKEND_PORT=$(cat "$pf")
	case $listen in
	unix:*) BACKEND_ADDR=$listen ;;
	\[*) BACKEND_ADDR=${listen%:*}:$BACKEND_PORT ;;
	*) BACKEND_ADDR=${listen%:*}:$BACKEND_PORT ;;
	esac
}

# ------------------------------------------------------------------ clients
# Every client gets a scaled timeout; output goes where the caller redirects it.
#
# sclient PORT [s_client args...]: openssl s_client to 127.0.0.1:PORT verifying
# against the test CA (stdin: whatever the caller gives; default </dev/null).
sclient() {
	local port=$1
	shift
	to 20 "$OPENSSL" s_client -connect "127.0.0.1:$port" -CAfile "$CA" -verify_return_error "$@"
}

# gnutls PORT HOSTNAME [gnutls-cli args...]: gnutls-cli to 127.0.0.1:PORT with SNI
# and hostname verification for HOSTNAME.
gnutls() {
	local port=$1 host=$2
	shift 2
	to 20 gnutls-cli --x509cafile="$CA" --sni-hostname="$host" --verify-hostname="$host" \
		-p "$port" "$@" 127.0.0.1
}

# curl_k PORT PATH [curl args...]: curl --http1.1 https://localhost:PORT/PATH
# (resolved to 127.0.0.1) verifying against the test CA.  HTTP/1.1 because
# backend.py speaks only that while the test listeners also offer h2 in ALPN.
curl_k() {
	local port=$1 path=$2
	shift 2
	to 60 curl -sS --fail --http1.1 --cacert "$CA" --resolve "localhost:$port:127.0.0.1" \
		--connect-timeout "$(scaled 10)" "$@" "https://localhost:$port/${path#/}"
}

# Held echo sessions (to look at a connection while it is still open):
#   held_start NAME CLIENT PORT FILE [client args...]: CLIENT (gnutls: gnutls-cli,
#     SNI localhost; sclient: openssl s_client -quiet -no_ign_eof -nocommands) connects
#     to PORT; its stdin is a short pause, FILE, and then stays open until held_finish
#     NAME.  What it receives goes to $T/NAME.out, its log (gnutls-cli --logfile, or
#     s_client's stderr) to $T/NAME.log.
#   held_wait NAME BYTES [SECONDS]: until $T/NAME.out has BYTES bytes.
#   held_finish NAME [SECONDS]: ends stdin and waits for the client to exit; it must
#     exit 0.  gnutls-cli sends close_notify and reads on until the server's
#     close_notify (checked); s_client sends close_notify and exits at once.
# gnutls-cli returns what it received 4 KiB per wake-up of its select() loop, so the
# last part of a 16 KiB record can wait for its 3.5 s select timeout: s_client is
# the faster receiver.
declare -A _HELD_PID=() _HELD_CLIENT=()
held_start() {
	local name=$1 client=$2 port=$3 file=$4
	shift 4
	rm -f "$T/$name.go" "$T/$name.out"
	_HELD_CLIENT[$name]=$client
	{
		sleep "$(scaled 0.2)"
		cat "$file"
		while [[ ! -e $T/$name.go ]]; do sleep 0.05; done
	} | case $client in
	gnutls) gnutls "$port" localhost --logfile="$T/$name.log" "$@" >"$T/$name.out" 2>&1 ;;
	sclient)
		sclient "$port" -servername localhost -quiet -no_ign_eof -nocommands "$@" \
			>"$T/$name.out" 2>"$T/$name.log"
		;;
	*) fail "held_start: unknown client $client" ;;
	esac &
	_HELD_PID[$name]=$!
	track "$!"
}
_held_has() { [[ -f $T/$1.out ]] && (($(stat -c %s "$T/$1.out" 2>/dev/null || echo 0) >= $2)); }
held_wait() {
	wait_until "${3:-60}" _held_has "$1" "$2" || {
		show_tail "$T/$1.log" 20
		fail "$1: received $(stat -c %s "$T/$1.out" 2>/dev/null || echo 0) of $2 bytes"
	}
}
held_finish() {
	local name=$1
	touch "$T/$name.go"
	wait_exit "${_HELD_PID[$name]}" "${2:-30}" || fail "$name: the client did not exit after its stdin ended"
	assert_rc 0 "$EXIT_RC" "$name: ${_HELD_CLIENT[$name]} exit status" "$T/$name.log"
	if [[ ${_HELD_CLIENT[$name]} == gnutls ]]; then
		assert_contains "$T/$name.log" "Peer has closed the GnuTLS connection" "$name: the server's close_notify"
	fi
}

# s_client_info FILE KEY -> the value of "KEY: value" / "KEY : value" lines s_client prints
sclient_field() {
	sed -nE "s/^[[:space:]]*$2[[:space:]]*:[[:space:]]*(.*)$/\1/p" "$1" | head -n1
}

# ------------------------------------------------------------------ assertions
assert_eq() { # EXPECTED ACTUAL WHAT
	[[ "$1" == "$2" ]] || fail "$3: expected '$1', got '$2'"
}
assert_ne() { # UNEXPECTED ACTUAL WHAT
	[[ "$1" != "$2" ]] || fail "$3: did not expect '$2'"
}
assert_contains() { # FILE STRING WHAT
	grep -qF -- "$2" "$1" 2>/dev/null || {
		show_tail "$1" 30
		fail "$3: '$2' not found in ${1#"$T"/}"
	}
}
assert_not_contains() { # FILE STRING WHAT
	if grep -qF -- "$2" "$1" 2>/dev/null; then
		grep -nF -- "$2" "$1" | head -n5
		fail "$3: '$2' unexpectedly found in ${1#"$T"/}"
	fi
}
assert_match() { # FILE ERE WHAT
	grep -qE -- "$2" "$1" 2>/dev/null || {
		show_tail "$1" 30
		fail "$3: no line matching /$2/ in ${1#"$T"/}"
	}
}
assert_rc() { # EXPECTED ACTUAL WHAT [OUTPUT FILE]
	if [[ "$1" != "$2" ]]; then
		[[ -n ${4:-} ]] && show_tail "$4" 30
		fail "$3: exit status $2, expected $1"
	fi
}
# assert_file_sha FILE SHA WHAT: compares content by sha256, printing sizes on mismatch.
assert_file_sha() {
	local got
	[[ -f $1 ]] || fail "$3: output file ${1#"$T"/} does not exist"
	got=$(sha_of "$1")
	[[ $got == "$2" ]] || fail "$3: sha256 mismatch: got $got ($(size_of "$1") bytes), expected $2"
}
# assert_within MS LIMIT_MS WHAT: MS <= LIMIT_MS
assert_le() {
	(($1 <= $2)) || fail "$3: $1 > $2"
}

# ------------------------------------------------------------------ s_client probes
# What the clients print, as measured with OpenSSL 3.0 and GnuTLS 3.7:
#   s_client (without -quiet) prints "New, TLSv1.3, Cipher is X" once the handshake is
#   done, "ALPN protocol: h2" or "No ALPN negotiated", and "closed" + exit 0 when the
#   server sends close_notify; a bare TCP EOF instead gives "unexpected eof while
#   reading" and exit 1.  -quiet prints only the application data on stdout.
#   gnutls-cli --logfile=F writes "- Peer has closed the GnuTLS connection" (exit 0)
#   on close_notify and "The TLS connection was non-properly terminated" (exit 1)
#   on a bare EOF; it sends close_notify on stdin EOF and keeps reading (half-close).

# probe PORT OUT [s_client args...]: handshake through ktlsd, send "GET / HTTP/1.0"
# (the backend must be in http mode), read until the server closes.  Output
# (stdout+stderr) in OUT, exit status in PROBE_RC.
probe() {
	local port=$1 out=$2
	shift 2
	PROBE_RC=0
	printf 'GET / HTTP/1.0\r\nHost: localhost\r\n\r\n' |
		sclient "$port" -ign_eof "$@" >"$out" 2>&1 || PROBE_RC=$?
}

# probe_ok PORT OUT WHAT [s_client args...]: probe that must succeed end to end
# (handshake, verified certificate, the backend's hello page, close_notify).
probe_ok() {
	local port=$1 out=$2 what=$3
	shift 3
	probe "$port" "$out" "$@"
	if ((PROBE_RC != 0)) || ! grep -q 'Hello from the backend' "$out"; then
		show_tail "$out" 25
		fail "$what: s_client $* did not get the backend's page through ktlsd (exit $PROBE_RC)"
	fi
}

# sclient_proto OUT -> TLSv1.2 / TLSv1.3 (empty if no handshake)
sclient_proto() { sed -nE 's/^New, (TLSv[0-9.]+), Cipher is .*/\1/p' "$1" | head -n1; }
# sclient_cipher OUT -> the negotiated cipher name
sclient_cipher() { sed -nE 's/^New, TLSv[0-9.]+, Cipher is (.*)/\1/p' "$1" | head -n1; }
# sclient_alpn OUT -> the ALPN protocol, "none" if none was negotiated, "" if unknown
sclient_alpn() {
	if grep -q '^No ALPN negotiated' "$1"; then
		echo none
	else
		sed -nE 's/^ALPN protocol: (.*)/\1/p' "$1" | head -n1
	fi
}
# sclient_cert OUT CERT: writes the server certificate s_client printed to CERT
sclient_cert() {
	sed -n '/-----BEGIN CERTIFICATE-----/,/-----END CERTIFICATE-----/p' "$1" |
		sed '/-----END CERTIFICATE-----/q' >"$2"
	[[ -s $2 ]] || fail "no server certificate in ${1#"$T"/}"
}
# cert_keytype CERT -> EC / RSA / other
cert_keytype() {
	case $("$OPENSSL" x509 -in "$1" -noout -text | sed -nE 's/^[[:space:]]*Public Key Algorithm: (.*)/\1/p' | head -n1) in
	id-ecPublicKey) echo EC ;;
	rsaEncryption) echo RSA ;;
	*) echo other ;;
	esac
}
cert_cn() { "$OPENSSL" x509 -in "$1" -noout -subject -nameopt multiline | sed -nE 's/^[[:space:]]*commonName[[:space:]]*= (.*)/\1/p'; }
# sclient_error OUT -> the first OpenSSL error s_client printed, e.g.
# "tlsv1 unrecognized name (alert 112)" or "wrong version number"; empty if none
sclient_error() {
	awk -F: '/:error:[0-9A-F]+:SSL routines:/ {
		msg = $6; n = ""
		if (match($0, /SSL alert number [0-9]+/)) n = " (alert " substr($0, RSTART + 17, RLENGTH - 17) ")"
		print msg n; exit }' "$1"
}

# http_body IN OUT: splits a raw HTTP/1.x response (as s_client -quiet or gnutls-cli
# print it) into its body (OUT) and prints the status line and Content-Length.
http_body() {
	"$PYTHON" - "$1" "$2" <<'PYEOF'
import sys
data = open(sys.argv[1], "rb").read()
end = data.find(b"\r\n\r\n")
if end < 0:
    print("no-header-end 0")
    open(sys.argv[2], "wb").close()
    sys.exit(0)
head = data[:end].decode("latin-1").split("\r\n")
clen = [h.split(":", 1)[1].strip() for h in head[1:] if h.lower().startswith("content-length:")]
open(sys.argv[2], "wb").write(data[end + 4:])
print(head[0].replace(" ", "_"), clen[0] if clen else "-")
PYEOF
}

# ------------------------------------------------------------------ session resumption
# Clients: s_client keeps a session in a file (-sess_out on one connection, -sess_in
# on the next); it prints "New, TLSvX, Cipher is ..." for a full handshake and
# "Reused, TLSvX, ..." for a resumed one, and "Post-Handshake New Session Ticket
# arrived:" once per TLS 1.3 NewSessionTicket.  tests/tools/sesstool.py reads the
# session file (the ticket, its 16-byte key name, the lifetime hint) and makes bad
# ones (a flipped ticket byte, a longer lifetime hint).
#
#   sess_probe NAME PORT [s_client args...]   probe_ok against an http backend, output
#                                  in $T/NAME.out; sets SESS_STATE to New or Reused
#   resume_expect New|Reused NAME PORT SESS [s_client args...]   sess_probe with
#                                  -sess_in SESS; fails unless SESS_STATE is as expected
#   sclient_state OUT -> New / Reused / "" (no handshake)
#   sclient_tickets OUT -> how many TLS 1.3 NewSessionTickets s_client got
#   sclient_ticket_name OUT -> the key name (first 16 bytes, hex) of the ticket in the
#                                  session s_client printed (TLS 1.2: a renewed ticket)
#   sess_info FILE KEY -> a field of `sesstool.py info` (key_name, key_id, ticket_len,
#                                  lifetime_hint, max_early_data, protocol, session_id)
#   SESSTOOL                       the tool itself
# ktlsd's per-listener counters: after its global "stats: ..." line ktlsd logs one
#   stats listener "NAME": handshakes_full=N handshakes_resumed=N resume_miss_...=N ...
# line per listener.
#   lstats_refresh [LISTENER] [PID] [LOG]  SIGUSR2, waits for that listener's new line
#                                  (default main) and parses it into LSTATS; KSTATS gets
#                                  the global line logged with it
#   lstats_final [LISTENER] [LOG]  LSTATS from the last such line (e.g. the one at exit)
#   lstat NAME / lstats_snapshot / lstat_delta NAME / lstats_line [NAME...]  as kstat...
#                                  (lstats_snapshot also snapshots KSTATS for kstat_delta)
#   sclient_get NAME PORT PATH [s_client args...]  GET PATH (http backend) with
#                                  s_client -quiet; the body in $T/NAME.body
#   resumed_log_lines [LOG]        ktlsd's "handshake done ..., resumed" debug lines
#   assert_lstat_deltas WHAT NAME=N...  after a refresh: each counter moved by exactly N
SESSTOOL=$TOOLS/sesstool.py

sclient_state() { sed -nE 's/^(New|Reused), TLSv[0-9.]+, Cipher is .*/\1/p' "$1" | head -n1; }
sclient_tickets() { grep -c '^Post-Handshake New Session Ticket arrived' "$1" || true; }
sclient_ticket_name() {
	awk '/TLS session ticket:/ { getline; line = $0; sub(/^[[:space:]]*0000 - /, "", line)
		line = substr(line, 1, 47); gsub(/[- ]/, "", line); print tolower(line); exit }' "$1"
}

sess_probe() {
	local name=$1 port=$2
	shift 2
	probe_ok "$port" "$T/$name.out" "$name" -servername localhost "$@"
	SESS_STATE=$(sclient_state "$T/$name.out")
	[[ -n $SESS_STATE ]] || {
		show_tail "$T/$name.out" 25
		fail "$name: s_client printed no New/Reused line"
	}
}

resume_expect() {
	local want=$1 name=$2 port=$3 sess=$4
	shift 4
	[[ -s $sess ]] || fail "$name: no session file ${sess#"$T"/} to resume"
	sess_probe "$name" "$port" -sess_in "$sess" "$@"
	if [[ $SESS_STATE != "$want" ]]; then
		grep -E '^(New|Reused),|Session-ID:|TLS session ticket lifetime|Early data' "$T/$name.out" | sed 's/^/    s_client: /'
		fail "$name: s_client -sess_in ${sess#"$T"/} $*: expected a '$want' session, got '$SESS_STATE'"
	fi
}

sess_info() {
	"$PYTHON" "$SESSTOOL" info "$1" | "$PYTHON" -c 'import json, sys; v = json.load(sys.stdin)[sys.argv[1]]; print("" if v is None else v)' "$2"
}

declare -A LSTATS=() _LSTATS0=()
_lstats_count() { grep -cF "stats listener \"$2\":" "$1" 2>/dev/null || true; }
_lstats_above() { (($(_lstats_count "$1" "$2") > $3)); }
_parse_lstats_line() { # LINE -> LSTATS
	local kv
	LSTATS=()
	for kv in ${1#*\": }; do
		[[ $kv == *=* ]] && LSTATS[${kv%%=*}]=${kv#*=}
	done
	((${#LSTATS[@]} > 0))
}

lstats_refresh() {
	local l=${1:-main} pid=${2:-$KTLSD_PID} log=${3:-$KTLSD_LOG} before line
	before=$(_lstats_count "$log" "$l")
	kill -USR2 "$pid" 2>/dev/null || fail "lstats_refresh: cannot signal ktlsd pid $pid"
	wait_until 10 _lstats_above "$log" "$l" "$before" || {
		grep ' stats' "$log" | tail -n3
		fail "ktlsd pid $pid logged no 'stats listener \"$l\":' line within $(scaled 10) s of SIGUSR2"
	}
	line=$(grep -F "stats listener \"$l\":" "$log" | tail -n1)
	_parse_lstats_line "$line" || fail "cannot parse ktlsd's listener stats line: $line"
	line=$(grep ' stats: ' "$log" | tail -n1)
	[[ -z $line ]] || _parse_stats_line "$line" || true
}

lstats_final() {
	local l=${1:-main} log=${2:-$KTLSD_LOG} line
	line=$(grep -F "stats listener \"$l\":" "$log" | tail -n1)
	[[ -n $line ]] || fail "no 'stats listener \"$l\":' line in ${log#"$T"/}"
	_parse_lstats_line "$line" || fail "cannot parse ktlsd's listener stats line: $line"
}

lstat() {
	[[ -n ${LSTATS[$1]:-} ]] || _kdie "ktlsd's listener stats have no counter '$1' (have: ${!LSTATS[*]})"
	echo "${LSTATS[$1]}"
}

lstats_snapshot() {
	local k
	lstats_refresh "$@"
	_LSTATS0=()
	for k in "${!LSTATS[@]}"; do _LSTATS0[$k]=${LSTATS[$k]}; done
	_KSTATS0=()
	for k in "${!KSTATS[@]}"; do _KSTATS0[$k]=${KSTATS[$k]}; done
}

lstat_delta() {
	local v
	v=$(lstat "$1") || exit 1
	echo $((v - ${_LSTATS0[$1]:-0}))
}

lstats_line() {
	local k out=""
	# shellcheck disable=SC2046 # one word per counter name
	(($# == 0)) && set -- $(printf '%s\n' "${!LSTATS[@]}" | sort)
	for k in "$@"; do out+="${out:+ }$k=${LSTATS[$k]:-?}"; done
	echo "$out"
}

# lstats_delta_line -> "name=+N ..." of every counter that moved since the snapshot
lstats_delta_line() {
	local k out=""
	for k in $(printf '%s\n' "${!LSTATS[@]}" | sort); do
		((LSTATS[$k] != ${_LSTATS0[$k]:-0})) && out+="${out:+ }$k=+$((LSTATS[$k] - ${_LSTATS0[$k]:-0}))"
	done
	echo "${out:-(none moved)}"
}

assert_lstat_deltas() { # WHAT NAME=N...
	local what=$1 kv k want got bad=""
	shift
	for kv in "$@"; do
		k=${kv%%=*}
		want=${kv#*=}
		[[ -n ${LSTATS[$k]:-} ]] || fail "$what: ktlsd's listener stats have no counter '$k' (have: ${!LSTATS[*]})"
		got=$((LSTATS[$k] - ${_LSTATS0[$k]:-0}))
		((got == want)) || bad+="${bad:+, }$k +$got (expected +$want)"
	done
	[[ -z $bad ]] || fail "$what: per-listener counters: $bad; all that moved: $(lstats_delta_line)"
}

sclient_get() {
	local name=$1 port=$2 path=$3 rc=0 st
	shift 3
	printf 'GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n' "$path" |
		sclient "$port" -servername localhost -quiet -ign_eof "$@" >"$T/$name.raw" 2>"$T/$name.err" || rc=$?
	assert_rc 0 "$rc" "$name: s_client -quiet GET $path $*" "$T/$name.err"
	st=$(http_body "$T/$name.raw" "$T/$name.body")
	[[ $st == HTTP/1.1_200_OK\ * ]] || fail "$name: GET $path: response '$st'"
}

resumed_log_lines() { count_log "${1:-$KTLSD_LOG}" 'handshake done( on worker [0-9]+)?: .*, resumed(,|$)'; }
