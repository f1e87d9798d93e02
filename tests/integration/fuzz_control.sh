#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz_control.sh - runs the libFuzzer target of the control request parser
# (fuzz/fuzz_control.c, built by `make fuzz` with clang, ASan and UBSan) for a
# bounded time (FUZZ_SECONDS, default 20) from the seed corpus fuzz/corpus/control.
# Passes when libFuzzer finds no crash, leak or sanitizer report.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
command -v clang >/dev/null || fail "clang is not installed (scripts/deps.sh check installs it)"

FUZZER=$BUILD/fuzz/fuzz_control
make -s -C "$ROOT" BUILD="$BUILD" fuzz >"$T/build.log" 2>&1 || {
	show_tail "$T/build.log" 30
	fail "make fuzz failed"
}
[[ -x $FUZZER ]] || fail "make fuzz did not produce $FUZZER"
mkdir -p "$T/corpus"
cp "$ROOT"/fuzz/corpus/control/* "$T/corpus/"
secs=${FUZZ_SECONDS:-20}
rc=0
(cd "$T" && "$FUZZER" -max_total_time="$secs" -max_len=70000 -timeout=10 -rss_limit_mb=2048 \
	-print_final_stats=1 "$T/corpus" >"$T/fuzz.log" 2>&1) || rc=$?
if ((rc != 0)) || grep -qE 'ERROR: (AddressSanitizer|LeakSanitizer|libFuzzer)|runtime error:' "$T/fuzz.log"; then
	show_tail "$T/fuzz.log" 40
	fail "the fuzzer found a problem (exit $rc); the input is in $T (crash-*)"
fi
runs=$(sed -nE 's/^stat::number_of_executed_units: *([0-9]+).*/\1/p' "$T/fuzz.log" | tail -n1)
note "fuzz_control: ${runs:-?} inputs in ${secs}s, no crash, leak or sanitizer report"
