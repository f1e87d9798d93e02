#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# layers.sh - daemon/'s structure holds: calls and includes go down the layers
# (util < config < core < tls < data < services < daemon/), and no files call each
# other round a cycle. Read from the objects this build made (scripts/check-layers.py).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd nm

rc=0
"$PYTHON" "$ROOT/scripts/check-layers.py" "$BUILDDIR" >"$T/layers.out" 2>&1 || rc=$?
cat "$T/layers.out"
assert_rc 0 "$rc" "scripts/check-layers.py $BUILDDIR" "$T/layers.out"
assert_match "$T/layers.out" "^check-layers: [0-9]+ object files, [0-9]+ file-to-file calls" "summary"
