#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# cert_types.sh - a profile with an ECDSA and an RSA certificate serves each client
# the one it can use: an ECDSA-only signature_algorithms list (TLS 1.3) or an
# ECDHE-ECDSA cipher (TLS 1.2) gets the ECDSA certificate, an RSA-only list or an
# ECDHE-RSA cipher gets the RSA one.  curl and gnutls-cli verify the chain and
# the host name against the test CA (and curl also the IP SAN).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli curl

start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT

# check NAME EXPECTED_KEYTYPE s_client-args...
check() {
	local name=$1 want=$2 got
	shift 2
	probe_ok "$P" "$T/$name.out" "$name" -servername localhost -verify_hostname localhost "$@"
	sclient_cert "$T/$name.out" "$T/$name.pem"
	got=$(cert_keytype "$T/$name.pem")
	assert_eq "$want" "$got" "$name ($*): server certificate key type"
	assert_eq localhost "$(cert_cn "$T/$name.pem")" "$name: certificate CN"
	note "$name: $(sclient_proto "$T/$name.out") $(sclient_cipher "$T/$name.out"), $got certificate"
}

check tls13-ecdsa EC -tls1_3 -sigalgs ecdsa_secp256r1_sha256
check tls13-rsa RSA -tls1_3 -sigalgs rsa_pss_rsae_sha256:rsa_pss_rsae_sha384
check tls12-ecdsa EC -tls1_2 -cipher ECDHE-ECDSA-AES128-GCM-SHA256
check tls12-rsa RSA -tls1_2 -cipher ECDHE-RSA-AES128-GCM-SHA256
check tls12-rsa-chacha RSA -tls1_2 -cipher ECDHE-RSA-CHACHA20-POLY1305
check tls12-ecdsa-sigalgs EC -tls1_2 -sigalgs ecdsa_secp256r1_sha256

# curl verifies against the CA: by name (SNI localhost) and by IP address (SAN IP:127.0.0.1).
curl_k "$P" / -o "$T/curl.html" 2>"$T/curl.err" || {
	cat "$T/curl.err"
	fail "curl --cacert ca.crt https://localhost:$P/ failed"
}
assert_contains "$T/curl.html" "Hello from the backend" "curl https://localhost"
rc=0
to 30 curl -sS --fail --http1.1 --cacert "$CA" "https://127.0.0.1:$P/" -o "$T/curl-ip.html" 2>"$T/curl-ip.err" || rc=$?
assert_rc 0 "$rc" "curl https://127.0.0.1:$P/ (IP SAN)" "$T/curl-ip.err"
assert_contains "$T/curl-ip.html" "Hello from the backend" "curl https://127.0.0.1"
# and it refuses when it does not trust the CA (the certificate really is checked)
rc=0
to 30 curl -sS --http1.1 --resolve "localhost:$P:127.0.0.1" "https://localhost:$P/" -o /dev/null 2>"$T/curl-untrusted.err" || rc=$?
((rc == 60)) || fail "curl without the test CA: exit $rc, expected 60 (certificate problem): $(cat "$T/curl-untrusted.err")"

# gnutls-cli verifies chain + host name; an RSA-only key exchange gets the RSA certificate.
for kx in ECDHE-ECDSA:EC ECDHE-RSA:RSA; do
	want=${kx#*:}
	kx=${kx%:*}
	rc=0
	printf 'GET / HTTP/1.0\r\n\r\n' |
		gnutls "$P" localhost --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2:-KX-ALL:+$kx" \
			--save-cert="$T/gnutls-$kx.pem" --logfile="$T/gnutls-$kx.log" >"$T/gnutls-$kx.out" 2>&1 || rc=$?
	assert_rc 0 "$rc" "gnutls-cli $kx" "$T/gnutls-$kx.log"
	assert_contains "$T/gnutls-$kx.log" "The certificate is trusted" "gnutls-cli $kx verification"
	assert_contains "$T/gnutls-$kx.out" "Hello from the backend" "gnutls-cli $kx response"
	assert_eq "$want" "$(cert_keytype "$T/gnutls-$kx.pem")" "gnutls-cli $kx: certificate key type"
done
rc=0
printf 'GET / HTTP/1.0\r\n\r\n' | gnutls "$P" localhost --logfile="$T/gnutls13.log" >"$T/gnutls13.out" 2>&1 || rc=$?
assert_rc 0 "$rc" "gnutls-cli default (TLS 1.3)" "$T/gnutls13.log"
assert_contains "$T/gnutls13.log" "The certificate is trusted" "gnutls-cli TLS 1.3 verification"
assert_contains "$T/gnutls13.out" "Hello from the backend" "gnutls-cli TLS 1.3 response"
# gnutls-cli checking a name the certificate does not carry must fail.
rc=0
printf 'GET / HTTP/1.0\r\n\r\n' |
	to 20 gnutls-cli --x509cafile="$CA" --sni-hostname=localhost --verify-hostname=wrong.test \
		-p "$P" 127.0.0.1 >"$T/gnutls-wrong.out" 2>&1 || rc=$?
((rc != 0)) || fail "gnutls-cli accepted the localhost certificate for wrong.test"

assert_ktlsd_alive
note "ok"
