#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# sni.sh - the SNI a client sends picks the profile: other.test and x.wild.test
# get the "other" certificate, localhost and no SNI at all the default one.
# An unknown name falls back to the default profile on a non-strict listener and
# is refused by a listener with sni_strict = true (which still serves known names).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli curl

start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" sni_strict=false \
	listen2="127.0.0.1:$(free_port)" sni_strict2=true
start_ktlsd "$T/k.conf"
LAX=$LISTEN_PORT
STRICT=$LISTEN2_PORT

# expect PORT SNI EXPECTED_CN [VERIFY_NAME]
expect() {
	local port=$1 sni=$2 cn=$3 vname=${4:-} name args=()
	name="sni-${sni:-none}-$port"
	if [[ -n $sni ]]; then args+=(-servername "$sni"); else args+=(-noservername); fi
	if [[ $vname == 127.0.0.1 ]]; then
		args+=(-verify_ip "$vname")
	elif [[ -n $vname ]]; then
		args+=(-verify_hostname "$vname")
	fi
	probe_ok "$port" "$T/$name.out" "SNI '${sni:-<none>}' on port $port" "${args[@]}"
	sclient_cert "$T/$name.out" "$T/$name.pem"
	assert_eq "$cn" "$(cert_cn "$T/$name.pem")" "SNI '${sni:-<none>}' on port $port: certificate CN"
	note "SNI '${sni:-<none>}' on port $port -> CN=$cn"
}

for port in "$LAX" "$STRICT"; do
	expect "$port" other.test other.test other.test
	expect "$port" x.wild.test other.test x.wild.test
	expect "$port" localhost localhost localhost
	expect "$port" OTHER.TEST other.test other.test # DNS names are case-insensitive
done
expect "$LAX" "" localhost 127.0.0.1
expect "$LAX" unknown.test localhost
# "*.wild.test" covers one label only: a.b.wild.test and wild.test are not in it.
expect "$LAX" a.b.wild.test localhost
expect "$LAX" wild.test localhost

# The strict listener refuses names that match no profile.
for sni in unknown.test a.b.wild.test; do
	probe "$STRICT" "$T/strict-$sni.out" -servername "$sni"
	if ((PROBE_RC == 0)) || [[ -n $(sclient_proto "$T/strict-$sni.out") ]]; then
		show_tail "$T/strict-$sni.out" 20
		fail "sni_strict listener completed a handshake for unknown SNI '$sni'"
	fi
	assert_not_contains "$T/strict-$sni.out" "Hello from the backend" "sni_strict, SNI $sni"
	note "strict listener refused SNI $sni: $(sclient_error "$T/strict-$sni.out")"
done

# The same through curl and gnutls-cli (which verify the name against the certificate).
for name in other.test x.wild.test localhost; do
	rc=0
	to 30 curl -sS --fail --http1.1 --cacert "$CA" --resolve "$name:$LAX:127.0.0.1" \
		"https://$name:$LAX/" -o "$T/curl-$name.html" 2>"$T/curl-$name.err" || rc=$?
	assert_rc 0 "$rc" "curl https://$name:$LAX/" "$T/curl-$name.err"
	assert_contains "$T/curl-$name.html" "Hello from the backend" "curl $name"
	rc=0
	printf 'GET / HTTP/1.0\r\n\r\n' | gnutls "$STRICT" "$name" --logfile="$T/g-$name.log" >"$T/g-$name.out" 2>&1 || rc=$?
	assert_rc 0 "$rc" "gnutls-cli $name on the strict listener" "$T/g-$name.log"
	assert_contains "$T/g-$name.out" "Hello from the backend" "gnutls-cli $name"
done
rc=0
printf 'GET / HTTP/1.0\r\n\r\n' | gnutls "$STRICT" nope.test --logfile="$T/g-nope.log" >"$T/g-nope.out" 2>&1 || rc=$?
((rc != 0)) || fail "gnutls-cli with SNI nope.test was served by the strict listener"
assert_not_contains "$T/g-nope.out" "Hello from the backend" "gnutls-cli nope.test on the strict listener"

assert_ktlsd_alive
note "ok"
