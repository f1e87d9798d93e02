#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz_control.sh - runs the libFuzzer target of the control request parser
# (fuzz/fuzz_control.c, built by `make fuzz` with clang, ASan and UBSan) for a
# bounded time (FUZZ_SECONDS, default 20) from the seed corpus fuzz/corpus/control.
# Passes when libFuzzer finds no crash, leak or sanitizer report.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
run_fuzzer fuzz_control
