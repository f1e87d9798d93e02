#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# print_config.sh - `ktlsd -T` prints the effective configuration in the file's syntax:
#  1. settings the file leaves out appear with their defaults (session_cache_size,
#     client_hello_timeout, a profile's tickets mode, ...), set ones with their values;
#  2. the handoff socket's internal listeners are not in it, its settings are;
#  3. what it prints is a configuration ktlsd accepts (-t), and printing that again gives
#     the same text (a round trip);
#  4. a broken file gets file:line and exit status 1, as with -t.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_ktlsd

write_config "$T/k.conf" backend=127.0.0.1:9 listen2="127.0.0.1:$(free_port)" backend2=unix:/run/app.sock \
	alpn2=http/1.1 extra="control_socket = \"$T/ctl.sock\"; control_allow_uids = [ 65534 ];
handoff_socket = \"$T/h.sock\"; metrics_listen = \"127.0.0.1:9\"; max_connections = 1000;"

to 20 "$KTLSD" -T -c "$T/k.conf" >"$T/eff.conf" 2>"$T/eff.err" || { cat "$T/eff.err"; fail "ktlsd -T"; }
# ---- 1. defaults and values
for want in '^session_cache_size = 20480;$' '^max_connections = 1000;$' '^log_target = "stderr";$' \
	'^seccomp = false;$' '^    client_hello_timeout = 5;$' '^    tickets = "stateless";$' \
	'^    listen = "127.0.0.1:[0-9]+";$' '^    backend = "unix:/run/app.sock";$' \
	'^    alpn = \[ "http/1.1" \];$' '^    profiles = \[ "default", "other" \];$' \
	'^control_allow_uids = \[ 65534 \];$' '^    certificates = \($'; do
	grep -qE -- "$want" "$T/eff.conf" || { cat "$T/eff.conf"; fail "ktlsd -T: no line /$want/"; }
done
# ---- 2. the handoff socket
assert_match "$T/eff.conf" "^handoff_socket = \"$T/h.sock\";$" "the handoff socket"
grep -q 'name = "handoff' "$T/eff.conf" && fail "the handoff socket's internal listeners are printed"
assert_eq 2 "$(grep -c '^    name = "\(main\|second\)";$' "$T/eff.conf")" "the file's two listeners"
# ---- 3. round trip
to 20 "$KTLSD" -t -c "$T/eff.conf" >"$T/t.out" 2>&1 || { cat "$T/t.out"; fail "ktlsd -t on the printed configuration"; }
to 20 "$KTLSD" -T -c "$T/eff.conf" >"$T/eff2.conf" 2>&1 || fail "ktlsd -T on the printed configuration"
diff <(tail -n +2 "$T/eff.conf") <(tail -n +2 "$T/eff2.conf") >"$T/diff.out" ||
	{ cat "$T/diff.out"; fail "printing the printed configuration changes it"; }
say "ktlsd -T: $(grep -c ' = ' "$T/eff.conf") settings; -t accepts it; a second -T prints the same"
# ---- 4. a broken file
echo "bogus = 1;" >>"$T/k.conf"
rc=0
to 20 "$KTLSD" -T -c "$T/k.conf" >/dev/null 2>"$T/bad.err" || rc=$?
assert_rc 1 "$rc" "ktlsd -T on a broken file" "$T/bad.err"
assert_contains "$T/bad.err" "$T/k.conf:" "the broken file's name and line"
note "ok"
