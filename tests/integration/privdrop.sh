#!/usr/bin/env bash
# shellcheck disable=SC2119 # helpers take optional arguments
# SPDX-License-Identifier: MIT
# privdrop.sh - `user`: started as root, ktlsd binds and loads as root, then runs as that
# user (here nobody/nogroup) with only CAP_NET_BIND_SERVICE:
#  1. /proc/PID/status of every thread: Uid and Gid are nobody's, CapEff and CapPrm are
#     net_bind_service alone (0x400), the bounding set is empty, no supplementary group;
#  2. clients are served; the control socket, made after the drop in a directory ktlsd
#     created for the user, answers;
#  3. a reload with keys only root can read fails with the reason and changes nothing;
#     with the keys readable by the group it succeeds;
#  4. a runtime listener on a port below 1024 can still be added.
# shellcheck source-path=SCRIPTDIR source=../lib.sh
. "$(dirname "$0")/../lib.sh"
need_cmd curl
need_ktlsctl
((EUID == 0)) || skip "needs root (ktlsd drops from root to nobody)"
getent passwd nobody >/dev/null || skip "no user nobody"
NOBODY_UID=$(id -u nobody)
NOBODY_GID=$(getent group nogroup | cut -d: -f3)
[[ -n $NOBODY_GID ]] || skip "no group nogroup"

C=$T/certs
private_certs "$C"
chmod 0600 "$C"/*.key
chmod 0755 "$T" # nobody must reach the socket directory below
CTL=$T/run/ctl.sock
start_backend http
write_config "$T/k.conf" backend="$BACKEND_ADDR" alpn=http/1.1 certdir="$C" workers=2 \
	extra="user = \"nobody\"; group = \"nogroup\"; control_socket = \"$CTL\";"
start_ktlsd "$T/k.conf"
ctl() { "$KTLSCTL" -s "$CTL" "$@"; }

# ---- 1. every thread
assert_match "$KTLSD_LOG" "running as user nobody \(uid $NOBODY_UID, gid $NOBODY_GID\)" "the drop is logged"
threads=0
for st in /proc/"$KTLSD_PID"/task/*/status; do
	threads=$((threads + 1))
	grep -qE "^Uid:\s+$NOBODY_UID\s+$NOBODY_UID\s+$NOBODY_UID\s+$NOBODY_UID$" "$st" || fail "$st: $(grep ^Uid "$st")"
	grep -qE "^Gid:\s+$NOBODY_GID\s+$NOBODY_GID\s+$NOBODY_GID\s+$NOBODY_GID$" "$st" || fail "$st: $(grep ^Gid "$st")"
	grep -qE "^Groups:\s*$" "$st" || fail "$st: supplementary groups left: $(grep ^Groups "$st")"
	grep -qE "^CapEff:\s+0000000000000400$" "$st" || fail "$st: $(grep ^CapEff "$st")"
	grep -qE "^CapPrm:\s+0000000000000400$" "$st" || fail "$st: $(grep ^CapPrm "$st")"
	grep -qE "^CapBnd:\s+0000000000000000$" "$st" || fail "$st: $(grep ^CapBnd "$st")"
done
((threads >= 3)) || fail "expected the main thread and 2 workers, saw $threads"
say "all $threads threads: uid/gid $NOBODY_UID/$NOBODY_GID, CapEff 0x400 (net_bind_service), empty bounding set"

# ---- 2. serving, control socket
curl_k "$LISTEN_PORT" / -o /dev/null || fail "curl after the drop"
ctl status >"$T/status.txt" || fail "ktlsctl status: $(cat "$T/status.txt")"
[[ $(stat -c %u "$CTL") == "$NOBODY_UID" ]] || fail "the control socket should be nobody's"
say "served a client; control socket $(stat -c '%U:%G %a' "$CTL")"

# ---- 3. reloads
rc=0
ctl reload >"$T/reload1.out" 2>&1 || rc=$?
((rc != 0)) || fail "a reload with root-only keys should fail"
assert_contains "$T/reload1.out" "Permission denied" "the reload's reason"
curl_k "$LISTEN_PORT" / -o /dev/null || fail "curl after the failed reload"
chgrp nogroup "$C"/*.key && chmod 0640 "$C"/*.key
ctl reload >"$T/reload2.out" 2>&1 || fail "reload with group-readable keys: $(cat "$T/reload2.out")"
curl_k "$LISTEN_PORT" / -o /dev/null || fail "curl after the reload"
say "reload: refused with root-only keys ($(grep -o 'Permission denied' "$T/reload1.out" | head -n1)), fine once the group may read them"
# ---- 4. a runtime listener below 1024 (keys readable by now: it re-reads the file)
LOW=""
for p in $(seq 900 1023); do
	port_listening 127.0.0.1 "$p" || { LOW=$p; break; }
done
[[ -n $LOW ]] || skip "no free port below 1024"
ctl listeners add --name low --listen "127.0.0.1:$LOW" --backend "$BACKEND_ADDR" --profile default \
	>"$T/add.out" 2>&1 || fail "listeners add on port $LOW: $(cat "$T/add.out")"
curl_k "$LOW" / -o /dev/null || fail "curl on the runtime listener at port $LOW"
say "runtime listener on port $LOW added and serving"

note "ok"
