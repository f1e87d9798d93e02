#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# control_bad_input.sh - what the control socket does with bad input, and that
# ktlsd keeps serving TLS all along: malformed JSON, a non-object, unknown
# command, unknown field or argument, wrong argument type, wrong protocol
# version, an oversized request (too_large, connection closed), a client that
# connects and says nothing (timeout after 10 s), more clients than allowed
# (busy), several requests on one connection, a peer uid that is not allowed
# (permission_denied through SO_PEERCRED, with the socket reachable by group),
# then the same uid once listed in control_allow_uids; a stale socket file is
# replaced at start and a live one refused.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl socat setpriv
need_ktlsctl

# nobody must be able to reach the socket file: the uid check is ktlsd's, not the file system's.
chmod 711 "$T"
mkdir -m 755 "$T/run"
SOCK=$T/run/ctl.sock
: >"$SOCK" # a stale plain file would be refused; a stale socket is replaced (below)
rm -f "$SOCK"
"$PYTHON" -c 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1])' "$SOCK"
[[ -S $SOCK ]] || fail "could not make a stale socket file"

start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" \
	extra="control_socket = \"$SOCK\"; control_mode = \"0660\"; control_group = \"nogroup\";"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
assert_contains "$KTLSD_LOG" "removing a stale socket file" "stale socket replaced"
assert_eq "srw-rw---- nogroup" "$(stat -c '%A %G' "$SOCK")" "socket mode and group"

# raw LINE... -> the replies, one per line (socat keeps the connection for all lines)
raw() { printf '%s\n' "$@" | socat -t 3 - "UNIX-CONNECT:$SOCK"; }
code_of() { "$PYTHON" -c 'import json,sys; r=json.loads(sys.stdin.readline()); print(r["error"]["code"] if not r["ok"] else "ok")'; }
expect_code() { # WANT REQUEST WHAT
	local got
	got=$(raw "$2" | code_of) || fail "$3: no parsable reply"
	assert_eq "$1" "$got" "$3"
}

expect_code bad_json 'this is not json' "malformed JSON"
expect_code bad_json '{"command":"status"} trailing' "trailing bytes"
expect_code bad_json '[1,2,3]' "an array"
expect_code bad_request '{"args":{}}' "no command"
expect_code unknown_command '{"command":"format disk"}' "unknown command"
expect_code bad_request '{"command":"status","colour":"red"}' "unknown field"
expect_code bad_request '{"command":"conns","args":{"snii":"x"}}' "unknown argument"
expect_code bad_request '{"command":"kill","args":{"id":"seven"}}' "argument of the wrong type"
expect_code bad_request '{"command":"kill"}' "missing argument"
expect_code bad_request '{"command":"conns","args":{"path":"elsewhere"}}' "bad path value"
expect_code unsupported_version '{"version":2,"command":"status"}' "protocol version 2"
expect_code not_found '{"command":"kill","args":{"id":18446744073709551615}}' "kill of no connection"
expect_code ok '{"command":"status","id":"abc"}' "a good request"
assert_eq '"abc"' "$(raw '{"command":"status","id":"abc"}' | "$PYTHON" -c 'import json,sys; print(json.dumps(json.load(sys.stdin)["id"]))')" "the id is echoed"
# Three requests on one connection, the bad one in the middle: three replies.
assert_eq "ok bad_json ok" "$(raw '{"command":"status"}' 'nope' '{"command":"stats"}' | while read -r l; do printf '%s\n' "$l" | code_of; done | tr '\n' ' ' | sed 's/ $//')" "three requests on one connection"
note "malformed, unknown and mistyped requests each get their error; the connection goes on"

# Oversized: 70000 bytes without a newline -> too_large, then the connection is closed.
"$PYTHON" - "$SOCK" >"$T/large.out" <<'PY'
import socket, sys
s = socket.socket(socket.AF_UNIX)
s.connect(sys.argv[1])
s.settimeout(5)
try:
    s.sendall(b'{"command":"status","id":"' + b"x" * 70000)
except OSError:
    pass
data = b""
while True:
    try:
        b = s.recv(65536)
    except OSError:
        break
    if not b:
        break
    data += b
print(data.decode().strip())
PY
assert_eq too_large "$(code_of <"$T/large.out")" "an oversized request"

# A client that says nothing gets a timeout error after 10 s, then EOF.
start=$(now_ms)
silent=$(sleep 14 | socat -t 15 - "UNIX-CONNECT:$SOCK" | head -n1)
took=$(($(now_ms) - start))
assert_eq timeout "$(printf '%s\n' "$silent" | code_of)" "a silent client"
((took >= 9000)) || fail "the silent client was dropped after $took ms, before 10 s"
note "oversized request refused (too_large); a silent client timed out (${took} ms)"

# 70 idle clients: the 65th and later are told busy; ktlsd still answers afterwards.
"$PYTHON" - "$SOCK" >"$T/busy.out" <<'PY'
import json, socket, sys, time
socks, busy = [], 0
for i in range(70):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[1])
    socks.append(s)
time.sleep(0.5)
for s in socks[64:]:
    s.settimeout(3)
    try:
        r = json.loads(s.recv(4096).decode().splitlines()[0])
        busy += r["error"]["code"] == "busy"
    except Exception:
        pass
print(busy)
PY
assert_eq 6 "$(cat "$T/busy.out")" "clients beyond 64 told busy"
expect_code ok '{"command":"status"}' "a request once the crowd left"

# A uid that is not allowed: nobody, in the socket's group, passes the file
# permissions and is refused by ktlsd itself.
rc=0
setpriv --reuid=nobody --regid=nogroup --clear-groups "$KTLSCTL" -s "$SOCK" status >"$T/nobody.out" 2>"$T/nobody.err" || rc=$?
assert_eq 1 "$rc" "ktlsctl as nobody"
assert_contains "$T/nobody.err" permission_denied "ktlsctl as nobody"
assert_contains "$KTLSD_LOG" "refused a connection from uid 65534" "the refusal is logged"
probe_ok "$P" "$T/after.out" "TLS after all the bad control input" -servername localhost
assert_ktlsd_alive
note "uid 65534 refused with permission_denied; TLS still served"

# A second ktlsd on the same control socket must not take it over.
P2=$(free_port)
write_config "$T/k2.conf" backend="$BACKEND_ADDR" listen="127.0.0.1:$P2" \
	extra="control_socket = \"$SOCK\";"
rc=0
timeout "$(scaled_int 10)" "$KTLSD" -f -c "$T/k2.conf" >"$T/second.log" 2>&1 || rc=$?
((rc != 0)) || fail "a second ktlsd started on a live control socket"
assert_contains "$T/second.log" "in use by a running process" "second instance refused"
expect_code ok '{"command":"status"}' "the first instance's socket after the second gave up"
stop_ktlsd

# Restarted with nobody allowed: served.
write_config "$T/k3.conf" backend="$BACKEND_ADDR" \
	extra="control_socket = \"$SOCK\"; control_mode = \"0660\"; control_group = \"nogroup\"; control_allow_uids = [ \"nobody\" ];"
start_ktlsd "$T/k3.conf"
setpriv --reuid=nobody --regid=nogroup --clear-groups "$KTLSCTL" -s "$SOCK" status >"$T/nobody2.out" 2>&1 ||
	fail "ktlsctl as nobody, allowed: $(cat "$T/nobody2.out")"
assert_contains "$T/nobody2.out" "$KTLSD_PID" "status for an allowed uid"
stop_ktlsd
[[ ! -e $SOCK ]] || fail "the control socket file is left after ktlsd stopped"
note "control_allow_uids lets nobody in; the socket file is removed at exit"
note "ok"
