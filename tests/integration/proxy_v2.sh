#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# proxy_v2.sh - with proxy_protocol = true the backend first receives a PROXY
# protocol v2 header.  The backend (tests/tools/backend.py proxyv2) decodes it,
# answers it as one JSON line, then echoes.  Checked against what the clients
# themselves know: source address and port (read from ss while the client is
# connected), destination = the listener, SNI (AUTHORITY TLV), ALPN (ALPN TLV), TLS
# version and cipher (SSL TLV, PP2_CLIENT_SSL set), and that the payload after the
# header is relayed intact.  Clients: gnutls-cli (TLS 1.3, h2), s_client (TLS 1.2,
# http/1.1, wildcard SNI), s_client without SNI or ALPN, and one over IPv6.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli

start_backend proxyv2
PB=$BACKEND_ADDR
args=(backend="$PB" proxy_protocol=true)
V6=0
if have_ipv6; then
	V6=1
	args+=(listen2="[::1]:$(free_port)")
fi
write_config "$T/k.conf" "${args[@]}"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT

# pp_fields OUT -> the first JSON line of OUT flattened to key=value lines
pp_fields() {
	"$PYTHON" - "$1" <<'PYEOF'
import json, sys
for line in open(sys.argv[1], "rb").read().decode("latin-1").splitlines():
    if line.startswith('{"'):
        d = json.loads(line)
        def walk(prefix, v):
            if isinstance(v, dict):
                for k in sorted(v):
                    walk(prefix + k + ".", v[k])
            elif not isinstance(v, list):
                print("%s=%s" % (prefix[:-1], v))
        walk("", d)
        break
PYEOF
}

# field FIELDS KEY -> value ("<absent>" if missing)
field() {
	local v
	v=$(grep -m1 "^$2=" "$1" | cut -d= -f2-) || true
	[[ -n $v ]] && echo "$v" || echo "<absent>"
}


# session NAME PORT CLIENT...: runs the client with stdin from a fifo, waits for the
# JSON line, records the client's port, sends a line to be echoed, closes stdin.
session() {
	local name=$1 port=$2 out=$T/$1.out cpid
	shift 2
	mkfifo "$T/$name.in"
	"$@" <"$T/$name.in" >"$out" 2>"$T/$name.err" &
	cpid=$!
	track "$cpid"
	exec 3>"$T/$name.in"
	if ! wait_log "$out" '^\{"' 15; then
		exec 3>&-
		show_tail "$T/$name.err"
		show_tail "$out"
		fail "$name: no PROXY header description from the backend"
	fi
	CLIENT_PORT=$(client_ports "$port" | head -n1) # the only client connected now
	printf 'echo-%s\n' "$name" >&3
	wait_log "$out" "^echo-$name\$" 10 || {
		exec 3>&-
		fail "$name: the data after the PROXY header was not echoed"
	}
	exec 3>&-
	wait_exit "$cpid" 20 || fail "$name: the client did not exit after its stdin closed"
	pp_fields "$out" >"$T/$name.fields"
	sed 's/^/    /' "$T/$name.fields"
}

check() { # NAME KEY EXPECTED
	assert_eq "$3" "$(field "$T/$1.fields" "$2")" "$1: PROXY v2 $2"
}

# ---- gnutls-cli: TLS 1.3, SNI localhost, ALPN h2
session gnutls "$P" gnutls "$P" localhost --alpn=h2 --logfile="$T/gnutls.log"
check gnutls version 2
check gnutls command PROXY
check gnutls family TCP4
check gnutls src 127.0.0.1
check gnutls src_port "$CLIENT_PORT"
check gnutls dst 127.0.0.1
check gnutls dst_port "$P"
check gnutls tlvs.alpn h2
check gnutls tlvs.authority localhost
check gnutls tlvs.ssl.version TLSv1.3
[[ $(field "$T/gnutls.fields" tlvs.ssl.cipher) == TLS_* ]] ||
	fail "gnutls: PROXY v2 SSL cipher: expected a TLS 1.3 suite name, got '$(field "$T/gnutls.fields" tlvs.ssl.cipher)'"
(($(field "$T/gnutls.fields" tlvs.ssl.client) & 1)) || fail "gnutls: PP2_CLIENT_SSL bit not set in the SSL TLV"
assert_contains "$T/gnutls.log" "Application protocol: h2" "gnutls: client-side ALPN"
note "gnutls-cli: PROXY v2 header matches (port $CLIENT_PORT, TLSv1.3, h2, SNI localhost)"

# ---- s_client: TLS 1.2, http/1.1, wildcard SNI
session sclient12 "$P" sclient "$P" -tls1_2 -alpn http/1.1 -servername x.wild.test
cipher=$(sclient_cipher "$T/sclient12.out")
check sclient12 family TCP4
check sclient12 src 127.0.0.1
check sclient12 src_port "$CLIENT_PORT"
check sclient12 dst_port "$P"
check sclient12 tlvs.alpn http/1.1
check sclient12 tlvs.authority x.wild.test
check sclient12 tlvs.ssl.version TLSv1.2
check sclient12 tlvs.ssl.cipher "$cipher"
note "s_client: PROXY v2 header matches (port $CLIENT_PORT, TLSv1.2 $cipher, http/1.1, SNI x.wild.test)"

# ---- s_client without SNI and without ALPN: those TLVs are absent
session plain "$P" sclient "$P" -noservername
check plain src_port "$CLIENT_PORT"
check plain tlvs.alpn "<absent>"
check plain tlvs.authority "<absent>"
check plain tlvs.ssl.version TLSv1.3
note "no SNI / no ALPN: no AUTHORITY or ALPN TLV"

# ---- IPv6
if ((V6)); then
	P6=$LISTEN2_PORT
	session v6 "$P6" to 20 "$OPENSSL" s_client -connect "[::1]:$P6" -CAfile "$CA" \
		-verify_return_error -servername localhost -alpn h2
	check v6 family TCP6
	check v6 src ::1
	check v6 src_port "$CLIENT_PORT"
	check v6 dst ::1
	check v6 dst_port "$P6"
	check v6 tlvs.authority localhost
	note "IPv6: PROXY v2 header matches (TCP6 [::1]:$CLIENT_PORT)"
fi

assert_not_contains "$BACKEND_LOG" "bad header" "PROXY v2 headers the backend could not parse"
assert_ktlsd_alive
note "ok"
