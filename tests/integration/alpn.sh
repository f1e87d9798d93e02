#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# alpn.sh - ALPN negotiation on a listener with alpn = [ "h2", "http/1.1" ]:
# the client's single protocol is chosen, ktlsd's order wins when both are
# offered, a client offering nothing in common gets no ALPN (or OpenSSL's
# no_application_protocol alert; the test says which), a client offering no
# ALPN is served, a listener without alpn negotiates none, and curl --http1.1
# and gnutls-cli --alpn work end to end.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli curl

start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" alpn=h2,http/1.1 \
	listen2="127.0.0.1:$(free_port)" alpn2=none
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT
P_NONE=$LISTEN2_PORT

# alpn_case NAME PORT CLIENT_LIST EXPECTED
alpn_case() {
	local name=$1 port=$2 list=$3 want=$4 args=(-servername localhost)
	[[ -n $list ]] && args+=(-alpn "$list")
	probe_ok "$port" "$T/$name.out" "ALPN $name" "${args[@]}"
	assert_eq "$want" "$(sclient_alpn "$T/$name.out")" "ALPN $name (client offers '${list:-nothing}')"
	note "ALPN $name: client '${list:-<none>}' -> $want"
}

for tls in -tls1_2 -tls1_3; do
	alpn_case "h2$tls" "$P" h2 h2 "$tls"
	alpn_case "http11$tls" "$P" http/1.1 http/1.1 "$tls"
done
alpn_case both "$P" h2,http/1.1 h2
alpn_case both-reversed "$P" http/1.1,h2 h2 # ktlsd's preference order decides
alpn_case partial "$P" foo,http/1.1 http/1.1
alpn_case offered-none "$P" "" none
alpn_case listener-without-alpn "$P_NONE" h2,http/1.1 none

# No protocol in common: RFC 7301 allows either no ALPN or a fatal
# no_application_protocol alert.  Both are fine; nothing else is.
probe "$P" "$T/nooverlap.out" -servername localhost -alpn spdy/3,foo
if ((PROBE_RC == 0)); then
	assert_eq none "$(sclient_alpn "$T/nooverlap.out")" "no-overlap ALPN"
	assert_contains "$T/nooverlap.out" "Hello from the backend" "no-overlap ALPN, data"
	note "no ALPN overlap: handshake completes without ALPN"
else
	err=$(sclient_error "$T/nooverlap.out")
	[[ $err == *"no application protocol"* || $err == *"(alert 120)"* ]] || {
		show_tail "$T/nooverlap.out"
		fail "no ALPN overlap: expected success without ALPN or alert 120, got exit $PROBE_RC: $err"
	}
	note "no ALPN overlap: refused with $err"
fi

# curl --http1.1 offers only http/1.1 and gets it.
rc=0
curl_k "$P" / -v -o "$T/curl.html" 2>"$T/curl.err" || rc=$?
assert_rc 0 "$rc" "curl --http1.1" "$T/curl.err"
assert_contains "$T/curl.html" "Hello from the backend" "curl --http1.1 body"
assert_match "$T/curl.err" 'ALPN.*(server accepted|accepted)( to use)? http/1.1' "curl --http1.1 ALPN"

# gnutls-cli --alpn
for proto in h2 http/1.1; do
	rc=0
	f=$T/gnutls-${proto//\//_}
	printf 'GET / HTTP/1.0\r\n\r\n' | gnutls "$P" localhost --alpn="$proto" --logfile="$f.log" >"$f.out" 2>&1 || rc=$?
	assert_rc 0 "$rc" "gnutls-cli --alpn=$proto" "$f.log"
	assert_contains "$f.log" "Application protocol: $proto" "gnutls-cli --alpn=$proto"
done

assert_ktlsd_alive
note "ok"
