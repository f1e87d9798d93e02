#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
# ktls-inner.sh - the part of bench/ktls-vm.sh that runs inside the VM.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
TOOLS=$BUILD/bench
CERTS=$BUILD/bench-certs
T=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$T"' EXIT
P_SINK=19601 P_SOURCE=19602 P_KTLS_DOWN=19611 P_USER_DOWN=19612 P_KTLS_UP=19613 P_USER_UP=19614

"$TOOLS/backend" "$P_SINK" "$P_SOURCE" "$BYTES" >"$T/backend.log" 2>&1 &
cat >"$T/k.conf" <<EOC
workers = 1; log_level = "info";
profiles = ( { name = "b"; certificates = ( { cert = "$CERTS/ecdsa.crt"; key = "$CERTS/ecdsa.key"; } );
               ciphersuites = "TLS_AES_256_GCM_SHA384"; groups = "X25519"; } );
listeners = (
  { listen = "127.0.0.1:$P_KTLS_DOWN"; profile = "b"; backend = "127.0.0.1:$P_SOURCE"; },
  { listen = "127.0.0.1:$P_USER_DOWN"; profile = "b"; backend = "127.0.0.1:$P_SOURCE"; ktls = false; },
  { listen = "127.0.0.1:$P_KTLS_UP"; profile = "b"; backend = "127.0.0.1:$P_SINK"; },
  { listen = "127.0.0.1:$P_USER_UP"; profile = "b"; backend = "127.0.0.1:$P_SINK"; ktls = false; } );
EOC
"$BUILD/ktlsd" -f -c "$T/k.conf" 2>"$T/k.log" &
KPID=$!
for _ in $(seq 100); do grep -q ready "$T/k.log" && break; sleep 0.1; done
head -c "$BYTES" /dev/zero >"$T/up.bin"

# stat NAME: a counter from a fresh SIGUSR2 stats line.
stats_now() {
	local n
	n=$(grep -c "stats:" "$T/k.log" || true)
	kill -USR2 "$KPID"
	for _ in $(seq 100); do (($(grep -c "stats:" "$T/k.log" || true) > n)) && break; sleep 0.05; done
	grep "stats:" "$T/k.log" | tail -1
}
stat_of() { sed -n "s/.* $2=\([0-9]*\).*/\1/p" <<<"$1"; }

run() { # LABEL DIRECTION PORT
	local before after mb
	before=$(stats_now)
	if [[ $2 == down ]]; then
		"$TOOLS/tlsget" 127.0.0.1 "$3" "$BYTES" >"$T/get.out" 2>&1 || { cat "$T/get.out"; exit 1; }
	else
		gnutls-cli --insecure --logfile "$T/gn.log" -p "$3" 127.0.0.1 <"$T/up.bin" >/dev/null 2>&1 || true
	fi
	after=$(stats_now)
	mb=$(awk -v b="$BYTES" 'BEGIN { printf "%.1f", b / 1048576 }')
	d() { echo $(($(stat_of "$after" "$1") - $(stat_of "$before" "$1"))); }
	awk -v l="$1" -v dir="$2" -v mb="$mb" -v kt="$(d connections_ktls)" -v us="$(d bytes_userspace)" \
		-v sp="$(d bytes_spliced)" -v sq="$(d uring_sqes_submitted)" \
		'BEGIN { printf "| %s | %s | %s | %d | %d | %d | %.1f |\n", l, dir, mb, kt, us, sp, sq / mb }'
}

echo "| path | direction | MiB | kTLS conns | userspace bytes | spliced bytes | io_uring SQEs per MiB |"
echo "|---|---|---:|---:|---:|---:|---:|"
run "kernel TLS (splice)" down "$P_KTLS_DOWN"
run "kernel TLS (splice)" up "$P_KTLS_UP"
run "userspace records (ktls = false)" down "$P_USER_DOWN"
run "userspace records (ktls = false)" up "$P_USER_UP"
echo
grep -E "kernel TLS (available|unavailable)" "$T/k.log" | sed 's/^ktlsd\[[0-9]*\] info: //'
