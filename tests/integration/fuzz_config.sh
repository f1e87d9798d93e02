#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# fuzz_config.sh - runs the libFuzzer target of the configuration parser
# (fuzz/fuzz_config.c: any text loaded through ktlsd's schema, as `ktlsd -t` would)
# for a bounded time (FUZZ_SECONDS, default 20) from the seed corpus
# fuzz/corpus/config. Passes when libFuzzer finds no crash, leak or sanitizer report.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
run_fuzzer fuzz_config
