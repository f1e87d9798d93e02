#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# certs.sh - what ktlsd says about the certificates it serves:
#  1. `ktlsctl certs` lists each profile's certificates (subject, key, expiry, file), and
#     each one's not_after is openssl's notAfter for that file;
#  2. `ktlsctl metrics` (and GET /metrics) has ktlsd_certificate_expiry_seconds for each,
#     labelled with profile, file and subject;
#  3. a certificate replaced on disk and reloaded (SIGHUP) shows its new expiry at once,
#     and clients get the new certificate.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl
need_ktlsctl

C=$T/certs
private_certs "$C"
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" certdir="$C" extra="control_socket = \"$T/ctl.sock\";"
start_ktlsd "$T/k.conf"
ctl() { "$KTLSCTL" -s "$T/ctl.sock" "$@"; }
enddate() { date -u -d "$("$OPENSSL" x509 -in "$1" -noout -enddate | cut -d= -f2)" +%s; }

# ---- 1. the list
ctl certs >"$T/certs.txt" || fail "ktlsctl certs"
cat "$T/certs.txt"
assert_match "$T/certs.txt" "^PROFILE +SUBJECT +KEY +NOT AFTER +DAYS LEFT +FILE" "the header"
assert_match "$T/certs.txt" "^default +CN=localhost,O=ktlsd test +EC P-256 .* $C/ecdsa.crt$" "the ECDSA certificate"
assert_match "$T/certs.txt" "^default +CN=localhost,O=ktlsd test +RSA 2048 .* $C/rsa.crt$" "the RSA certificate"
assert_match "$T/certs.txt" "^other +CN=other.test,O=ktlsd test +EC P-256 " "the other profile's"
ctl --json certs >"$T/certs.json" || fail "ktlsctl --json certs"
for f in ecdsa rsa other; do
	got=$(jfield "[c['not_after'] for c in r['certificates'] if c['file'].endswith('/$f.crt')][0]" <"$T/certs.json")
	assert_eq "$(enddate "$C/$f.crt")" "$got" "$f.crt: not_after"
done

# ---- 2. the metric
ctl metrics >"$T/metrics.txt" || fail "ktlsctl metrics"
assert_match "$T/metrics.txt" "^# TYPE ktlsd_certificate_expiry_seconds gauge$" "the metric's type"
assert_contains "$T/metrics.txt" \
	"ktlsd_certificate_expiry_seconds{profile=\"default\",file=\"$C/ecdsa.crt\",subject=\"CN=localhost,O=ktlsd test\"} $(enddate "$C/ecdsa.crt")" \
	"the ECDSA certificate's sample"
assert_eq 3 "$(grep -c '^ktlsd_certificate_expiry_seconds{' "$T/metrics.txt")" "one sample per certificate"
say "certs: 3 listed, not_after = openssl's notAfter, one metric sample each"

# ---- 3. a renewed certificate, reloaded
old_serial=$(cert_serial "$C/ecdsa.crt")
CERT_DAYS=2 new_leaf "$C" ecdsa localhost DNS:localhost ec
reload_ktlsd || fail "reload"
ctl --json certs >"$T/certs2.json" || fail "ktlsctl certs after the reload"
left=$(jfield "[c['expires_in_seconds'] for c in r['certificates'] if c['file'].endswith('/ecdsa.crt')][0]" <"$T/certs2.json")
((left > 86400 && left <= 2 * 86400)) || fail "the renewed certificate should expire in about 2 days, got $left s"
ctl certs | grep -E "ecdsa.crt$" | grep -qE " +[12] +$C/ecdsa.crt$" || fail "DAYS LEFT of the renewed certificate: $(ctl certs)"
sclient "$LISTEN_PORT" -servername localhost -sigalgs ECDSA+SHA256 </dev/null >"$T/s.out" 2>&1 || fail "s_client after the reload"
"$OPENSSL" x509 -noout -serial <"$T/s.out" >"$T/served.txt" 2>/dev/null || true
[[ $(sed 's/^serial=//' "$T/served.txt") != "$old_serial" ]] || fail "the old certificate is still served"
say "renewed (2 days) and reloaded: expires in $((left / 3600)) h, served at once"
note "ok"
