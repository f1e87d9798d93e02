#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/handoff.sh - the handoff overhead: the wall time a client waits for a full TLS 1.3
# handshake (connect until the application's first byte) when the application does the
# handshake itself with OpenSSL, versus when it hands the socket to ktlsd (libktls), in
# one run, interleaved. Prints a Markdown table; the target is handoff <= 1.15x in-process.
# Then the warm pool: the time ktls_pool_get() takes to return a ready connection to
# ktlsd's own listener (target: median under 50 µs).
#
#   BUILD=build bench/handoff.sh [-n CONNECTIONS per round] [-r ROUNDS] [-p BASE_PORT]
#
# A harness, not a test: it prints figures and exits 0. Needs $BUILD/ktlsd and
# $BUILD/lib/libktls.a (make), gcc, libssl-dev, openssl.
set -uo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
N=500 ROUNDS=5 BASE_PORT=18470
while getopts "n:r:p:" o; do
	case $o in
	n) N=$OPTARG ;;
	r) ROUNDS=$OPTARG ;;
	p) BASE_PORT=$OPTARG ;;
	*) echo "usage: $0 [-n CONNECTIONS] [-r ROUNDS] [-p BASE_PORT]" >&2; exit 2 ;;
	esac
done
log() { printf '[handoff-bench] %s\n' "$*" >&2; }
for f in "$BUILD/ktlsd" "$BUILD/lib/libktls.a"; do
	[[ -e $f ]] || { log "$f missing: run make first"; exit 0; }
done

TMP=$(mktemp -d /tmp/ktlsd-handoff-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$TMP"; }
trap cleanup EXIT

gcc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -I"$ROOT/include" -o "$TMP/handoff" \
	"$ROOT/bench/handoff.c" "$BUILD/lib/libktls.a" -lssl -lcrypto || { log "build failed"; exit 0; }
gcc -O2 -Wall -Wextra -Werror -o "$TMP/backend" "$ROOT/bench/backend.c" || { log "build failed"; exit 0; }
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
	-subj /CN=bench.ktlsd.invalid -keyout "$TMP/key.pem" -out "$TMP/cert.pem" 2>/dev/null

P_IN=$BASE_PORT P_HO=$((BASE_PORT + 1)) P_K=$((BASE_PORT + 2)) P_SINK=$((BASE_PORT + 3))
"$TMP/backend" "$P_SINK" $((BASE_PORT + 4)) 1 >/dev/null &
PIDS+=($!)
cat >"$TMP/ktlsd.conf" <<EOF
workers = 1;
log_level = "warn";
handoff_socket = "$TMP/handoff.sock";
client_ca = "$TMP/cert.pem";
profiles = ( { name = "bench"; certificates = ( { cert = "$TMP/cert.pem"; key = "$TMP/key.pem"; } );
               groups = "X25519"; } );
listeners = ( { listen = "127.0.0.1:$P_K"; profiles = [ "bench" ]; backend = "127.0.0.1:$P_SINK"; } );
upstreams = ( { name = "self"; address = "127.0.0.1:$P_K"; sni = "bench.ktlsd.invalid"; pool_size = 8; } );
EOF
"$BUILD/ktlsd" -f -c "$TMP/ktlsd.conf" >"$TMP/ktlsd.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 50); do [[ -S $TMP/handoff.sock ]] && break; sleep 0.1; done
"$TMP/handoff" inproc "$P_IN" "$TMP/cert.pem" "$TMP/key.pem" &
PIDS+=($!)
"$TMP/handoff" ktlsd "$P_HO" "$TMP/handoff.sock" &
PIDS+=($!)
sleep 0.5

: >"$TMP/inproc.txt"
: >"$TMP/ktlsd.txt"
for r in $(seq "$ROUNDS"); do
	"$TMP/handoff" client "$P_IN" "$N" >>"$TMP/inproc.txt" || log "in-process round $r failed"
	"$TMP/handoff" client "$P_HO" "$N" >>"$TMP/ktlsd.txt" || log "handoff round $r failed"
	log "round $r of $ROUNDS done"
done

stats() { sort -n "$1" | awk '{ v[NR] = $1; s += $1 } END { if (NR) { p = int(NR * 0.99); if (p < 1) p = 1; printf "%d %.0f %.0f %.0f\n", NR, v[int((NR + 1) / 2)], s / NR, v[p] } }'; }
read -r n_in med_in mean_in p99_in <<<"$(stats "$TMP/inproc.txt")"
read -r n_ho med_ho mean_ho p99_ho <<<"$(stats "$TMP/ktlsd.txt")"
ktls=relay
grep -q 'kernel TLS available' "$TMP/ktlsd.log" && ktls="kTLS"

echo "### Handoff overhead, $(date -u +%Y-%m-%d)"
echo
echo "| application | handshakes | median µs | mean µs | p99 µs |"
echo "|---|---:|---:|---:|---:|"
echo "| does the handshake itself (OpenSSL in-process) | $n_in | $med_in | $mean_in | $p99_in |"
echo "| hands the socket to ktlsd (libktls, returned as $ktls) | $n_ho | $med_ho | $mean_ho | $p99_ho |"
echo "| ratio handoff ÷ in-process | | $(awk -v a="$med_ho" -v b="$med_in" 'BEGIN { printf "%.2f", a / b }') | $(awk -v a="$mean_ho" -v b="$mean_in" 'BEGIN { printf "%.2f", a / b }') | |"
echo
echo "Full TLS 1.3 handshakes (X25519, ECDSA P-256), wall time from the client's connect() to the"
echo "application's first byte, rounds of $N interleaved. Target: handoff ≤ 1.15× in-process."
echo "Command: \`BUILD=build bench/handoff.sh -n $N -r $ROUNDS\`; $(nproc) CPUs, $(uname -r), kTLS: $ktls."

echo
echo "### Warm pool: time to get a ready connection"
echo
echo "| takes, spaced | from the pool | made on demand | median µs | mean µs | p99 µs |"
echo "|---|---:|---:|---:|---:|---:|"
for gap in 5000 20000; do
	GAP_US=$gap "$TMP/handoff" pool "$TMP/handoff.sock" self 300 >"$TMP/pool.txt" || log "pool run failed"
	awk '$1 == 1 { print $2 }' "$TMP/pool.txt" >"$TMP/pooled.txt"
	read -r n_p med_p mean_p p99_p <<<"$(stats "$TMP/pooled.txt")"
	misses=$(awk '$1 == 0' "$TMP/pool.txt" | wc -l)
	echo "| 300, $((gap / 1000)) ms apart | ${n_p:-0} | $misses | ${med_p:--} | ${mean_p:--} | ${p99_p:--} |"
done
echo
echo "ktls_pool_get() wall time (request sent to descriptor in hand) for upstream \"self\" (ktlsd's"
echo "own listener, pool_size 8). Target: median under 50 µs. The longer the pause between takes,"
echo "the deeper both processes sleep: two wake-ups are in each take."
