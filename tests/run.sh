#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# tests/run.sh - ktlsd's test runner (what `make check` calls).
#
#   BUILD=build tests/run.sh [NAME...]
#
# Runs every unit test binary $BUILD/tests/test_* and then every scenario
# tests/integration/*.sh, one at a time, each under a timeout.  A test exits
# 0 (pass), 77 (skip) or anything else (fail).  Prints one line per test:
#     PASS name (1.2s)
#     FAIL name (3.4s)        followed by the tail of its log
#     SKIP name: reason
# and ends with the summary alone on the last line:
#     N passed, N failed, N skipped
# Exit status: 0 if nothing failed, 1 otherwise (2 for bad usage).
#
# NAME filters: a test runs if its name (test_config, tls_versions, ...) equals
# one of them or contains it as a substring.
#
# Environment: BUILD (default build), TEST_TIMEOUT seconds per test (default
# 300), TIMEOUT_SCALE (multiplies TEST_TIMEOUT, and every wait in the scenarios),
# FAIL_TAIL lines of log shown for a failure (default 60).
# Logs: $BUILD/test-logs/NAME.log (the test's output) and
# $BUILD/test-logs/NAME/ (ktlsd and backend logs of a scenario).
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
LOGDIR=$BUILDDIR/test-logs

limit=$(awk -v a="$TEST_TIMEOUT" -v s="$TIMEOUT_SCALE" 'BEGIN { printf "%d", a * s }')

filters=("$@")
selected() {
	local name=$1 f
	((${#filters[@]} == 0)) && return 0
	for f in "${filters[@]}"; do
		[[ $name == *"$f"* ]] && return 0
	done
	return 1
}

# The list: "kind name path"
tests=()
for f in "$BUILDDIR"/tests/test_*; do
	[[ -f $f && -x $f ]] || continue
	name=$(basename "$f")
	selected "$name" && tests+=("unit $name $f")
done
for f in "$ROOT"/tests/integration/*.sh; do
	[[ -f $f ]] || continue
	name=$(basename "$f" .sh)
	selected "$name" && tests+=("integration $name $f")
done

if ((${#tests[@]} == 0)); then
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

for t in "${tests[@]}"; do
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
	secs=$(awk -v d=$(($(ms) - start)) 'BEGIN { printf "%.1f", d / 1000 }')
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

((failed > 0)) && echo "failed: ${failed_names[*]}"
echo "$passed passed, $failed failed, $skipped skipped"
((failed == 0))
