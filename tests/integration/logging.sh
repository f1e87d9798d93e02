#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# logging.sh - what an operator reads in ktlsd's log:
#  1. one access line per connection (access_log, on by default): curl's has peer,
#     listener, sni, alpn, version, cipher, resumed=no, path, duration, bytes each way and
#     end="done"; a resumed s_client connection says resumed=yes;
#  2. a handshake refused for its server name (sni_strict) names the SNI in its failure
#     line and in its access line; bytes the client chose are cleaned before logging;
#  3. access_log = false: no access lines;
#  4. log_target = "syslog": the lines reach syslog (a datagram socket standing in for
#     /dev/log in a private mount namespace) with facility daemon and each line's
#     priority: info <30>, warning <28>.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd curl openssl unshare

start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" alpn=http/1.1 \
	listen2="127.0.0.1:$(free_port)" sni_strict2=true
start_ktlsd "$T/k.conf"
access() { grep ' access ' "$KTLSD_LOG"; }
_access_count() { (($(access | wc -l) >= $1)); }

# ---- 1. access lines
curl_k "$LISTEN_PORT" / -o /dev/null || fail "curl"
wait_until 5 _access_count 1 || fail "no access line after curl"
line=$(access | tail -n1)
for kv in "peer=127.0.0.1:[0-9]+" "listener=main" "sni=localhost" "alpn=http/1.1" "version=TLSv1.3" \
	"cipher=TLS_[A-Z0-9_]+" "resumed=no" "path=(userspace|ktls)" "duration_ms=[0-9]+" \
	"bytes_in=[1-9][0-9]*" "bytes_out=[1-9][0-9]*" 'end="done"'; do
	[[ $line =~ (^| )$kv( |$) ]] || fail "access line lacks $kv: $line"
done
say "curl: ${line#*access }"
(sleep "$(scaled 1)") | sclient "$LISTEN_PORT" -servername localhost -tls1_3 -sess_out "$T/s.sess" >"$T/s1.out" 2>&1 ||
	fail "s_client (first)"
sclient "$LISTEN_PORT" -servername localhost -tls1_3 -sess_in "$T/s.sess" </dev/null >"$T/s2.out" 2>&1 ||
	fail "s_client (resumed)"
wait_until 5 _access_count 3 || fail "no access line for the resumed connection"
[[ $(access | tail -n1) == *" resumed=yes "* ]] || fail "resumed connection: $(access | tail -n1)"
say "resumed: $(access | tail -n1 | grep -o 'resumed=[a-z]*')"

# ---- 2. a refused server name, and one with bytes that must not reach the log raw
rc=0
sclient "$LISTEN2_PORT" -servername nope.test </dev/null >"$T/nope.out" 2>&1 || rc=$?
((rc != 0)) || fail "sni_strict accepted nope.test"
wait_until 5 grep -q 'handshake failed from 127.0.0.1:[0-9]* (sni nope.test)' "$KTLSD_LOG" ||
	fail "the handshake failure does not name the SNI"
wait_until 5 grep -q ' access .*listener=second sni=nope.test .*end="handshake failed"' "$KTLSD_LOG" ||
	fail "no access line for the refused handshake"
sclient "$LISTEN2_PORT" -servername 'bad"name' </dev/null >/dev/null 2>&1 || true
wait_until 5 grep -q 'sni=bad?name ' "$KTLSD_LOG" || fail "an SNI with a quote is not cleaned"
! grep -q 'bad"name' "$KTLSD_LOG" || fail "a raw quote from the SNI reached the log"
say "refused: $(grep -o 'handshake failed from [^:]*:[0-9]* (sni nope.test)' "$KTLSD_LOG" | head -n1)"
stop_ktlsd

# ---- 3. access_log = false
write_config "$T/off.conf" backend="$BACKEND_ADDR" alpn=http/1.1 extra="access_log = false;"
start_ktlsd "$T/off.conf"
curl_k "$LISTEN_PORT" / -o /dev/null || fail "curl (access_log off)"
stop_ktlsd
! grep -q ' access ' "$KTLSD_LOG" || fail "access_log = false still logs access lines"
say "access_log = false: no access line"

# ---- 4. syslog, through a stand-in /dev/log in a private mount namespace
P3=$(free_port)
write_config "$T/sys.conf" backend="$BACKEND_ADDR" alpn=http/1.1 listen="127.0.0.1:$P3" log_level=info \
	extra="log_target = \"syslog\";"
# a warning at start: the same name in both profiles of the listener
sed -i 's/"other.test", /"other.test", "localhost", /' "$T/sys.conf"
# Only /dev changes, and only in the new namespace: it is made private there first (in a
# chroot "/" is no mount point, so the namespace keeps the others' propagation).
cat >"$T/ns.sh" <<EOF
set -e
mount --make-rprivate /dev
mount -t tmpfs -o mode=0755 tmpfs /dev
mknod -m 666 /dev/null c 1 3
mknod -m 666 /dev/zero c 1 5
mknod -m 666 /dev/random c 1 8
mknod -m 666 /dev/urandom c 1 9
"$PYTHON" "$TOOLS/dgram_sink.py" /dev/log "$T/syslog.txt" &
while [ ! -S /dev/log ]; do sleep 0.05; done
exec "$KTLSD" -f -c "$T/sys.conf"
EOF
unshare -m --propagation unchanged bash "$T/ns.sh" >"$T/ns.log" 2>&1 &
NSPID=$!
track "$NSPID"
wait_port 127.0.0.1 "$P3" 20 || { cat "$T/ns.log"; fail "ktlsd with log_target = syslog did not start"; }
curl_k "$P3" / -o /dev/null || fail "curl (syslog)"
_syslog_has() { grep -q "$1" "$T/syslog.txt" 2>/dev/null; }
wait_until 5 _syslog_has '^<30>.*ktlsd\[[0-9]*\]: info: .* access ' || { cat "$T/syslog.txt"; fail "no access line in syslog at <30>"; }
_syslog_has '^<28>.*ktlsd\[[0-9]*\]: warn: .*server name "localhost" is in profiles' ||
	{ cat "$T/syslog.txt"; fail "no warning in syslog at <28>"; }
_syslog_has '^<30>.*ready: ' || { cat "$T/syslog.txt"; fail "no ready line in syslog"; }
[[ ! -s $T/ns.log ]] || { cat "$T/ns.log"; fail "ktlsd wrote to stderr with log_target = syslog"; }
say "syslog: $(grep -c . "$T/syslog.txt") lines; $(grep -m1 ' access ' "$T/syslog.txt" | cut -c1-60)..."
kill -TERM "$NSPID" 2>/dev/null || true
pkill -TERM -f "dgram_sink.py /dev/log $T/syslog.txt" 2>/dev/null || true
# shellcheck disable=SC2016 # eval expands it, each time
wait_until 10 eval '! port_listening 127.0.0.1 "$P3"' || fail "ktlsd (syslog) did not stop"
note "ok"
