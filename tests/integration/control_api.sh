#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# control_api.sh - every control command against a live ktlsd, through ktlsctl,
# checking its effect with real clients: status and kernel; stats after full and
# resumed handshakes (counters, per-listener groups, histograms, bytes each way);
# conns with filters and `kill` closing exactly one of two held connections;
# `listeners add` (a real client then connects), conflicts, `listeners remove`
# (the port refuses), a runtime listener surviving a reload; `tickets rotate`
# (an old ticket still resumes, new tickets carry the new key id); `sessions
# flush` (a TLS 1.2 session ID no longer resumes); `metrics` and the HTTP
# endpoint parsed by a real Prometheus parser; `drain` (new connections refused,
# an open one keeps working).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl socat curl
need_ktlsctl
PROMPY=$(promcheck_py) || fail "no python3-prometheus-client (scripts/deps.sh check installs it)"

SOCK=$T/ctl.sock
MPORT=$(free_port)
start_backend echo
ECHO_ADDR=$BACKEND_ADDR
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" workers=2 \
	listen2="127.0.0.1:$(free_port)" backend2="$ECHO_ADDR" \
	extra="control_socket = \"$SOCK\"; metrics_listen = \"127.0.0.1:$MPORT\";"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
PE=$LISTEN2_PORT

ctl() { "$KTLSCTL" -s "$SOCK" "$@"; }
_conns_total_is() { [[ $(ctl --json conns | "$PYTHON" -c 'import json,sys; print(json.load(sys.stdin)["total"])') == "$1" ]]; }
_port_closed() { ! port_listening 127.0.0.1 "$1"; }
ctl_json() { # NAME ARGS... -> $T/NAME.json, failing the test if ktlsctl fails
	local name=$1 rc=0
	shift
	ctl --json "$@" >"$T/$name.json" 2>"$T/$name.err" || rc=$?
	((rc == 0)) || { cat "$T/$name.err" >&2; fail "ktlsctl $* exited $rc"; }
}

# ---- status, kernel
ctl_json status status
assert_eq 2 "$(jget "$T/status.json" 'r["workers"]')" "status: workers"
assert_eq false "$(jget "$T/status.json" 'r["draining"]')" "status: draining"
assert_eq 2 "$(jget "$T/status.json" 'r["listeners"]')" "status: listeners"
want_ktls=false
have_ktls && want_ktls=true
assert_eq "$want_ktls" "$(jget "$T/status.json" 'r["ktls"]["available"]')" "status: kTLS available"
ctl status >"$T/status.txt" || fail "ktlsctl status (text) failed"
assert_contains "$T/status.txt" "$KTLSD_PID" "ktlsctl status shows the pid"
ctl_json kernel kernel
assert_eq "$want_ktls" "$(jget "$T/kernel.json" 'r["available"]')" "kernel: available"
note "status and kernel agree with this kernel (kTLS: $want_ktls)"

# ---- stats after real handshakes: 2 full TLS 1.3 (one saves its ticket), 1 resumed
probe_ok "$P" "$T/full1.out" "full handshake 1" -servername localhost
sess_probe full2 "$P" -sess_out "$T/t13.sess"
resume_expect Reused resumed "$P" "$T/t13.sess"
ctl_json stats stats
assert_eq 3 "$(jget "$T/stats.json" 'r["counters"]["handshakes_completed"]')" "stats: handshakes_completed"
assert_eq 2 "$(jget "$T/stats.json" 'r["listeners"]["main"]["handshakes"]["full"]')" "stats: full handshakes"
assert_eq 1 "$(jget "$T/stats.json" 'r["listeners"]["main"]["handshakes"]["resumed"]')" "stats: resumed handshakes"
assert_eq 3 "$(jget "$T/stats.json" 'r["histograms"]["handshake_duration_seconds"]["count"]')" "stats: handshake histogram count"
assert_eq 3 "$(jget "$T/stats.json" 'r["histograms"]["backend_connect_seconds"]["count"]')" "stats: backend connect histogram count"
assert_eq '"+Inf"' "$(jget "$T/stats.json" 'json.dumps(r["histograms"]["handshake_duration_seconds"]["buckets"][-1][0])')" "stats: last bucket bound"
# Each probe sends a request and gets the backend's page: more bytes out than in.
bin=$(jget "$T/stats.json" 'r["counters"]["bytes_from_clients"]')
bout=$(jget "$T/stats.json" 'r["counters"]["bytes_to_clients"]')
((bin > 0 && bout > bin)) || fail "stats: bytes_from_clients $bin, bytes_to_clients $bout"
if ! have_ktls; then
	assert_eq null "$(jget "$T/stats.json" 'r["kernel_tls_stat"]')" "stats: kernel_tls_stat without kTLS"
fi
note "stats: 3 handshakes (2 full, 1 resumed), histograms counted 3, $bin bytes in, $bout out"

# ---- conns and kill: two held connections, kill one, the other still echoes
printf 'first\n' >"$T/line1"
held_start c1 sclient "$PE" "$T/line1"
held_start c2 sclient "$PE" "$T/line1"
held_wait c1 6
held_wait c2 6
ctl_json conns conns
assert_eq 2 "$(jget "$T/conns.json" 'r["total"]')" "conns: total"
assert_eq '["second", "second"]' "$(jget "$T/conns.json" '[c["listener"] for c in r["conns"]]')" "conns: listeners"
assert_eq '["TLSv1.3", "TLSv1.3"]' "$(jget "$T/conns.json" '[c["version"] for c in r["conns"]]')" "conns: versions"
assert_eq '[6, 6]' "$(jget "$T/conns.json" 'sorted(c["bytes_in"] for c in r["conns"])')" "conns: bytes_in"
ctl_json conns-none conns --sni nosuch.example
assert_eq 0 "$(jget "$T/conns-none.json" 'r["total"]')" "conns --sni filter"
ctl_json conns-lim conns --limit 1
assert_eq '1 true' "$(jget "$T/conns-lim.json" 'len(r["conns"])') $(jget "$T/conns-lim.json" 'r["truncated"]')" "conns --limit 1"
ctl conns >"$T/conns.txt" || fail "ktlsctl conns (text) failed"
victim=$(jget "$T/conns.json" 'r["conns"][0]["id"]')
victim_peer=$(jget "$T/conns.json" 'r["conns"][0]["peer"]')
ctl kill "$victim" >"$T/kill.txt" || fail "ktlsctl kill $victim failed"
wait_until 5 _conns_total_is 1 || fail "after kill: conns still lists $(ctl --json conns | tr -d '\n' | head -c 300)"
ctl_json conns-after conns
assert_ne "$victim" "$(jget "$T/conns-after.json" 'r["conns"][0]["id"]')" "the killed connection is gone"
rc=0
ctl kill "$victim" 2>"$T/kill2.err" || rc=$?
assert_eq 1 "$rc" "killing it again exits 1 (not_found)"
assert_contains "$T/kill2.err" not_found "second kill"
# The survivor still echoes; the victim's client saw its connection end.
survivor_port=$(jget "$T/conns-after.json" 'r["conns"][0]["peer"].rsplit(":",1)[1]')
((${#victim_peer} > 0)) || fail "no peer for the killed connection"
((${#survivor_port} > 0)) || fail "no peer for the surviving connection"
[[ " $(client_ports "$PE" | tr '\n' ' ') " == *" $survivor_port "* ]] || fail "the surviving connection is gone too"
[[ " $(client_ports "$PE" | tr '\n' ' ') " != *" ${victim_peer##*:} "* ]] || fail "the killed connection is still established"
note "kill: connection $victim ($victim_peer) closed, the other one (port $survivor_port) kept"

# ---- listeners: add, a real client, conflicts, remove, survives reload
P2=$(free_port)
ctl listeners add --name alt --listen "127.0.0.1:$P2" --backend "$BACKEND_ADDR" --profile default >"$T/add.txt" ||
	fail "listeners add failed: $(cat "$T/add.txt")"
probe_ok "$P2" "$T/alt.out" "a client on the runtime listener" -servername localhost
rc=0
ctl listeners add --name alt --listen "127.0.0.1:$(free_port)" --backend "$BACKEND_ADDR" --profile default 2>"$T/dup.err" || rc=$?
assert_eq 1 "$rc" "adding a duplicate name"
assert_contains "$T/dup.err" conflict "duplicate listener name"
rc=0
ctl listeners add --name other --listen "127.0.0.1:$P2" --backend "$BACKEND_ADDR" --profile default 2>"$T/dupaddr.err" || rc=$?
assert_eq 1 "$rc" "adding a used address"
rc=0
ctl listeners add --name bad --listen "127.0.0.1:$(free_port)" --backend "$BACKEND_ADDR" --profile nosuch 2>"$T/badprof.err" || rc=$?
assert_eq 1 "$rc" "adding with an unknown profile"
assert_contains "$T/badprof.err" 'unknown profile' "unknown profile message"
ctl_json lst listeners list
assert_eq '["main", "second", "alt"]' "$(jget "$T/lst.json" '[l["name"] for l in r["listeners"]]')" "listeners list"
assert_eq runtime "$(jget "$T/lst.json" 'r["listeners"][2]["origin"]')" "alt's origin"
ctl reload >/dev/null || fail "ktlsctl reload failed"
probe_ok "$P2" "$T/alt2.out" "the runtime listener after a reload" -servername localhost
# The file gains a listener: a reload opens it (and keeps the runtime one).
P3=$(free_port)
write_config "$T/k.conf" backend="$BACKEND_ADDR" workers=2 listen="127.0.0.1:$P" \
	listen2="127.0.0.1:$PE" backend2="$ECHO_ADDR" listen3="127.0.0.1:$P3" \
	extra="control_socket = \"$SOCK\"; metrics_listen = \"127.0.0.1:$MPORT\";"
ctl reload >/dev/null || fail "reload with a third listener failed"
probe_ok "$P3" "$T/third.out" "a listener added to the file, after a reload" -servername localhost
probe_ok "$P2" "$T/alt2b.out" "the runtime listener after the second reload" -servername localhost
ctl listeners remove alt >/dev/null || fail "listeners remove alt failed"
probe "$P2" "$T/alt3.out" -servername localhost
((PROBE_RC != 0)) || fail "port $P2 still answers after listeners remove"
probe_ok "$P" "$T/main-still.out" "the file's listener after the removal" -servername localhost
note "listeners: add served a client, conflicts refused, kept over reload, remove closed port $P2"

# ---- tickets: rotate; an old ticket still resumes; a new ticket has the new key id
ctl_json tk tickets show
old_id=$(jget "$T/tk.json" 'r["profiles"][0]["keys"][0]["id"]')
assert_eq "$old_id" "$(sess_info "$T/t13.sess" key_id)" "the saved ticket's key id is the encrypting key"
ctl_json rot tickets rotate
new_id=$(jget "$T/rot.json" 'r["rotated"][0]["id"]')
assert_ne "$old_id" "$new_id" "tickets rotate made a new key"
resume_expect Reused old-ticket "$P" "$T/t13.sess"
sess_probe newticket "$P" -sess_out "$T/new.sess"
assert_eq "$new_id" "$(sess_info "$T/new.sess" key_id)" "a new ticket's key id"
ctl_json tk2 tickets show
assert_eq "[\"$new_id\", \"$old_id\"]" "$(jget "$T/tk2.json" '[k["id"] for k in r["profiles"][0]["keys"]]')" "keys after rotation"
note "tickets: rotated $old_id -> $new_id; the old ticket resumed, the new one carries $new_id"

# ---- sessions flush: a TLS 1.2 session ID stops resuming
sess_probe id12 "$P" -tls1_2 -no_ticket -sess_out "$T/id12.sess"
resume_expect Reused id12-before "$P" "$T/id12.sess" -tls1_2 -no_ticket
ctl_json flush sessions flush
(($(jget "$T/flush.json" 'r["flushed"]') >= 1)) || fail "sessions flush flushed nothing"
resume_expect New id12-after "$P" "$T/id12.sess" -tls1_2 -no_ticket
note "sessions flush: $(jget "$T/flush.json" 'r["flushed"]') session(s); the session ID no longer resumes"

# ---- metrics: the command and the HTTP endpoint, through a real parser
ctl metrics >"$T/metrics.txt" || fail "ktlsctl metrics failed"
"$PROMPY" "$ROOT/tests/tools/promcheck.py" --expect ktlsd_handshakes_total \
	--expect ktlsd_handshake_duration_seconds --expect ktlsd_connections_active "$T/metrics.txt" >"$T/promcheck.out" 2>&1 ||
	{ cat "$T/promcheck.out" >&2; fail "metrics text does not parse"; }
curl -sS -o "$T/http-metrics.txt" -w '%{http_code} %{content_type}\n' "http://127.0.0.1:$MPORT/metrics" >"$T/http.code" ||
	fail "GET /metrics failed"
assert_eq "200 text/plain; version=0.0.4; charset=utf-8" "$(cat "$T/http.code")" "GET /metrics status and type"
"$PROMPY" "$ROOT/tests/tools/promcheck.py" "$T/http-metrics.txt" >/dev/null 2>&1 || fail "GET /metrics does not parse"
assert_eq 404 "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$MPORT/other")" "GET /other"
note "metrics: $(cat "$T/promcheck.out")"

# ---- drain: new connections refused, an open one goes on, status says so
printf 'before\n' >"$T/line2"
held_start d1 sclient "$PE" "$T/line2"
held_wait d1 7
ctl drain >/dev/null || fail "ktlsctl drain failed"
ctl_json st2 status
assert_eq true "$(jget "$T/st2.json" 'r["draining"]')" "status after drain"
wait_until 5 _port_closed "$P" || fail "port $P still accepts after drain"
assert_ktlsd_alive
held_finish d1
assert_eq "before" "$(head -n1 "$T/d1.out")" "the held connection's echo"
note "drain: port $P refuses, the open connection finished, ktlsd still runs"
assert_ktlsd_alive
note "ok"
