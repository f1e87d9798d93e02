#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# config_docs.sh - the configuration reference cannot drift from the parser: README.md's
# settings tables and ktlsd.conf(5)'s SETTINGS are what the schema in daemon/config says
# (scripts/config-docs.py --check), every setting of the schema is in both, and the man
# pages format without a groff warning.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd groff

confdoc=$BUILDDIR/ktlsd-confdoc
[ -x "$confdoc" ] || fail "$confdoc is not built"

rc=0
"$PYTHON" "$ROOT/scripts/config-docs.py" --check "$confdoc" >"$T/check.out" 2>&1 || rc=$?
cat "$T/check.out"
assert_rc 0 "$rc" "README.md and man/ktlsd.conf.5 match the schema (else: make docs)" "$T/check.out"

# Each setting name the schema documents appears as a row in both documents.
# shellcheck disable=SC2016 # the backquotes are Markdown, not shell
"$confdoc" markdown | sed -n 's/^| `\([a-z0-9_]*\)` |.*/\1/p' | sort -u >"$T/names"
n=$(wc -l <"$T/names")
[ "$n" -ge 50 ] || fail "only $n settings in the schema's reference"
missing=0
while read -r name; do
	grep -q "^| \`$name\` |" "$ROOT/README.md" || { echo "README.md lacks $name"; missing=1; }
	grep -q "^\\\\fB$name\\\\fR (" "$ROOT/man/ktlsd.conf.5" || { echo "ktlsd.conf.5 lacks $name"; missing=1; }
done <"$T/names"
assert_rc 0 "$missing" "all $n settings documented in README.md and ktlsd.conf(5)"

for page in "$ROOT"/man/*.[0-9]; do
	groff -man -Tutf8 -ww -z "$page" >"$T/groff.out" 2>&1
	if [ -s "$T/groff.out" ]; then
		cat "$T/groff.out"
		fail "$(basename "$page"): groff warnings"
	fi
	say "$(basename "$page") formats without warnings"
done
