#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# tls_versions.sh - TLS 1.2 and TLS 1.3 are each negotiated (openssl s_client
# -tls1_2 / -tls1_3, gnutls-cli with a version-restricted priority), data flows
# through ktlsd in both, and a listener whose profile has min_version = "1.3"
# refuses a TLS 1.2-only client while still serving TLS 1.3; on that listener, SNI that
# picks a profile with min_version = "1.2" serves TLS 1.2 (the settings follow SNI).
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd openssl gnutls-cli

start_backend http
write_config "$T/any.conf" backend="$BACKEND_ADDR" min_version=1.2 max_version=1.3
start_ktlsd "$T/any.conf"
P=$LISTEN_PORT

for v in 1.2 1.3; do
	flag=-tls${v/./_}
	probe_ok "$P" "$T/v$v.out" "TLS $v" "$flag" -servername localhost -verify_hostname localhost
	assert_eq "TLSv$v" "$(sclient_proto "$T/v$v.out")" "s_client $flag: negotiated protocol"
	assert_match "$T/v$v.out" '^closed$' "s_client $flag: server close_notify after the response"
	note "s_client $flag: $(sclient_proto "$T/v$v.out") $(sclient_cipher "$T/v$v.out")"
done

# Without a version flag the client and ktlsd settle on TLS 1.3.
probe_ok "$P" "$T/vdef.out" "default version" -servername localhost
assert_eq TLSv1.3 "$(sclient_proto "$T/vdef.out")" "s_client without version flags"

# gnutls-cli, each version forced through its priority string.
for v in 1.2 1.3; do
	rc=0
	printf 'GET / HTTP/1.0\r\n\r\n' |
		gnutls "$P" localhost --priority "NORMAL:-VERS-ALL:+VERS-TLS$v" --logfile="$T/g$v.log" \
			>"$T/g$v.out" 2>&1 || rc=$?
	assert_rc 0 "$rc" "gnutls-cli TLS $v" "$T/g$v.log"
	assert_contains "$T/g$v.out" "Hello from the backend" "gnutls-cli TLS $v response"
	assert_match "$T/g$v.log" "Description: \(TLS$v-" "gnutls-cli TLS $v session description"
done

# A profile with min_version 1.3.
stop_ktlsd
assert_eq 0 "$KTLSD_RC" "ktlsd exit status after SIGTERM"
write_config "$T/13.conf" backend="$BACKEND_ADDR" min_version=1.3
start_ktlsd "$T/13.conf"
P=$LISTEN_PORT

probe "$P" "$T/refused.out" -tls1_2 -servername localhost
if ((PROBE_RC == 0)) || [[ -n $(sclient_proto "$T/refused.out") ]]; then
	show_tail "$T/refused.out" 20
	fail "min_version 1.3: a TLS 1.2-only client was served (exit $PROBE_RC, protocol '$(sclient_proto "$T/refused.out")')"
fi
assert_not_contains "$T/refused.out" "Hello from the backend" "min_version 1.3 with a TLS 1.2 client"
assert_match "$T/refused.out" 'alert protocol version|unsupported protocol|no protocols available|wrong version number' \
	"min_version 1.3: why the TLS 1.2 client was refused"
note "TLS 1.2 client refused: $(sclient_error "$T/refused.out")"

rc=0
printf 'GET / HTTP/1.0\r\n\r\n' |
	gnutls "$P" localhost --priority "NORMAL:-VERS-ALL:+VERS-TLS1.2" --logfile="$T/g12r.log" \
		>"$T/g12r.out" 2>&1 || rc=$?
((rc != 0)) || fail "min_version 1.3: gnutls-cli restricted to TLS 1.2 connected"
assert_not_contains "$T/g12r.out" "Hello from the backend" "min_version 1.3 with gnutls-cli TLS 1.2"

probe_ok "$P" "$T/13ok.out" "min_version 1.3 with a TLS 1.3 client" -tls1_3
assert_eq TLSv1.3 "$(sclient_proto "$T/13ok.out")" "min_version 1.3: TLS 1.3 client"

# The same listener, SNI other.test: the "other" profile (min_version 1.2) serves the TLS
# 1.2 client. The connection began with the 1.3-only default profile's settings; those in
# which the profile SNI picked differs follow it.
probe_ok "$P" "$T/other12.out" "SNI other.test (min_version 1.2) with a TLS 1.2 client" \
	-tls1_2 -servername other.test
assert_eq TLSv1.2 "$(sclient_proto "$T/other12.out")" "SNI other.test: TLS 1.2 client"
assert_ktlsd_alive
note "ok"
