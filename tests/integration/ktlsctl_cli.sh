#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ktlsctl_cli.sh - ktlsctl against a fake control socket (tests/tools/fake_control.py,
# which answers docs/control-api.md with canned replies and checks requests as
# strictly as the document says ktlsd does):
#  - every command: the request sent (command, args and their JSON types), the
#    human-readable output, and --json (the reply's result, nothing else);
#  - error replies (exit 1, "ktlsctl: CODE: MESSAGE"), usage errors (exit 2, usage
#    printed, nothing sent), no socket / no reply / malformed replies (exit 3, saying
#    which socket and why), a daemon that never answers (-t 1: exit 3 after ~1 s);
#  - a reply of ~20 MB (30003 connections) in both output forms;
#  - the socket from -s, $KTLSD_CONTROL_SOCKET, or the built-in default;
#  - `listeners add --name ...` writes a listener group that ktlsd's own
#    configuration parser (ktlsd -t) reads back, quotes and backslashes included.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd "$PYTHON"

need_ktlsctl
FAKE=$TOOLS/fake_control.py

# start_fake NAME [ARGS...]: a fake control socket $T/NAME.sock; requests go to $T/NAME.req
start_fake() {
	local name=$1
	shift
	"$PYTHON" "$FAKE" "$T/$name.sock" --log "$T/$name.req" "$@" >"$T/fake-$name.log" 2>&1 &
	track $!
	wait_unix "$T/$name.sock" 10 || {
		show_tail "$T/fake-$name.log"
		fail "fake control socket '$name' did not come up"
	}
}

# ctl RC NAME SOCK ARGS...: ktlsctl -s $T/SOCK.sock ARGS, stdout in $T/NAME.out and
# stderr in $T/NAME.err; fails unless it exits with RC.
ctl() {
	local want=$1 name=$2 sock=$3 rc=0
	shift 3
	to 60 "$KTLSCTL" -s "$T/$sock.sock" "$@" >"$T/$name.out" 2>"$T/$name.err" </dev/null || rc=$?
	if [[ $rc != "$want" ]]; then
		show_tail "$T/$name.out" 20
		show_tail "$T/$name.err" 20
		fail "$name: ktlsctl $*: exit status $rc, expected $want"
	fi
}

# assert_request WHAT SOCK JSON: the last request on SOCK was version 1, id 1 and JSON
# (its command and args: the same keys, values and JSON types).
assert_request() {
	local got
	got=$("$PYTHON" - "$T/$2.req" "$3" <<'EOF'
import json, sys

def typed(v):  # JSON value with its type: 1 and 1.0 differ
    if isinstance(v, dict):
        return {k: typed(x) for k, x in v.items()}
    if isinstance(v, list):
        return [typed(x) for x in v]
    return (type(v).__name__, v)

last = open(sys.argv[1], encoding="utf-8").read().splitlines()[-1]
want = dict(json.loads(sys.argv[2]), version=1, id=1)
print("ok" if typed(json.loads(last)) == typed(want) else "got " + last)
EOF
	) || fail "$1: cannot read the requests of $2"
	[[ $got == ok ]] || fail "$1: expected the request $3 (with version 1, id 1), $got"
}

requests() { [[ -f $T/$1.req ]] && wc -l <"$T/$1.req" || echo 0; }

# json_eval FILE EXPR: prints EXPR evaluated with r = the JSON in FILE (all of it)
json_eval() {
	"$PYTHON" -c 'import json, sys; r = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' "$1" "$2" ||
		fail "$(basename "$1"): not one JSON value"
}

assert_no_match() { # FILE ERE WHAT
	if grep -qE -- "$2" "$1"; then
		show_tail "$1" 20
		fail "$3: unexpected line matching /$2/"
	fi
}

start_fake main
start_fake failing --reload-fails

# ------------------------------------------------------------------ help, usage errors
for h in help -h --help; do
	ctl 0 "help$h" main "$h"
	assert_contains "$T/help$h.out" "usage: ktlsctl [-s SOCKET] [-j|--json] [-t SECONDS] COMMAND" "ktlsctl $h"
	assert_contains "$T/help$h.out" "listeners add --name N --listen ADDR" "ktlsctl $h"
done

n0=$(requests main)
i=0
usage_case() { # ARGS...: exit 2, a reason and the usage on stderr, nothing sent
	i=$((i + 1))
	ctl 2 "usage$i" main "$@"
	assert_match "$T/usage$i.err" '^ktlsctl: ' "usage error '$*': reason"
	assert_contains "$T/usage$i.err" "usage: ktlsctl" "usage error '$*': usage"
	[[ ! -s $T/usage$i.out ]] || fail "usage error '$*': wrote to stdout"
}
usage_case
usage_case bogus
usage_case sessions
usage_case sessions empty
usage_case tickets default
usage_case listeners bogus
usage_case listeners list extra
usage_case status extra
usage_case status --sni a.example
usage_case kill
usage_case kill 1 2
usage_case kill abc
usage_case kill -- -1
usage_case kill 99999999999999999999999
usage_case conns --path kernel
usage_case conns --min-age soon
usage_case conns --limit -3
usage_case conns --limit
usage_case conns --bogus
usage_case -t 0 status
usage_case -t abc status
usage_case -s "" status
usage_case listeners add
usage_case listeners add --name x --listen 127.0.0.1:1 --backend 127.0.0.1:2
usage_case listeners add '{ name = "x"; }' --name x
usage_case listeners add --name x --listen 127.0.0.1:1 --backend 127.0.0.1:2 --profile a,,b
usage_case listeners remove
usage_case tickets show a b
# a request line over 65536 bytes is refused before it is sent (exit 2, no usage)
ctl 2 too-large main listeners add "{ name = \"$(head -c 70000 /dev/zero | tr '\0' x)\"; }"
assert_match "$T/too-large.err" '^ktlsctl: the request is 700[0-9]{2} bytes, more than the 65536 the control socket takes$' "a request over 65536 bytes"
assert_eq "$n0" "$(requests main)" "requests sent by usage errors"
note "usage errors: $i cases, exit 2, nothing sent"

# ------------------------------------------------------------------ the socket
ctl 3 missing missing status
assert_contains "$T/missing.err" "ktlsctl: cannot connect to $T/missing.sock: No such file or directory (is ktlsd running with control_socket set?)" "missing socket"
rc=0
KTLSD_CONTROL_SOCKET=$T/main.sock "$KTLSCTL" status >"$T/env.out" 2>"$T/env.err" || rc=$?
assert_rc 0 "$rc" "socket from \$KTLSD_CONTROL_SOCKET" "$T/env.err"
assert_match "$T/env.out" '^pid: +1234$' "status through \$KTLSD_CONTROL_SOCKET"
rc=0
KTLSD_CONTROL_SOCKET=$T/missing.sock "$KTLSCTL" -s "$T/main.sock" status >"$T/env2.out" 2>"$T/env2.err" || rc=$?
assert_rc 0 "$rc" "-s over \$KTLSD_CONTROL_SOCKET" "$T/env2.err"
rc=0
KTLSD_CONTROL_SOCKET=$T/missing.sock "$KTLSCTL" status >"$T/env3.out" 2>"$T/env3.err" || rc=$?
assert_rc 3 "$rc" "\$KTLSD_CONTROL_SOCKET naming no socket" "$T/env3.err"
assert_contains "$T/env3.err" "$T/missing.sock" "\$KTLSD_CONTROL_SOCKET in the message"
if [[ ! -e /run/ktlsd/control.sock ]]; then
	rc=0
	env -u KTLSD_CONTROL_SOCKET "$KTLSCTL" -t 2 status >"$T/default.out" 2>"$T/default.err" || rc=$?
	assert_rc 3 "$rc" "default socket (absent)" "$T/default.err"
	assert_contains "$T/default.err" "cannot connect to /run/ktlsd/control.sock: " "default socket"
fi

# ------------------------------------------------------------------ every command
ctl 0 status main status
assert_request status main '{"command": "status"}'
assert_match "$T/status.out" '^version: +0\.1\.0$' status
assert_match "$T/status.out" '^uptime: +1m26s$' status
assert_match "$T/status.out" '^config: +/etc/ktlsd/ktlsd\.conf$' status
assert_match "$T/status.out" '^generation: +3$' status
assert_match "$T/status.out" '^state: +running$' status
assert_match "$T/status.out" '^connections: +3$' status
assert_match "$T/status.out" '^kernel TLS: +available on 6\.1\.0-26-amd64$' status
ctl 0 status-json main --json status
assert_eq 3 "$(json_eval "$T/status-json.out" 'r["generation"]')" "status --json"
assert_eq None "$(json_eval "$T/status-json.out" 'r["ktls"]["reason"]')" "status --json"

ctl 0 stats main stats
assert_request stats main '{"command": "stats"}'
assert_match "$T/stats.out" '^  connections_accepted +120$' stats
assert_match "$T/stats.out" '^  bytes_to_clients +1073741824$' stats
assert_match "$T/stats.out" '^  ktls +14$' "stats: connections_active"
assert_match "$T/stats.out" '^listener https:$' stats
assert_match "$T/stats.out" '^  handshakes: +full 40, resumed 78$' stats
assert_match "$T/stats.out" '^  handshake failures: +timeout 1, closed 0, alert 0, no_shared_cipher 1, ' stats
assert_match "$T/stats.out" '^  resume misses: +.*expired 2' stats
assert_match "$T/stats.out" '^  early data: +accepted 0, rejected 0, replayed 0$' stats
# 118 handshakes, sum 0.2213 s; p50 = 1 ms + 1 ms * (59 - 40) / 50 = 1.38 ms, p90 4.43, p99 23.65
assert_match "$T/stats.out" '^  NAME +COUNT +SUM +MEAN +P50 +P90 +P99$' "stats: histograms"
assert_match "$T/stats.out" '^  handshake_duration_seconds +118 +221\.3 +1\.875 +1\.380 +4\.430 +23\.65$' "stats: histogram"
assert_match "$T/stats.out" '^  backend_connect_seconds +0 +0\.000 +- +- +- +-$' "stats: empty histogram"
assert_match "$T/stats.out" '^session cache: 78 entries, capacity 20480$' stats
assert_match "$T/stats.out" '^  TlsCurrTxSw +14$' "stats: kernel tls_stat"
assert_match "$T/stats.out" '^  rtt_avg_us +52$' "stats: sockets"
ctl 0 stats-json main -j stats
assert_eq 118 "$(json_eval "$T/stats-json.out" 'r["histograms"]["handshake_duration_seconds"]["count"]')" "stats --json"

ctl 0 metrics main metrics
assert_request metrics main '{"command": "metrics"}'
"$PYTHON" - "$T/metrics.out" <<'EOF' || fail "metrics: not the reply's text, raw"
import sys
want = ('# HELP ktlsd_connections_accepted_total Accepted client connections.\n'
        '# TYPE ktlsd_connections_accepted_total counter\n'
        'ktlsd_connections_accepted_total 120\n'
        'ktlsd_handshake_duration_seconds_bucket{le="+Inf"} 118\n')
sys.exit(open(sys.argv[1]).read() != want)
EOF
ctl 0 metrics-json main --json metrics
assert_eq True "$(json_eval "$T/metrics-json.out" 'r["text"].startswith("# HELP")')" "metrics --json"

ctl 0 kernel main kernel
assert_request kernel main '{"command": "kernel"}'
assert_match "$T/kernel.out" '^kernel: +6\.1\.0-26-amd64$' kernel
assert_match "$T/kernel.out" '^kTLS available: +yes$' kernel
assert_match "$T/kernel.out" '^1\.3 +CHACHA20-POLY1305 +yes +no \(ENOPROTOOPT: Protocol not available\)$' kernel
assert_match "$T/kernel.out" '^TLS_TX_ZEROCOPY_RO: +no \(EINVAL: Invalid argument\)$' kernel
assert_match "$T/kernel.out" '^io_uring splice into kTLS: +not tested$' kernel

ctl 0 conns main conns
assert_request conns main '{"command": "conns"}'
assert_match "$T/conns.out" '^ +ID +PEER +LISTENER +SNI +ALPN +VERSION +CIPHER +RESUMED +PATH +IN +OUT +AGE +KERNEL$' "conns header"
assert_match "$T/conns.out" '^4294967297 +10\.0\.0\.5:51512 +https +a\.example +h2 +TLSv1\.3 +TLS_AES_128_GCM_SHA256 +yes +ktls +512 +1\.0M +3\.2s +tls sw/sw rtt=48us$' conns
assert_match "$T/conns.out" ' +2 +10\.0\.0\.6:40000 +https +b\.example\?\[2J +http/1\.1 .* no +userspace +512 +118M +5m02s +tcp rtt=61us$' conns
assert_match "$T/conns.out" '^4294967299 +\[2001:db8::7\]:50123 +api +- +- +- +- +no +handshake +0 +0 +0\.4s ' conns
assert_match "$T/conns.out" '^3 connections$' conns
assert_no_match "$T/conns.out" $'\x1b' "conns: a client's escape sequence printed raw"
ctl 0 conns-f main conns --listener https --sni a.example --path ktls --peer 10.0.0 --min-age 1 --limit 5
assert_request "conns filters" main '{"command": "conns", "args": {"listener": "https", "sni": "a.example", "path": "ktls", "peer": "10.0.0", "min_age": 1.0, "limit": 5}}'
assert_match "$T/conns-f.out" '^1 connection$' "conns filters"
ctl 0 conns-none main conns --sni nobody.example
assert_eq "0 connections" "$(cat "$T/conns-none.out")" "conns, none"
ctl 0 conns-json main conns --json --min-age 0.5
assert_request "conns --min-age 0.5" main '{"command": "conns", "args": {"min_age": 0.5}}'
assert_eq "[4294967297, 2]" "$(json_eval "$T/conns-json.out" '[c["id"] for c in r["conns"]]')" "conns --json"

ctl 0 kill main kill 4294967297
assert_request kill main '{"command": "kill", "args": {"id": 4294967297}}'
assert_eq "connection 4294967297 closed" "$(cat "$T/kill.out")" kill
ctl 1 kill-again main kill 4294967297
assert_eq "ktlsctl: not_found: no connection 4294967297" "$(cat "$T/kill-again.err")" "kill of an unknown id"
[[ ! -s $T/kill-again.out ]] || fail "error reply: something on stdout"
ctl 1 kill-again-json main -j kill 4294967297
[[ ! -s $T/kill-again-json.out ]] || fail "error reply with --json: something on stdout"

ctl 0 reload main reload
assert_request reload main '{"command": "reload"}'
assert_eq "reloaded: configuration generation 4" "$(cat "$T/reload.out")" reload
ctl 1 reload-bad failing reload
assert_eq 'ktlsctl: failed: /etc/ktlsd/ktlsd.conf:12: listener "https": no such profile "nope"' "$(cat "$T/reload-bad.err")" "failed reload"

ctl 0 tickets main tickets show
assert_request "tickets show" main '{"command": "tickets show"}'
assert_match "$T/tickets.out" '^profile default: tickets stateless, keys from memory, rotation every 1h00m$' tickets
assert_match "$T/tickets.out" '^  KEY-ID +AGE +ROLE$' tickets
assert_match "$T/tickets.out" '^  1a2b3c4d +12\.0s +encrypts$' tickets
assert_match "$T/tickets.out" '^  0badcafe +1h00m +decrypts$' tickets
assert_match "$T/tickets.out" '^profile files: tickets stateless, keys from files, rotation -$' tickets
ctl 0 tickets-alone main tickets
cmp -s "$T/tickets.out" "$T/tickets-alone.out" || fail "'tickets' is not 'tickets show'"
ctl 0 tickets-one main tickets show files
assert_request "tickets show PROFILE" main '{"command": "tickets show", "args": {"profile": "files"}}'
assert_match "$T/tickets-one.out" '^  5e6f7a8b +1d01h +encrypts$' "tickets show files"
ctl 1 tickets-none main tickets show nope
assert_eq 'ktlsctl: not_found: no profile "nope"' "$(cat "$T/tickets-none.err")" "tickets show of an unknown profile"
ctl 0 rotate main tickets rotate
assert_request "tickets rotate" main '{"command": "tickets rotate"}'
assert_eq "rotated ticket keys of profile default: new encryption key 9f8e7d6c" "$(cat "$T/rotate.out")" "tickets rotate"
ctl 1 rotate-files main tickets rotate files
assert_request "tickets rotate PROFILE" main '{"command": "tickets rotate", "args": {"profile": "files"}}'
assert_match "$T/rotate-files.err" '^ktlsctl: conflict: profile "files" takes its keys from ticket_key_files' "tickets rotate of key files"

ctl 0 flush main sessions flush
assert_request "sessions flush" main '{"command": "sessions flush"}'
assert_eq "flushed 78 sessions" "$(cat "$T/flush.out")" "sessions flush"

ctl 0 listeners main listeners
assert_request listeners main '{"command": "listeners list"}'
assert_match "$T/listeners.out" '^NAME +LISTEN +BACKEND +PROFILES +CONNS +ACCEPTING +ORIGIN$' listeners
assert_match "$T/listeners.out" '^https +0\.0\.0\.0:443 +127\.0\.0\.1:8080 +default +2 +yes +config$' listeners
assert_match "$T/listeners.out" '^api +\[::\]:8443 +unix:/run/app\.sock +api,default +1 +yes +config$' listeners
ctl 0 listeners-list main listeners list
cmp -s "$T/listeners.out" "$T/listeners-list.out" || fail "'listeners' is not 'listeners list'"

group='{ name = "alt"; listen = "127.0.0.1:8443"; backend = "127.0.0.1:8080"; profiles = ["default"]; }'
ctl 0 add main listeners add "$group"
assert_request "listeners add CONFIG" main "$("$PYTHON" -c 'import json, sys; print(json.dumps({"command": "listeners add", "args": {"config": sys.argv[1]}}))' "$group")"
assert_eq "listener alt added, accepting on 127.0.0.1:8443" "$(cat "$T/add.out")" "listeners add"
ctl 1 add-again main listeners add "$group"
assert_eq 'ktlsctl: conflict: listener "alt" exists' "$(cat "$T/add-again.err")" "listeners add of a name in use"
ctl 0 listeners2 main listeners
assert_match "$T/listeners2.out" '^alt +127\.0\.0\.1:8443 +127\.0\.0\.1:8080 +default +0 +yes +runtime$' "listeners after add"

# The option form: ktlsctl writes the group; ktlsd's parser must read it back.
weird='we"ird\name'
ctl 0 add-opts main listeners add --name "$weird" --listen 127.0.0.1:8444 --backend unix:/run/a\ b.sock \
	--profile default,other --proxy-protocol --no-ktls
expected='{ name = "we\"ird\\name"; listen = "127.0.0.1:8444"; backend = "unix:/run/a b.sock"; profiles = [ "default", "other" ]; proxy_protocol = true; ktls = false; }'
assert_request "listeners add --name ..." main "$("$PYTHON" -c 'import json, sys; print(json.dumps({"command": "listeners add", "args": {"config": sys.argv[1]}}))' "$expected")"
assert_eq "listener $weird added, accepting on 127.0.0.1:8444" "$(cat "$T/add-opts.out")" "listeners add --name"
ctl 0 add-tab main listeners add --name $'tab\there\x01' --listen 127.0.0.1:8445 --backend 127.0.0.1:1 --profile default
tab_group=$("$PYTHON" -c 'import json, sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-1])["args"]["config"])' "$T/main.req")
[[ $tab_group == *'name = "tab\there\x01";'* ]] || fail "listeners add --name with a tab: $tab_group"
# splice both groups into a configuration ktlsd -t checks
write_config "$T/base.conf" backend=127.0.0.1:1
opts_group=$("$PYTHON" -c 'import json, sys; print(json.loads(open(sys.argv[1]).read().splitlines()[-2])["args"]["config"])' "$T/main.req")
splice() { # OUT GROUP...: base.conf with the groups added to its listeners
	local out=$1 g
	shift
	sed '$d' "$T/base.conf" >"$out" # the closing ");" of listeners
	for g in "$@"; do printf ',\n  %s\n' "$g" >>"$out"; done
	printf ');\n' >>"$out"
}
need_ktlsd
splice "$T/added.conf" "$opts_group" "$tab_group"
rc=0
"$KTLSD" -t -c "$T/added.conf" >"$T/ktlsd-t.out" 2>&1 || rc=$?
assert_rc 0 "$rc" "ktlsd -t of the groups ktlsctl wrote" "$T/ktlsd-t.out"
assert_contains "$T/ktlsd-t.out" "3 listener(s)" "ktlsd -t of the groups ktlsctl wrote"
# and the name reads back as typed: the same group twice is a duplicate of exactly that name
splice "$T/dup.conf" "$opts_group" "${opts_group/8444/8446}"
rc=0
"$KTLSD" -t -c "$T/dup.conf" >"$T/ktlsd-dup.out" 2>&1 || rc=$?
assert_rc 1 "$rc" "ktlsd -t of a duplicate listener" "$T/ktlsd-dup.out"
assert_contains "$T/ktlsd-dup.out" "duplicate listener name \"$weird\"" "the listener name after libconfig"

ctl 0 remove main listeners remove alt
assert_request "listeners remove" main '{"command": "listeners remove", "args": {"name": "alt"}}'
assert_eq "listener alt removed; it had no open connections" "$(cat "$T/remove.out")" "listeners remove"
ctl 0 remove-https main listeners remove https
assert_eq "listener https removed; its 2 open connections continue" "$(cat "$T/remove-https.out")" "listeners remove https"
ctl 1 remove-none main listeners remove alt
assert_eq 'ktlsctl: not_found: no listener "alt"' "$(cat "$T/remove-none.err")" "listeners remove of an unknown name"

ctl 0 drain main drain
assert_request drain main '{"command": "drain"}'
assert_eq "draining: listeners closed, 2 open connections will run to their end" "$(cat "$T/drain.out")" drain
ctl 0 status2 main status
assert_match "$T/status2.out" '^state: +draining$' "status after drain"
ctl 0 stats2 main stats # the fake's kernel_tls_stat is null once draining
assert_match "$T/stats2.out" '^kernel TLS statistics: none \(no kTLS in this kernel\)$' "stats without tls_stat"

# --json of every command: one JSON object on stdout, nothing else
for c in status stats metrics kernel conns "tickets show" "tickets rotate" listeners "sessions flush" reload drain; do
	# shellcheck disable=SC2086 # two-word commands
	ctl 0 json main --json $c
	assert_eq dict "$(json_eval "$T/json.out" 'type(r).__name__')" "--json $c"
done
note "every command: requests, text and --json as expected"

# ------------------------------------------------------------------ a large reply
start_fake huge --conns 30000
ctl 0 huge huge conns --limit 100000
assert_eq 30005 "$(wc -l <"$T/huge.out")" "conns of 30003 connections: lines"
assert_match "$T/huge.out" '^30003 connections$' "conns of 30003 connections"
ctl 0 huge-json huge --json conns --limit 100000
size=$(size_of "$T/huge-json.out")
((size > 10000000)) || fail "the large reply is only $size bytes"
assert_eq 30003 "$(json_eval "$T/huge-json.out" 'len(r["conns"])')" "conns --json of 30003 connections"
ctl 0 huge-default huge conns
assert_match "$T/huge-default.out" '^10000 connections shown of 30003 \(truncated: raise --limit to see more\)$' "truncated conns"
note "a $((size / 1000000)) MB reply in one line: fine"

# ------------------------------------------------------------------ daemons that misbehave
for m in silent close garbage array no-ok wrong-id partial stall busy trickle; do start_fake "$m" --mode "$m"; done
t0=$(now_ms)
ctl 3 silent silent -t 1 status
ms=$(($(now_ms) - t0))
assert_eq "ktlsctl: no reply from $T/silent.sock within 1 s" "$(cat "$T/silent.err")" "a daemon that never answers"
((ms < $(scaled_int 5) * 1000)) || fail "-t 1 took $ms ms"
ctl 3 stall stall -t 1 status
assert_match "$T/stall.err" "^ktlsctl: the reply from $T/stall\.sock is incomplete after 1 s \([0-9]+ bytes so far\)$" "half a reply, then nothing"
ctl 3 close close status
assert_match "$T/close.err" "^ktlsctl: $T/close\.sock closed the connection without a reply" "closed at once"
ctl 3 partial partial status
assert_match "$T/partial.err" "^ktlsctl: $T/partial\.sock closed the connection in the middle of its reply" "half a reply, then closed"
ctl 3 garbage garbage status
assert_match "$T/garbage.err" "^ktlsctl: malformed reply from $T/garbage\.sock: not JSON" "not JSON"
ctl 3 array array status
assert_match "$T/array.err" "^ktlsctl: malformed reply from $T/array\.sock: not a JSON object$" "an array"
ctl 3 no-ok no-ok status
assert_match "$T/no-ok.err" "^ktlsctl: malformed reply from $T/no-ok\.sock: no boolean \"ok\"$" "no ok"
ctl 3 wrong-id wrong-id status
assert_match "$T/wrong-id.err" "^ktlsctl: malformed reply from $T/wrong-id\.sock: the id is not the request's$" "another id"
ctl 1 busy busy status
assert_eq "ktlsctl: busy: too many control connections (64)" "$(cat "$T/busy.err")" "busy, before the request is read"
ctl 0 trickle trickle status
assert_match "$T/trickle.out" '^kernel TLS: +available on 6\.1\.0-26-amd64$' "a reply a few bytes at a time"
for m in silent stall close partial garbage array no-ok wrong-id; do
	[[ ! -s $T/$m.out ]] || fail "$m: something on stdout"
done
note "misbehaving daemons: exit 3 (busy: 1) with the socket and the reason"
note "ok"
