#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# config_errors.sh - `ktlsd -t -c FILE` checks a configuration (certificates
# included): a good one exits 0; each broken one exits 1 and prints
# "FILE:LINE: what is wrong" on stderr, LINE being where the mistake is:
# unknown setting, bad listen address, missing certificate file, key that does
# not match its certificate (or is of another key type), unknown profile, bad TLS
# version, syntax error. A good file gets one line; a server name in two profiles of
# a listener gets a warning that names the profile that answers it.
# Relative certificate paths resolve against the config file's directory.
# Starting (not -t) on a broken file fails the same way; --version prints the
# Makefile's version.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktlsd

VERSION=$(sed -nE 's/^VERSION[[:space:]]*:?=[[:space:]]*([^[:space:]]+).*/\1/p' "$ROOT/Makefile")

# --version / -V
for flag in --version -V; do
	rc=0
	to 10 "$KTLSD" "$flag" >"$T/version.out" 2>&1 || rc=$?
	assert_rc 0 "$rc" "ktlsd $flag" "$T/version.out"
	assert_match "$T/version.out" "ktlsd.* $VERSION([^0-9.]|$)" "ktlsd $flag output"
done
note "--version: $(head -n1 "$T/version.out")"

write_config "$T/good.conf" backend=127.0.0.1:9 listen="127.0.0.1:$(free_port)"

# check_t CONF -> runs ktlsd -t, output in CONF.err, status in CHECK_RC
check_t() {
	CHECK_RC=0
	to 20 "$KTLSD" -t -c "$1" >"$1.err" 2>&1 || CHECK_RC=$?
}

check_t "$T/good.conf"
assert_rc 0 "$CHECK_RC" "ktlsd -t on a good config" "$T/good.conf.err"
# One line of result, nothing else (log_level = "debug" in the file notwithstanding).
assert_eq 1 "$(wc -l <"$T/good.conf.err")" "ktlsd -t prints one line"
assert_match "$T/good.conf.err" "configuration OK \(2 profile\(s\), 1 listener\(s\)\)$" "ktlsd -t result line"
note "good config: $(head -n1 "$T/good.conf.err")"

# bad NAME SED-EXPR ANCHOR-REGEX WORD
#   NAME: case; SED-EXPR: the change to good.conf; ANCHOR-REGEX: matches the line
#   (after the change) the error must point at; WORD: must appear in the message.
bad() {
	local name=$1 expr=$2 anchor=$3 word=$4 conf=$T/$1.conf line
	sed -E "$expr" "$T/good.conf" >"$conf"
	cmp -s "$conf" "$T/good.conf" && fail "$name: the sed expression changed nothing"
	line=$(grep -nE -- "$anchor" "$conf" | head -n1 | cut -d: -f1)
	[[ -n $line ]] || fail "$name: test bug: anchor /$anchor/ not in $conf"
	check_t "$conf"
	assert_rc 1 "$CHECK_RC" "$name: ktlsd -t exit status" "$conf.err"
	grep -qF -- "$conf:$line:" "$conf.err" || {
		echo "--- $name.conf around line $line:"
		sed -n "$((line > 2 ? line - 2 : 1)),$((line + 2))p" "$conf"
		show_tail "$conf.err" 10
		fail "$name: expected an error at $conf:$line:"
	}
	grep -qiF -- "$word" "$conf.err" || {
		show_tail "$conf.err" 10
		fail "$name: the message does not mention '$word'"
	}
	note "$name: $(grep -F -- "$conf:$line:" "$conf.err" | head -n1 | sed "s|$T/||")"
}

bad unknown-setting 's/^(workers = 1;)$/\1\nbogus_setting = 3;/' '^bogus_setting' bogus_setting
bad unknown-listener-setting 's/^(    buffer_size = .*)$/\1\n    colour = "blue";/' '^    colour' colour
bad bad-listen-port 's/^(    listen = ")127\.0\.0\.1:[0-9]+/\1127.0.0.1:99999/' '127\.0\.0\.1:99999' 99999
bad bad-listen-host 's/^(    listen = ")127\.0\.0\.1:[0-9]+/\1not-an-address/' 'not-an-address' not-an-address
bad bad-backend 's/^(    backend = ").*"/\1127.0.0.1"/' '^    backend = ' backend
bad missing-cert "s|$CERTS/ecdsa.crt|$T/missing/ecdsa.crt|" "$T/missing/ecdsa.crt" "$T/missing/ecdsa.crt"
bad missing-key "s|$CERTS/rsa.key|$T/missing/rsa.key|" "$T/missing/rsa.key" "$T/missing/rsa.key"
bad unknown-profile 's/^(    profiles = \[ "default"), "other" \]/\1, "nope" ]/' '"nope"' nope
bad bad-version 's/^(    server_names = \[ "localhost" \];)$/\1\n    min_version = "1.1";/' 'min_version' min_version
bad syntax-error 's/^(shutdown_timeout = )([0-9]+);/\1= \2;/' '^shutdown_timeout' syntax

# A key that does not belong to the certificate: the message names the key file.
sed "s|$CERTS/ecdsa.key|$CERTS/other.key|" "$T/good.conf" >"$T/mismatch.conf"
check_t "$T/mismatch.conf"
assert_rc 1 "$CHECK_RC" "certificate/key mismatch: ktlsd -t exit status" "$T/mismatch.conf.err"
assert_contains "$T/mismatch.conf.err" "$T/mismatch.conf:" "certificate/key mismatch: file name in the message"
assert_contains "$T/mismatch.conf.err" "other.key" "certificate/key mismatch: the key file in the message"
note "mismatch: $(head -n1 "$T/mismatch.conf.err" | sed "s|$T/||")"

# An RSA certificate given an EC key: named as a mismatch of the two files and key types
# (OpenSSL files a key under its own type, which once read as a second EC certificate).
sed "s|$CERTS/rsa.key|$CERTS/ecdsa.key|" "$T/good.conf" >"$T/typemix.conf"
check_t "$T/typemix.conf"
assert_rc 1 "$CHECK_RC" "RSA certificate with an EC key: ktlsd -t exit status" "$T/typemix.conf.err"
assert_contains "$T/typemix.conf.err" "key $CERTS/ecdsa.key (id-ecPublicKey) does not load or match $CERTS/rsa.crt (rsaEncryption)" \
	"RSA certificate with an EC key: the message"
note "type mismatch: $(head -n1 "$T/typemix.conf.err" | sed "s|$T/||")"

# A server name in two profiles of one listener: legal, but -t says which one answers.
sed 's/"other.test", /"other.test", "LocalHost", /' "$T/good.conf" >"$T/shared.conf"
check_t "$T/shared.conf"
assert_rc 0 "$CHECK_RC" "a server name in two profiles: ktlsd -t exit status" "$T/shared.conf.err"
assert_contains "$T/shared.conf.err" "server name \"localhost\" is in profiles \"default\" and \"other\"; \"default\" answers it" \
	"a server name in two profiles: the warning"
assert_contains "$T/shared.conf.err" "$T/shared.conf:" "a server name in two profiles: file name"
note "shared name: $(grep -m1 'server name' "$T/shared.conf.err" | sed "s|$T/||")"

# A file that does not exist.
check_t "$T/nope.conf"
assert_rc 1 "$CHECK_RC" "missing config file: ktlsd -t exit status" "$T/nope.conf.err"
assert_contains "$T/nope.conf.err" "$T/nope.conf" "missing config file: the path in the message"

# Relative certificate paths resolve against the config's directory, from any cwd.
mkdir -p "$T/rel"
private_certs "$T/rel"
sed -E "s|\"$CERTS/|\"|g" "$T/good.conf" >"$T/rel/ktlsd.conf"
grep -q 'cert = "ecdsa.crt"' "$T/rel/ktlsd.conf" || fail "test bug: relative paths not written"
rc=0
(cd / && to 20 "$KTLSD" -t -c "$T/rel/ktlsd.conf") >"$T/rel.err" 2>&1 || rc=$?
assert_rc 0 "$rc" "relative certificate paths" "$T/rel.err"

# Starting for real on a broken file: exit 1, same message, nothing left running.
rc=0
to 20 "$KTLSD" -f -c "$T/unknown-setting.conf" >"$T/start-bad.err" 2>&1 || rc=$?
assert_rc 1 "$rc" "ktlsd -f on a broken config" "$T/start-bad.err"
assert_contains "$T/start-bad.err" "$T/unknown-setting.conf:" "ktlsd -f on a broken config: message"
note "ok"
