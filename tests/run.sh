#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/run.sh - ktlsd's test runner (what `make check` and `make check-ktls` call).
#
#   BUILD=build tests/run.sh [--native-only | --vm-only] [NAME...]
#
# Native part: every unit test binary $BUILD/tests/test_* and then every
# scenario tests/integration/*.sh, one at a time, each under a timeout.
#
# VM part (after the native part): this machine's kernel has no kernel TLS, so
# ONE throw-away VM is booted with kmod-helpers/ktls-vm.sh (Debian's kernel with
# tls.ko, the host's root file system read-only) and runs, inside, `tests/run.sh
# --in-vm`: the kTLS scenarios tests/ktls/*.sh, then the relay scenarios of the
# native suite (VM_RELAY below), all with TIMEOUT_SCALE=$VM_TIMEOUT_SCALE and
# KTLSD_EXPECT_KTLS=1, which makes every scenario check at its end that ktlsd's
# counters agree with the kernel's /proc/net/tls_stat (see tests/lib.sh).  Their
# result lines come back prefixed with "vm: ".  If the VM cannot run here
# (ktls-vm.sh exits 77: no qemu, no kernel package...) that counts as one SKIP.
#
# A test exits 0 (pass), 77 (skip) or anything else (fail).  One line per test:
#     PASS name (1.2s)
#     FAIL name (3.4s)        followed by the tail of its log
#     SKIP name: reason
#     vm: PASS ktls_ciphers (20.1s)      (the same, from inside the VM)
# and the summary of native + VM tests together, alone on the last line:
#     N passed, N failed, N skipped
# Exit status: 0 if nothing failed, 1 otherwise (2 for bad usage).
#
# Options:
#   --native-only   just the native part
#   --vm-only       just the VM part
#   --in-vm         (used inside the VM) run the kTLS + relay scenarios right here,
#                   on this kernel, which must have kernel TLS
# NAME filters: a test runs if its name (test_config, ktls_bulk, ...) equals one
# of them or contains it as a substring; the VM is not booted if no VM test matches.
#
# Environment: BUILD (default build), TEST_TIMEOUT seconds per test (default
# 300), TIMEOUT_SCALE (multiplies TEST_TIMEOUT, and every wait in the scenarios),
# FAIL_TAIL lines of log shown for a failure (default 60).
# VM part:
#   KTLSD_SKIP_VM=1   skip it (counted as one SKIP)
#   VM_TIMEOUT_SCALE  TIMEOUT_SCALE inside (default 5)
#   VM_TEST_TIMEOUT   seconds per test inside (default 300, not scaled)
#   VM_TIMEOUT        seconds for the whole VM run, boot included (default 1800: a
#                     guard against hangs; the run takes about 7 min on an idle
#                     2-CPU host, and much longer while other jobs use the CPUs)
#   VM_RELAY          the native scenarios that run inside as well
#   VM_RELAY_SIZES    RELAY_SIZES for relay_sizes inside (default: up to 1 MiB)
#   KTLSD_VM_SCRIPT   the VM runner (default kmod-helpers/ktls-vm.sh)
#   KTLSD_VM_MEM, KTLSD_VM_CPUS as ktls-vm.sh takes them; KTLSD (e.g. a sanitizer
#   build), KTLSD_VERBOSE, KEEP_TMP, PYTHON, OPENSSL, ASAN_OPTIONS, UBSAN_OPTIONS
#   are passed in.
# Logs: $BUILD/test-logs/NAME.log (the test's output) and $BUILD/test-logs/NAME/
# (ktlsd and backend logs of a scenario); the VM part's in $BUILD/test-logs/vm/
# (console.log: everything the VM printed; NAME.log and NAME/ as above).
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) BUILDDIR=$BUILD ;;
*) BUILDDIR=$ROOT/$BUILD ;;
esac
export BUILD=$BUILDDIR
TIMEOUT_SCALE=${TIMEOUT_SCALE:-1}
export TIMEOUT_SCALE
TEST_TIMEOUT=${TEST_TIMEOUT:-300}
FAIL_TAIL=${FAIL_TAIL:-60}
LOGDIR=${KTLSD_TEST_LOGDIR:-$BUILDDIR/test-logs}
VM_TIMEOUT_SCALE=${VM_TIMEOUT_SCALE:-5}
VM_TEST_TIMEOUT=${VM_TEST_TIMEOUT:-300}
VM_TIMEOUT=${VM_TIMEOUT:-1800}
VM_SCRIPT=${KTLSD_VM_SCRIPT:-$ROOT/kmod-helpers/ktls-vm.sh}
# relay_sizes' sizes inside: its 16 MiB case costs ~75 s at emulated-CPU speed, and
# ktls_bulk moves 256 MiB each way anyway.
VM_RELAY_SIZES=${VM_RELAY_SIZES:-0 1 16383 16384 16385 1048576}
# The relay part of the native suite, run again on kernel TLS inside the VM.
VM_RELAY=${VM_RELAY:-relay_sizes half_close concurrency bad_input graceful_stop proxy_v2 ipv6_unix timeouts seccomp}

mode=all
filters=()
for a in "$@"; do
	case $a in
	--native-only) mode=native ;;
	--vm-only) mode=vm ;;
	--in-vm) mode=in-vm ;;
	-h | --help)
		sed -n '/^# tests\/run.sh/,/^set -uo/{/^set -uo/d;s/^# \{0,1\}//;p}' "$0"
		exit 0
		;;
	-*)
		echo "run.sh: unknown option $a (--native-only, --vm-only, --in-vm)" >&2
		exit 2
		;;
	*) filters+=("$a") ;;
	esac
done

if [[ -n ${TEST_LIMIT:-} ]]; then # absolute seconds per test (the VM part passes it in)
	limit=$TEST_LIMIT
else
	limit=$(awk -v a="$TEST_TIMEOUT" -v s="$TIMEOUT_SCALE" 'BEGIN { printf "%d", a * s }')
fi

selected() {
	local name=$1 f
	((${#filters[@]} == 0)) && return 0
	for f in "${filters[@]}"; do
		[[ $name == *"$f"* ]] && return 0
	done
	return 1
}

# The lists: "kind name path"
native_tests=()
for f in "$BUILDDIR"/tests/test_*; do
	[[ -f $f && -x $f ]] || continue
	name=$(basename "$f")
	selected "$name" && native_tests+=("unit $name $f")
done
for f in "$ROOT"/tests/integration/*.sh; do
	[[ -f $f ]] || continue
	name=$(basename "$f" .sh)
	selected "$name" && native_tests+=("integration $name $f")
done
vm_tests=()
vm_missing=()
for f in "$ROOT"/tests/ktls/*.sh; do
	[[ -f $f ]] || continue
	name=$(basename "$f" .sh)
	selected "$name" && vm_tests+=("ktls $name $f")
done
for name in $VM_RELAY; do
	f=$ROOT/tests/integration/$name.sh
	selected "$name" || continue
	if [[ -f $f ]]; then
		vm_tests+=("relay $name $f")
	else
		vm_missing+=("$name")
	fi
done

case $mode in
native) vm_tests=() ;;
vm | in-vm) native_tests=() ;;
esac
if ((${#native_tests[@]} + ${#vm_tests[@]} == 0)); then
	if ((${#filters[@]} > 0)); then
		echo "run.sh: no test matches: ${filters[*]}" >&2
		exit 2
	fi
	echo "run.sh: no tests found (is $BUILDDIR built?)" >&2
fi

mkdir -p "$LOGDIR"
passed=0 failed=0 skipped=0
failed_names=()

ms() { date +%s%3N; }
secs_since() { awk -v d=$(($(ms) - $1)) 'BEGIN { printf "%.1f", d / 1000 }'; }

# run_list "kind name path"...: runs them one at a time, printing the result lines.
run_list() {
	local t kind name path log start rc secs reason why
	for t in "$@"; do
		read -r kind name path <<<"$t"
		log=$LOGDIR/$name.log
		rm -rf "${LOGDIR:?}/$name"
		start=$(ms)
		if [[ $kind == unit ]]; then
			(cd "$ROOT" && timeout -k 10 "$limit" "$path") >"$log" 2>&1 </dev/null
		else
			(cd "$ROOT" && TEST_NAME=$name TEST_LOG_DIR=$LOGDIR/$name \
				timeout -k 10 "$limit" bash "$path") >"$log" 2>&1 </dev/null
		fi
		rc=$?
		secs=$(secs_since "$start")
		case $rc in
		0)
			echo "PASS $name (${secs}s)"
			passed=$((passed + 1))
			;;
		77)
			reason=$(grep -E 'SKIP:?' "$log" | tail -n1 | sed -E 's/.*SKIP:?[[:space:]]*//')
			echo "SKIP $name: ${reason:-no reason given}"
			skipped=$((skipped + 1))
			;;
		*)
			why="exit status $rc"
			((rc == 124 || rc == 137)) && why="timed out after ${limit}s"
			echo "FAIL $name (${secs}s, $why)"
			tail -n "$FAIL_TAIL" "$log" | sed 's/^/    | /'
			echo "    (full log: $log)"
			failed=$((failed + 1))
			failed_names+=("$name")
			;;
		esac
	done
}

# ---------------------------------------------------------------- in the VM
if [[ $mode == in-vm ]]; then
	if [[ ! -r /proc/net/tls_stat ]]; then
		echo "run.sh --in-vm: this kernel has no kernel TLS (/proc/net/tls_stat); use --vm-only" >&2
		exit 2
	fi
	for name in "${vm_missing[@]}"; do echo "note: tests/integration/$name.sh does not exist (VM_RELAY)"; done
	export KTLSD_EXPECT_KTLS=1
	echo "kernel $(uname -r), TIMEOUT_SCALE=$TIMEOUT_SCALE, ${limit}s per test, ${#vm_tests[@]} tests"
	run_list "${vm_tests[@]}"
	((failed > 0)) && echo "failed: ${failed_names[*]}"
	echo "$passed passed, $failed failed, $skipped skipped"
	((failed == 0))
	exit
fi

# ---------------------------------------------------------------- native
((${#native_tests[@]})) && run_list "${native_tests[@]}"

# ---------------------------------------------------------------- the VM
# vm_line LINE: one line of the VM's console, counted and shown with "vm: "
vm_seen=0 vm_summary=""
vm_line() {
	local l=$1
	case $l in
	PASS\ *)
		passed=$((passed + 1))
		vm_seen=$((vm_seen + 1))
		;;
	SKIP\ *)
		skipped=$((skipped + 1))
		vm_seen=$((vm_seen + 1))
		;;
	FAIL\ *)
		failed=$((failed + 1))
		vm_seen=$((vm_seen + 1))
		l2=${l#FAIL }
		failed_names+=("vm:${l2%% *}")
		;;
	[0-9]*\ passed,\ [0-9]*\ failed,\ [0-9]*\ skipped)
		vm_summary=$l
		;;
	esac
	printf 'vm: %s\n' "$l"
}

run_vm() {
	local out=$LOGDIR/vm console start vmpid rc line reason n
	local -a names=() args=()
	console=$out/console.log
	for t in "${vm_tests[@]}"; do
		read -r _ n _ <<<"$t"
		names+=("$n")
	done
	if [[ ${KTLSD_SKIP_VM:-0} == 1 ]]; then
		echo "SKIP vm: KTLSD_SKIP_VM=1 (${#vm_tests[@]} kTLS tests not run)"
		skipped=$((skipped + 1))
		return
	fi
	rm -rf "${out:?}"
	mkdir -p "$out"
	for n in "${vm_missing[@]}"; do echo "vm: note: tests/integration/$n.sh does not exist (in VM_RELAY)"; done
	# the shared test PKI, made here rather than at emulated-CPU speed inside
	"$ROOT/scripts/gen-certs.sh" "$BUILDDIR/test-certs" >"$out/gen-certs.log" 2>&1 || {
		echo "FAIL vm (scripts/gen-certs.sh failed: $out/gen-certs.log)"
		failed=$((failed + 1))
		failed_names+=(vm)
		return
	}
	args=(-t "$VM_TIMEOUT" -o "$out"
		-e "BUILD=$BUILDDIR" -e "TIMEOUT_SCALE=$VM_TIMEOUT_SCALE" -e "TEST_LIMIT=$VM_TEST_TIMEOUT"
		-e "KTLSD_TEST_LOGDIR=$out" -e "FAIL_TAIL=$FAIL_TAIL" -e "VM_RELAY=$VM_RELAY"
		-e "RELAY_SIZES=$VM_RELAY_SIZES")
	for v in KTLSD KTLSD_VERBOSE KEEP_TMP PYTHON OPENSSL ASAN_OPTIONS UBSAN_OPTIONS; do
		[[ -n ${!v:-} ]] && args+=(-e "$v=${!v}")
	done
	start=$(ms)
	# The console goes to a file (kept for later) that is followed with tail.
	: >"$console"
	"$VM_SCRIPT" "${args[@]}" -- tests/run.sh --in-vm "${names[@]}" \
		>"$console" 2>&1 </dev/null &
	vmpid=$!
	while IFS= read -r line; do
		vm_line "$line"
	done < <(tail -n +1 -s 0.5 -F --pid="$vmpid" "$console" 2>/dev/null)
	wait "$vmpid"
	rc=$?
	if ((rc == 77)); then
		reason=$(sed -nE 's/^\[ktlsd-vm\] SKIP: //p' "$console" | tail -n1)
		echo "SKIP vm: ${reason:-kmod-helpers/ktls-vm.sh cannot run a VM here}"
		skipped=$((skipped + 1))
		return
	fi
	if [[ -z $vm_summary ]] || ((vm_seen != ${#vm_tests[@]})); then
		echo "FAIL vm ($(secs_since "$start")s, ktls-vm.sh exit status $rc; $vm_seen of ${#vm_tests[@]} tests reported; console: $console)"
		failed=$((failed + 1))
		failed_names+=(vm)
		return
	fi
	echo "vm: done in $(secs_since "$start")s (boot included)"
}

if [[ $mode != native ]]; then
	if ((${#vm_tests[@]} > 0)); then
		run_vm
	elif [[ $mode == vm ]]; then
		echo "run.sh: no kTLS test matches: ${filters[*]}" >&2
		exit 2
	fi
fi

((failed > 0)) && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
