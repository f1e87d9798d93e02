#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# reload.sh - SIGHUP reloads certificates and profiles without dropping connections:
#   1. a download is in flight (curl --limit-rate); the ECDSA certificate files are
#      replaced by a new one (other CN and serial) and ktlsd gets SIGHUP: the download
#      completes byte-exact, and a new handshake gets the new certificate;
#   2. SIGHUP with a broken config file (and then with a broken certificate) logs the
#      error, and the previous configuration keeps serving (same certificate);
#   3. a fixed file with a profile change (min_version 1.3) takes effect on SIGHUP.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd curl openssl

C=$T/certs
private_certs "$C"
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" alpn=http/1.1 certdir="$C"
cp "$T/k.conf" "$T/k.conf.good"
start_ktlsd "$T/k.conf"
P=$LISTEN_PORT

ECDSA_ONLY=(-servername localhost -verify_hostname localhost -sigalgs ecdsa_secp256r1_sha256)

# served_serial NAME -> serial of the certificate a new ECDSA-only handshake gets
served_serial() {
	probe_ok "$P" "$T/$1.out" "$1" "${ECDSA_ONLY[@]}"
	sclient_cert "$T/$1.out" "$T/$1.pem"
	cert_serial "$T/$1.pem"
}

old_serial=$(cert_serial "$C/ecdsa.crt")
assert_eq "$old_serial" "$(served_serial before)" "certificate served before the reload"

# ---- 1. reload with a transfer in flight
SIZE=$((4 << 20))
curl_k "$P" "/size/$SIZE?seed=5" --limit-rate 1M -o "$T/slow.bin" 2>"$T/slow.err" &
slow=$!
track "$slow"
_growing() { [[ -f $T/slow.bin ]] && (($(size_of "$T/slow.bin") >= 262144)); }
wait_until 20 _growing || fail "the slow download did not start"

new_leaf "$C" ecdsa-v2 localhost-v2 "DNS:localhost,IP:127.0.0.1,IP:::1" ec
new_serial=$(cert_serial "$C/ecdsa-v2.crt")
assert_ne "$old_serial" "$new_serial" "test bug: the new certificate has the old serial"
mv -f "$C/ecdsa-v2.key" "$C/ecdsa.key"
mv -f "$C/ecdsa-v2.crt" "$C/ecdsa.crt"
reload_ktlsd || fail "no reload result in the log within $(scaled 10) s of SIGHUP"
assert_match "$KTLSD_LOG" 'reloaded' "reload with new certificate files"
is_running "$slow" || note "warning: the download ended before the reload completed; make it slower"

# New handshakes get the new certificate (allow the workers a moment to switch).
got=""
for i in 1 2 3 4 5 6 7 8 9 10; do
	got=$(served_serial "after-$i")
	[[ $got == "$new_serial" ]] && break
	sleep "$(scaled 0.3)"
done
assert_eq "$new_serial" "$got" "serial of the certificate served after SIGHUP"
assert_eq localhost-v2 "$(cert_cn "$T/after-$i.pem")" "CN of the certificate served after SIGHUP"
((i == 1)) || note "the new certificate was served from the $i-th handshake after 'reloaded'"

wait_exit "$slow" 60 || fail "the download in flight during the reload did not finish"
assert_rc 0 "$EXIT_RC" "the download in flight during the reload" "$T/slow.err"
assert_file_sha "$T/slow.bin" "$(gen_sha "$SIZE" 5)" "the download in flight during the reload"
note "1. reload: new serial $new_serial served; the in-flight download completed byte-exact"

# ---- 2. broken config: error logged, old configuration keeps serving
printf 'this is = not ( valid\n' >>"$T/k.conf"
bad_line=$(wc -l <"$T/k.conf")
before=$(count_log "$KTLSD_LOG" "$T/k.conf:")
reload_ktlsd || fail "no reload result in the log after SIGHUP with a broken config"
assert_ktlsd_alive
(($(count_log "$KTLSD_LOG" "$T/k.conf:") > before)) || {
	show_tail "$KTLSD_LOG" 10
	fail "SIGHUP with a broken config: no 'FILE:LINE:' error in the log"
}
grep -F "$T/k.conf:" "$KTLSD_LOG" | tail -n1 | grep -qF "$T/k.conf:$bad_line:" ||
	note "warning: the config error does not point at line $bad_line: $(grep -F "$T/k.conf:" "$KTLSD_LOG" | tail -n1)"
assert_eq "$new_serial" "$(served_serial broken-config)" "certificate served after a failed reload"
note "2. broken config: $(grep -F "$T/k.conf:" "$KTLSD_LOG" | tail -n1 | sed "s|$T/||"); still serving"

cp "$T/k.conf.good" "$T/k.conf"
cp "$C/ecdsa.crt" "$T/ecdsa.crt.good"
echo "garbage" >"$C/ecdsa.crt"
reload_ktlsd || fail "no reload result in the log after SIGHUP with a broken certificate"
assert_ktlsd_alive
tail -n 5 "$KTLSD_LOG" | grep -qiE 'reload[a-z]* (failed|refused)' || {
	show_tail "$KTLSD_LOG" 10
	fail "SIGHUP with a broken certificate file was not reported as a failed reload"
}
assert_eq "$new_serial" "$(served_serial broken-cert)" "certificate served after a failed reload (bad cert)"
cp "$T/ecdsa.crt.good" "$C/ecdsa.crt"
note "2b. broken certificate: reload failed, still serving serial $new_serial"

# ---- 3. a profile change takes effect
write_config "$T/k.conf" backend="$BACKEND_ADDR" alpn=http/1.1 certdir="$C" listen="127.0.0.1:$P" min_version=1.3
probe_ok "$P" "$T/tls12-before.out" "TLS 1.2 before min_version = 1.3" -tls1_2 -servername localhost
reload_ktlsd || fail "no reload result in the log after SIGHUP with min_version = 1.3"
assert_match "$KTLSD_LOG" 'reloaded' "reload with min_version = 1.3"
refused=0
for i in 1 2 3 4 5 6 7 8 9 10; do
	probe "$P" "$T/tls12-after.out" -tls1_2 -servername localhost
	if ((PROBE_RC != 0)) && [[ -z $(sclient_proto "$T/tls12-after.out") ]]; then
		refused=1
		break
	fi
	sleep "$(scaled 0.3)"
done
((refused)) || fail "after reloading with min_version = 1.3 a TLS 1.2 client is still served"
probe_ok "$P" "$T/tls13-after.out" "TLS 1.3 after min_version = 1.3" -tls1_3 -servername localhost
note "3. min_version 1.3 applied by SIGHUP: TLS 1.2 refused ($(sclient_error "$T/tls12-after.out"))"

stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
note "ok"
