#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# sd_notify.sh - ktlsd speaks systemd's Type=notify protocol (sd_notify(3)), checked with a
# datagram socket standing in for systemd's $NOTIFY_SOCKET:
#  1. READY=1 comes once the listener accepts (a client is served right after it), with
#     MAINPID (ktlsd's pid) and a STATUS;
#  2. SIGHUP and `ktlsctl reload` each send RELOADING=1 with MONOTONIC_USEC, then READY=1;
#     a reload of a broken file says so in STATUS;
#  3. `ktlsctl drain` updates STATUS; SIGTERM sends STOPPING=1;
#  4. the unit file that `make install` installs names the paths it was built for, and
#     systemd-analyze (when there is one) finds nothing wrong with it.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl
need_ktlsctl

NS=$T/notify.sock
MSGS=$T/notify.log
# The stand-in for systemd: every datagram, its newlines as " | ", one per line.
"$PYTHON" "$TOOLS/dgram_sink.py" "$NS" "$MSGS" &
track $!
wait_until 5 test -S "$NS" || fail "the notify socket stand-in did not start"

CTL=$T/ctl.sock
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" extra="control_socket = \"$CTL\";"
NOTIFY_SOCKET=$NS start_ktlsd "$T/k.conf"
ctl() { "$KTLSCTL" -s "$CTL" "$@"; }
nlines() { wc -l <"$MSGS"; }
_has_line() { (($(nlines) >= $1)); }
# expect N REGEX WHAT: line N of the log (waiting for it) matches REGEX
expect() {
	wait_until 10 _has_line "$1" || { cat "$MSGS"; fail "$3: no notification #$1"; }
	sed -n "${1}p" "$MSGS" | grep -qE -- "$2" || { cat "$MSGS"; fail "$3: notification #$1 is not /$2/"; }
	say "$3: $(sed -n "${1}p" "$MSGS")"
}

# ---- 1. ready
expect 1 "^MAINPID=$KTLSD_PID \\| READY=1 \\| STATUS=serving" "ready"
probe_ok "$LISTEN_PORT" "$T/p1.out" "a client after READY=1" -servername localhost

# ---- 2. reloads
kill -HUP "$KTLSD_PID"
expect 2 "^MAINPID=$KTLSD_PID \\| RELOADING=1 \\| MONOTONIC_USEC=[0-9]+ \\| STATUS=reloading" "SIGHUP"
expect 3 "READY=1 \\| STATUS=serving; configuration generation 2" "SIGHUP done"
ctl reload >/dev/null || fail "ktlsctl reload"
expect 4 "RELOADING=1 \\| MONOTONIC_USEC=[0-9]+" "ktlsctl reload"
expect 5 "READY=1 \\| STATUS=serving; configuration generation 3" "ktlsctl reload done"
cp "$T/k.conf" "$T/k.good"
echo "bogus_setting = 1;" >>"$T/k.conf"
kill -HUP "$KTLSD_PID"
expect 6 "RELOADING=1" "a broken reload"
expect 7 "READY=1 \\| STATUS=reload failed, old configuration kept; configuration generation 3" "a broken reload done"
cp "$T/k.good" "$T/k.conf"
probe_ok "$LISTEN_PORT" "$T/p2.out" "a client after the reloads" -servername localhost

# ---- 3. drain, stop
ctl drain >/dev/null || fail "ktlsctl drain"
expect 8 "STATUS=draining" "drain"
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "exit status"
expect 9 "^MAINPID=$KTLSD_PID \\| STOPPING=1" "SIGTERM"

# ---- 4. the unit
UNIT=$BUILD/ktlsd.service
[[ -f $UNIT ]] || fail "$UNIT not built (make all)"
assert_contains "$UNIT" "Type=notify" "the unit's type"
assert_match "$UNIT" "^ExecStart=/[^ ]*/sbin/ktlsd -f -c /[^ ]*/ktlsd/ktlsd.conf$" "the unit's ExecStart"
assert_contains "$UNIT" 'ExecReload=/bin/kill -HUP $MAINPID' "the unit's ExecReload"
assert_contains "$UNIT" "RuntimeDirectory=ktlsd" "the unit's RuntimeDirectory"
if command -v systemd-analyze >/dev/null; then
	# verify wants the binaries the unit names: check a copy that points at this build.
	sed -e "s|^ExecStartPre=.*|ExecStartPre=$BUILD/ktlsd -t -c $T/k.conf|" \
		-e "s|^ExecStart=.*|ExecStart=$BUILD/ktlsd -f -c $T/k.conf|" "$UNIT" >"$T/ktlsd.service"
	systemd-analyze verify --man=no "$T/ktlsd.service" >"$T/verify.out" 2>&1 ||
		{ cat "$T/verify.out"; fail "systemd-analyze verify ktlsd.service"; }
	say "systemd-analyze verify: clean"
else
	say "no systemd-analyze here: the unit's syntax is not checked"
fi
note "ok"
