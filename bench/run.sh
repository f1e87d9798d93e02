#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# bench/run.sh - server CPU per full and per resumed TLS handshake and per relayed GB, for
# ktlsd and, side by side in the same run, nginx and HAProxy from Debian as references. A
# harness, not a test: it prints figures and never fails on them. See bench/README.md for the
# method.
#
#   BUILD=build bench/run.sh [-r REPS] [-t SECS] [-s all|handshake|resume|bulk[,...]]
#                            [-o SERVERS] [-b BYTES] [-p BASE_PORT] [-k]
#
# Everything listens on 127.0.0.1 only; every process it starts is stopped on exit.
set -euo pipefail

usage() {
	cat <<'EOF'
usage: BUILD=build bench/run.sh [options]
  -r N        repetitions of every measurement; the best run counts (default 3)
  -t SECS     length of one handshake run, per server and case (default 5)
  -s SUBSET   all | handshake | resume | bulk | kernel, or a comma-separated list
              (default all = handshake,resume,bulk,kernel); kernel: syscalls, ring or
              event-loop waits, context switches and userspace instructions
              (callgrind) per full TLS 1.3 handshake
  -o LIST     servers, comma-separated, in the order run within a repetition
              (default ktlsd,nginx,haproxy,nginx-stream; missing ones are skipped)
  -b BYTES    bytes relayed in the bulk run (default 1073741824 = 1 GiB)
  -p PORT     first of the loopback ports used (default 18440; uses PORT..PORT+11)
  -k          keep the temporary directory (configurations, logs) for inspection
  -h          this help
EOF
}

REPS=3
HS_TIME=5
SUBSET=all
SERVERS_ARG="ktlsd,nginx,haproxy,nginx-stream"
BULK_BYTES=1073741824
BASE_PORT=18440
KEEP=0
CMDLINE="BUILD=${BUILD:-build} bench/run.sh${*:+ $*}"
while getopts "r:t:s:o:b:p:kh" opt; do
	case $opt in
	r) REPS=$OPTARG ;;
	t) HS_TIME=$OPTARG ;;
	s) SUBSET=$OPTARG ;;
	o) SERVERS_ARG=$OPTARG ;;
	b) BULK_BYTES=$OPTARG ;;
	p) BASE_PORT=$OPTARG ;;
	k) KEEP=1 ;;
	h) usage; exit 0 ;;
	*) usage >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || { usage >&2; exit 2; }
for v in REPS HS_TIME BULK_BYTES BASE_PORT; do
	[[ ${!v} =~ ^[1-9][0-9]*$ ]] || { echo "bench: -${v}: not a positive integer: ${!v}" >&2; exit 2; }
done
DO_HS=0 DO_RES=0 DO_BULK=0 DO_KERN=0
IFS=, read -r -a parts <<<"$SUBSET"
((${#parts[@]})) || parts=(bad)
for part in "${parts[@]}"; do
	case $part in
	all) DO_HS=1 DO_RES=1 DO_BULK=1 DO_KERN=1 ;;
	handshake | hs) DO_HS=1 ;;
	resume | resumed) DO_RES=1 ;;
	bulk) DO_BULK=1 ;;
	kernel) DO_KERN=1 ;;
	*) echo "bench: -s must be all, handshake, resume, bulk, kernel or a comma-separated list" >&2; exit 2 ;;
	esac
done

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${BUILD:-build}
[[ $BUILD = /* ]] || BUILD=$ROOT/$BUILD
KTLSD=$BUILD/ktlsd
TOOLS=$BUILD/bench
CLK_TCK=$(getconf CLK_TCK)
NGINX_STREAM_SO=/usr/lib/nginx/modules/ngx_stream_module.so

# Ports: one TLS port per server and role, and the backend's two. The references get a port
# of their own for the resumption runs (session cache and tickets on); ktlsd resumes with its
# defaults on its handshake port.
P_KTLSD_HS=$((BASE_PORT + 0)) P_KTLSD_BULK=$((BASE_PORT + 1))
P_NGINX=$((BASE_PORT + 2))
P_HAPROXY_HS=$((BASE_PORT + 3)) P_HAPROXY_BULK=$((BASE_PORT + 4))
P_NGXS_HS=$((BASE_PORT + 5)) P_NGXS_BULK=$((BASE_PORT + 6))
P_NGINX_RES=$((BASE_PORT + 7))
P_SINK=$((BASE_PORT + 8)) P_SOURCE=$((BASE_PORT + 9))
P_HAPROXY_RES=$((BASE_PORT + 10)) P_NGXS_RES=$((BASE_PORT + 11))

log() { printf 'bench: %s\n' "$*" >&2; }

# ---------------------------------------------------------------- cleanup
declare -a STARTED=()
TMP=""
# shellcheck disable=SC2317 # called from the EXIT trap
descendants() { # PID -> PID and all its descendants, one a line
	local root=$1
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$root" '
		{ pid = $1; l = $0; sub(/^.*\) /, "", l); split(l, f, " "); pp[pid] = f[2] }
		END { for (p in pp) { q = p; n = 0
			while (q != root && q > 1 && n++ < 64) q = pp[q]
			if (q == root) print p } }'
}
# shellcheck disable=SC2317 # the EXIT trap
cleanup() {
	local pid all=() p i
	set +e
	trap - EXIT INT TERM
	for pid in "${STARTED[@]}"; do
		kill -0 "$pid" 2>/dev/null || continue
		mapfile -t -O "${#all[@]}" all < <(descendants "$pid")
		kill -TERM "$pid" 2>/dev/null || true
	done
	for i in $(seq 30); do
		local alive=0
		for p in "${STARTED[@]}" "${all[@]}"; do kill -0 "$p" 2>/dev/null && alive=1; done
		((alive)) || break
		sleep 0.1
	done
	for p in "${STARTED[@]}" "${all[@]}"; do kill -KILL "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	if [[ -n $TMP && -d $TMP ]]; then
		if ((KEEP)); then log "kept $TMP"; else rm -rf "$TMP"; fi
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- tools, certificate, data
for t in openssl gcc awk; do
	command -v $t >/dev/null || { log "$t is missing: cannot run"; exit 0; }
done
mkdir -p "$TOOLS"
build_tool() { # NAME [LIBS...]
	local name=$1 src=$ROOT/bench/$1.c
	shift
	if [[ ! -x $TOOLS/$name || $src -nt $TOOLS/$name ]]; then
		gcc -O2 -Wall -Wextra -Werror -D_GNU_SOURCE -o "$TOOLS/$name" "$src" "$@"
	fi
}
build_tool backend
build_tool tlsget -lssl -lcrypto

CERT=$TOOLS/ecdsa-p256.crt KEY=$TOOLS/ecdsa-p256.key PEM=$TOOLS/ecdsa-p256.pem
if [[ ! -s $PEM ]]; then
	openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 3650 \
		-subj /CN=bench.ktlsd.invalid -keyout "$KEY" -out "$CERT" 2>/dev/null
	cat "$CERT" "$KEY" >"$PEM"
fi

# tmpfs if there is one: nginx's bulk file then never waits for, or competes with, writeback.
TMP=$(mktemp -d /dev/shm/ktlsd-bench.XXXXXX 2>/dev/null || mktemp -d /tmp/ktlsd-bench.XXXXXX)
mkdir -p "$TMP/www" "$TMP/nginx-tmp"

# ---------------------------------------------------------------- which servers
declare -A PID=() HS_PORT=() BULK_PORT=() RES_PORT=() BULK_NOTE=() LABEL=()
LABEL[ktlsd]=ktlsd LABEL[nginx]=nginx LABEL[haproxy]=HAProxy LABEL[nginx-stream]="nginx stream"
HS_PORT[ktlsd]=$P_KTLSD_HS BULK_PORT[ktlsd]=$P_KTLSD_BULK
HS_PORT[nginx]=$P_NGINX BULK_PORT[nginx]=$P_NGINX
HS_PORT[haproxy]=$P_HAPROXY_HS BULK_PORT[haproxy]=$P_HAPROXY_BULK
HS_PORT[nginx-stream]=$P_NGXS_HS BULK_PORT[nginx-stream]=$P_NGXS_BULK
RES_PORT[ktlsd]=$P_KTLSD_HS RES_PORT[nginx]=$P_NGINX_RES
RES_PORT[haproxy]=$P_HAPROXY_RES RES_PORT[nginx-stream]=$P_NGXS_RES
declare -a SERVERS=() NOTES=()
IFS=, read -r -a wanted <<<"$SERVERS_ARG"
for s in "${wanted[@]}"; do
	case $s in
	ktlsd)
		if [[ -x $KTLSD ]]; then SERVERS+=(ktlsd); else NOTES+=("ktlsd: $KTLSD not built; skipped"); fi ;;
	nginx)
		if command -v nginx >/dev/null; then SERVERS+=(nginx)
		else NOTES+=("nginx: not installed (apt-get install nginx); skipped"); fi ;;
	nginx-stream)
		if command -v nginx >/dev/null && [[ -f $NGINX_STREAM_SO ]]; then SERVERS+=(nginx-stream)
		else NOTES+=("nginx stream: needs nginx and libnginx-mod-stream; skipped"); fi ;;
	haproxy)
		if command -v haproxy >/dev/null; then SERVERS+=(haproxy)
		else NOTES+=("HAProxy: not installed (apt-get install haproxy); skipped"); fi ;;
	*) log "unknown server '$s' (ktlsd, nginx, haproxy, nginx-stream)"; exit 2 ;;
	esac
done
((${#SERVERS[@]})) || { log "no server to measure"; exit 0; }

# Every port must be free: a stale server would be measured in place of ours.
port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
for p in $(seq "$BASE_PORT" $((BASE_PORT + 11))); do
	if port_open "$p"; then log "127.0.0.1:$p is already in use: pick other ports with -p"; exit 0; fi
done

# ---------------------------------------------------------------- configurations
cat >"$TMP/ktlsd.conf" <<EOF
workers = 1;
log_level = "warn";
profiles = ( { name = "bench";
               certificates = ( { cert = "$CERT"; key = "$KEY"; } );
               min_version = "1.2"; max_version = "1.3"; groups = "X25519"; } );
listeners = ( { listen = "127.0.0.1:$P_KTLSD_HS";   profiles = [ "bench" ]; backend = "127.0.0.1:$P_SINK"; },
              { listen = "127.0.0.1:$P_KTLSD_BULK"; profiles = [ "bench" ]; backend = "127.0.0.1:$P_SOURCE"; } );
EOF

# nginx: the http server answers handshakes and serves the bulk file itself (the anchors'
# method); the stream variant is the like-for-like TLS-to-TCP proxy. The full-handshake
# servers have no session cache and no tickets; the resumption servers (their own ports, same
# processes) have the usual settings: a shared cache and tickets, the rest nginx's defaults.
nginx_conf() { # FILE stream|http
	local tls="ssl_certificate $CERT; ssl_certificate_key $KEY;
		ssl_protocols TLSv1.2 TLSv1.3; ssl_ecdh_curve X25519;"
	local full="$tls ssl_session_cache off; ssl_session_tickets off;"
	local res="$tls ssl_session_cache shared:SSL:10m; ssl_session_tickets on;"
	{
		echo "user root root; worker_processes 1; daemon off; master_process on;"
		echo "pid $TMP/nginx-$2.pid; error_log $TMP/nginx-$2.log warn;"
		[[ $2 = stream ]] && echo "load_module $NGINX_STREAM_SO;"
		echo "events { worker_connections 8192; }"
		if [[ $2 = http ]]; then
			cat <<EOF
http {
	access_log off;
	client_body_temp_path $TMP/nginx-tmp/body; proxy_temp_path $TMP/nginx-tmp/proxy;
	fastcgi_temp_path $TMP/nginx-tmp/fastcgi; uwsgi_temp_path $TMP/nginx-tmp/uwsgi;
	scgi_temp_path $TMP/nginx-tmp/scgi;
	server {
		listen 127.0.0.1:$P_NGINX ssl;
		$full
		root $TMP/www;
	}
	server {
		listen 127.0.0.1:$P_NGINX_RES ssl;
		$res
		root $TMP/www;
	}
}
EOF
		else
			cat <<EOF
stream {
	server { listen 127.0.0.1:$P_NGXS_HS ssl;   $full proxy_pass 127.0.0.1:$P_SINK; }
	server { listen 127.0.0.1:$P_NGXS_BULK ssl; $full proxy_pass 127.0.0.1:$P_SOURCE; }
	server { listen 127.0.0.1:$P_NGXS_RES ssl;  $res proxy_pass 127.0.0.1:$P_SINK; }
}
EOF
		fi
	} >"$1"
}
nginx_conf "$TMP/nginx-http.conf" http
nginx_conf "$TMP/nginx-stream.conf" stream

# HAProxy: its session cache is on by default (tune.ssl.cachesize); the resumption frontend
# keeps tickets on too (the default), the others switch them off.
hap_res="ssl crt $PEM curves X25519 ssl-min-ver TLSv1.2 ssl-max-ver TLSv1.3"
hap_bind="$hap_res no-tls-tickets"
cat >"$TMP/haproxy.cfg" <<EOF
global
	nbthread 1
	maxconn 4096
defaults
	mode tcp
	timeout connect 5s
	timeout client 60s
	timeout server 60s
frontend hs
	bind 127.0.0.1:$P_HAPROXY_HS $hap_bind
	default_backend sink
frontend bulk
	bind 127.0.0.1:$P_HAPROXY_BULK $hap_bind
	default_backend source
frontend res
	bind 127.0.0.1:$P_HAPROXY_RES $hap_res
	default_backend sink
backend sink
	server sink 127.0.0.1:$P_SINK
backend source
	server source 127.0.0.1:$P_SOURCE
EOF

# ---------------------------------------------------------------- start everything
wait_port() { # PORT PID NAME
	local i
	for i in $(seq 100); do
		port_open "$1" && return 0
		kill -0 "$2" 2>/dev/null || return 1
		sleep 0.1
	done
	return 1
}
start() { # NAME LOG CMD...
	local name=$1 logf=$2
	shift 2
	"$@" >"$logf" 2>&1 &
	local pid=$!
	STARTED+=("$pid")
	PID[$name]=$pid
}

# start_server SERVER TAG [WRAPPER...]: SERVER's command, behind WRAPPER if given (valgrind),
# its output in $TMP/SERVER-TAG.log.
start_server() {
	local s=$1 tag=$2 cmd=()
	shift 2
	case $s in
	ktlsd) cmd=("$KTLSD" -f -c "$TMP/ktlsd.conf") ;;
	nginx) cmd=(nginx -e "$TMP/nginx-http.log" -p "$TMP" -c "$TMP/nginx-http.conf") ;;
	nginx-stream) cmd=(nginx -e "$TMP/nginx-stream.log" -p "$TMP" -c "$TMP/nginx-stream.conf") ;;
	haproxy) cmd=(haproxy -db -f "$TMP/haproxy.cfg") ;;
	esac
	start "$s" "$TMP/$s-$tag.log" "$@" "${cmd[@]}"
}

start backend "$TMP/backend.log" "$TOOLS/backend" "$P_SINK" "$P_SOURCE" "$BULK_BYTES"
wait_port "$P_SOURCE" "${PID[backend]}" backend || { log "backend did not start"; cat "$TMP/backend.log" >&2; exit 0; }

declare -a RUNNING=()
for s in "${SERVERS[@]}"; do
	start_server "$s" run
	if wait_port "${HS_PORT[$s]}" "${PID[$s]}" "$s" && wait_port "${BULK_PORT[$s]}" "${PID[$s]}" "$s" &&
		wait_port "${RES_PORT[$s]}" "${PID[$s]}" "$s"; then
		RUNNING+=("$s")
	else
		NOTES+=("${LABEL[$s]}: did not start; skipped")
		log "${LABEL[$s]} did not start:"
		cat "$TMP"/"$s"*.log "$TMP"/"$s"*.out 2>/dev/null | tail -20 >&2 || true
	fi
done
SERVERS=("${RUNNING[@]}")
((${#SERVERS[@]})) || { log "no server started"; exit 0; }

# How many NewSessionTickets each server sends after a full TLS 1.3 handshake: each costs
# OpenSSL 3.0 tens of µs, so this is needed to read the handshake figures.
# For the resumption runs: how many it sends after a resumed TLS 1.3 handshake (one s_client
# saves the newest ticket, a second one offers it).
count_tickets() { # PORT [s_client options...] -> NewSessionTickets received in 0.5 s
	local port=$1
	shift
	(sleep 0.5) | timeout 5 openssl s_client -connect "127.0.0.1:$port" -tls1_3 -msg "$@" 2>/dev/null |
		grep -c '^<<< TLS 1.3, Handshake.*NewSessionTicket' || true
}
declare -A TICKETS=() RES_TICKETS=()
for s in "${SERVERS[@]}"; do
	((DO_HS)) && TICKETS[$s]=$(count_tickets "${HS_PORT[$s]}")
	if ((DO_RES)); then
		count_tickets "${RES_PORT[$s]}" -sess_out "$TMP/probe.sess" >/dev/null
		RES_TICKETS[$s]=$(count_tickets "${RES_PORT[$s]}" -sess_in "$TMP/probe.sess")
	fi
done

if ((DO_BULK)) && [[ " ${SERVERS[*]} " = *" nginx "* ]]; then
	# nginx serves this file itself; read it once so that it comes from the page cache.
	head -c "$BULK_BYTES" /dev/zero >"$TMP/www/bulk.bin"
	cat "$TMP/www/bulk.bin" >/dev/null
fi

# ---------------------------------------------------------------- measuring
tree_cpu() { # PID -> "USER_TICKS SYS_TICKS" of the process and all its descendants, each
	# with its reaped children (cutime, cstime)
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ pid = $1; l = $0; sub(/^.*\) /, "", l); split(l, f, " ")
		  pp[pid] = f[2]; ut[pid] = f[12] + f[14]; st[pid] = f[13] + f[15] }
		END { u = 0; s = 0
		      for (p in pp) { q = p; n = 0
			while (q != root && q > 1 && n++ < 64) q = pp[q]
			if (q == root) { u += ut[p]; s += st[p] } }
		      print u, s }'
}

tree_pids() { # PID -> the process and all its descendants, one per line
	cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
		{ pid = $1; l = $0; sub(/^.*\) /, "", l); split(l, f, " "); pp[pid] = f[2] }
		END { for (p in pp) { q = p; n = 0
			while (q != root && q > 1 && n++ < 64) q = pp[q]
			if (q == root) print p } }'
}

ctx_switches() { # PID -> voluntary + involuntary context switches of every thread of the tree
	local p
	for p in $(tree_pids "$1"); do cat "/proc/$p/task/"*/status 2>/dev/null; done |
		awk '/^(non)?voluntary_ctxt_switches:/ { s += $2 } END { print s + 0 }'
}

# kern_run SERVER: full TLS 1.3 handshakes (s_time, 3 s) twice: once plain, for the context
# switches of the server's threads (from /proc), once under `strace -c -f` on the whole
# tree, for its system calls, among them its ring or event-loop waits (io_uring_enter,
# epoll_wait / epoll_pwait), each ÷ the handshakes of that run. strace slows the server;
# the counts per handshake do not depend on that.
kern_run() {
	local s=$1 out=$TMP/kern-$1 c0 c1 n1 n2 spid args=() p
	c0=$(ctx_switches "${PID[$s]}")
	openssl s_time -connect "127.0.0.1:${HS_PORT[$s]}" -new -time 3 -tls1_3 >"$out.1" 2>&1 </dev/null || true
	sleep 0.3
	c1=$(ctx_switches "${PID[$s]}")
	n1=$(sed -n 's/^\([0-9][0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$out.1" | tail -1)
	for p in $(tree_pids "${PID[$s]}"); do args+=(-p "$p"); done
	strace -f -c -qq -o "$out.strace" "${args[@]}" 2>/dev/null &
	spid=$!
	sleep 1
	openssl s_time -connect "127.0.0.1:${HS_PORT[$s]}" -new -time 3 -tls1_3 >"$out.2" 2>&1 </dev/null || true
	sleep 0.3
	kill -INT "$spid" 2>/dev/null || true
	wait "$spid" 2>/dev/null || true
	n2=$(sed -n 's/^\([0-9][0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$out.2" | tail -1)
	if [[ -z $n1 || $n1 -eq 0 || -z $n2 || $n2 -eq 0 || ! -s $out.strace ]]; then
		log "${LABEL[$s]} kernel: no count (s_time: ${n1:-?}, ${n2:-?} handshakes; strace: $(head -c 200 "$out.strace" 2>/dev/null))"
		return
	fi
	# strace -c: % time, seconds, usecs/call, calls, [errors,] syscall
	KERN[$s]=$(awk -v n="$n2" -v n1="$n1" -v cs=$((c1 - c0)) '
		$NF == "total" { t = $4 }
		$NF == "io_uring_enter" || $NF ~ /^epoll_(p)?wait$/ { w += $4 }
		END { printf "%.1f %.1f %.1f", t / n, w / n, cs / n1 }' "$out.strace")
	log "$(printf '%-13s kernel: %s' "${LABEL[$s]}" "$(echo "${KERN[$s]}" | awk '{ printf "%s syscalls, %s ring/event waits, %s context switches per handshake", $1, $2, $3 }')")"
}
declare -A KERN=()

# instr_run SERVER: the server's userspace instructions per full TLS 1.3 handshake, which
# unlike CPU time do not swing with the machine's load. The server is stopped and started
# again under callgrind (same command, same ports; the last thing done with it), warmed up
# with s_time for 2 s; then its counters are zeroed, s_time runs 3 s, and callgrind dumps:
# the sum over the server's processes and threads ÷ the handshakes of that run.
instr_run() {
	local s=$1 n i sum
	local vg=(valgrind --tool=callgrind --trace-children=yes --callgrind-out-file="$TMP/cg-$s.%p")
	INSTR_RAN[$s]=1
	kill "${PID[$s]}" 2>/dev/null || true
	wait "${PID[$s]}" 2>/dev/null || true
	start_server "$s" callgrind "${vg[@]}"
	for i in $(seq 600); do
		port_open "${HS_PORT[$s]}" && break
		kill -0 "${PID[$s]}" 2>/dev/null || break
		sleep 0.1
	done
	if ! port_open "${HS_PORT[$s]}"; then
		log "${LABEL[$s]} instructions: did not start under callgrind"
		return
	fi
	openssl s_time -connect "127.0.0.1:${HS_PORT[$s]}" -new -time 2 -tls1_3 >/dev/null 2>&1 </dev/null || true
	callgrind_control -z >/dev/null 2>&1 || true
	openssl s_time -connect "127.0.0.1:${HS_PORT[$s]}" -new -time 3 -tls1_3 >"$TMP/cg-$s.s_time" 2>&1 </dev/null || true
	sleep 0.3
	callgrind_control -d >/dev/null 2>&1 || true
	n=$(sed -n 's/^\([0-9][0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$TMP/cg-$s.s_time" | tail -1)
	sum=$(cat "$TMP/cg-$s".*.[0-9]* 2>/dev/null | awk '/^summary:/ { t += $2 } END { print t + 0 }')
	kill "${PID[$s]}" 2>/dev/null || true
	wait "${PID[$s]}" 2>/dev/null || true
	if [[ -z $n || $n -eq 0 || $sum -eq 0 ]]; then
		log "${LABEL[$s]} instructions: no count (s_time: ${n:-?} handshakes)"
		return
	fi
	INSTR[$s]=$(awk -v t="$sum" -v n="$n" 'BEGIN { printf "%.2f M", t / n / 1e6 }')
	log "$(printf '%-13s %s userspace instructions per handshake (callgrind, %s handshakes)' "${LABEL[$s]}" "${INSTR[$s]}" "$n")"
}
declare -A INSTR=() INSTR_RAN=()

RESULTS=$TMP/results # lines: TEST SERVER REP UNITS USER_TICKS SYS_TICKS SECS [OFFERED RESUMED
#                       NO_TICKET FAILED CIPHER] (the last five for the resumption runs)
: >"$RESULTS"

hs_run() { # SERVER VERSION(1_2|1_3) SECS REP
	local s=$1 v=$2 secs=$3 rep=$4 out=$TMP/s_time.out b a n
	read -r -a b < <(tree_cpu "${PID[$s]}")
	timeout $((secs + 30)) openssl s_time -connect "127.0.0.1:${HS_PORT[$s]}" -new \
		-time "$secs" "-tls$v" >"$out" 2>&1 </dev/null || true
	sleep 0.3 # let the server finish the last connection
	read -r -a a < <(tree_cpu "${PID[$s]}")
	if ! kill -0 "${PID[$s]}" 2>/dev/null; then log "${LABEL[$s]} is gone"; return; fi
	n=$(sed -n 's/^\([0-9][0-9]*\) connections in [0-9.]* real seconds.*/\1/p' "$out" | tail -1)
	if [[ -z $n || $n -eq 0 ]]; then
		log "${LABEL[$s]} TLS ${v/_/.}: s_time failed: $(grep -v '^[tr]*$' "$out" | tail -3 | tr '\n' ' ')"
		return
	fi
	((rep > 0)) || return 0
	echo "hs$v $s $rep $n $((a[0] - b[0])) $((a[1] - b[1])) $secs" >>"$RESULTS"
	log "$(printf '%-13s TLS %s rep %d: %6d handshakes, %6.0f µs server CPU each' "${LABEL[$s]}" "${v/_/.}" \
		"$rep" "$n" "$(echo "${a[*]} ${b[*]}" | awk -v n="$n" -v hz="$CLK_TCK" '{ print ($1 + $2 - $3 - $4) / hz * 1e6 / n }')")"
}

bulk_run() { # SERVER REP
	local s=$1 rep=$2 out=$TMP/tlsget.out b a path=() secs
	[[ $s = nginx ]] && path=(/bulk.bin)
	read -r -a b < <(tree_cpu "${PID[$s]}")
	if ! "$TOOLS/tlsget" 127.0.0.1 "${BULK_PORT[$s]}" "$BULK_BYTES" "${path[@]}" >"$out" 2>&1; then
		log "${LABEL[$s]} bulk: failed: $(tail -3 "$out" | tr '\n' ' ')"
		return
	fi
	sleep 0.3
	read -r -a a < <(tree_cpu "${PID[$s]}")
	if ! kill -0 "${PID[$s]}" 2>/dev/null; then log "${LABEL[$s]} is gone"; return; fi
	secs=$(sed -n 's/.*secs=\([0-9.]*\).*/\1/p' "$out")
	echo "bulk $s $rep $BULK_BYTES $((a[0] - b[0])) $((a[1] - b[1])) $secs" >>"$RESULTS"
	log "$(printf '%-13s bulk rep %d: ' "${LABEL[$s]}" "$rep")$(awk -v u=$((a[0] - b[0])) -v y=$((a[1] - b[1])) \
		-v hz="$CLK_TCK" -v n="$BULK_BYTES" -v t="$secs" 'BEGIN { g = n / 1e9
		printf "%.3f s/GB server CPU (user %.3f, sys %.3f), %.0f MB/s", (u + y) / hz / g, u / hz / g, y / hz / g, n / 1e6 / t }')"
}

# The resumption cases: test name -> tlsget options, and how the log names them.
declare -A RES_OPTS=([rs1_3]="-v 1.3 -m ticket" [rs1_2]="-v 1.2 -m ticket" [rsid]="-v 1.2 -m id")
declare -A RES_NAME=([rs1_3]="resumed TLS 1.3" [rs1_2]="resumed TLS 1.2" [rsid]="resumed TLS 1.2 (ID)")
RES_CASES=(rs1_3 rs1_2 rsid)

res_run() { # SERVER CASE(rs1_3|rs1_2|rsid) SECS REP
	local s=$1 c=$2 secs=$3 rep=$4 out=$TMP/tlsget-res.out b a n o r nt f cipher opts
	read -r -a opts <<<"${RES_OPTS[$c]}"
	read -r -a b < <(tree_cpu "${PID[$s]}")
	"$TOOLS/tlsget" -l "$secs" "${opts[@]}" 127.0.0.1 "${RES_PORT[$s]}" >"$out" 2>&1 </dev/null || true
	sleep 0.3 # let the server finish the last connection
	read -r -a a < <(tree_cpu "${PID[$s]}")
	if ! kill -0 "${PID[$s]}" 2>/dev/null; then log "${LABEL[$s]} is gone"; return; fi
	read -r n o r nt f cipher < <(sed -n 's/^handshakes=\([0-9]*\) offered=\([0-9]*\) resumed=\([0-9]*\) no_ticket=\([0-9]*\) failed=\([0-9]*\) .* cipher=\([^ ]*\).*/\1 \2 \3 \4 \5 \6/p' "$out") || true
	if [[ -z ${n:-} || $n -eq 0 ]]; then
		log "${LABEL[$s]} ${RES_NAME[$c]}: tlsget failed: $(tail -3 "$out" | tr '\n' ' ')"
		return
	fi
	((rep > 0)) || return 0
	echo "$c $s $rep $n $((a[0] - b[0])) $((a[1] - b[1])) $secs $o $r $nt $f $cipher" >>"$RESULTS"
	log "$(printf '%-13s %-20s rep %d: %6d handshakes, %s, %d/%d resumed%s' "${LABEL[$s]}" "${RES_NAME[$c]}" \
		"$rep" "$n" "$(echo "${a[*]} ${b[*]}" | awk -v n="$n" -v hz="$CLK_TCK" '{ u = ($1 - $3) / hz * 1e6 / n
			y = ($2 - $4) / hz * 1e6 / n; printf "%6.0f µs server CPU each (user %.0f, sys %.0f)", u + y, u, y }')" \
		"$r" "$o" "$( ((nt + f == 0)) || echo ", $nt without a ticket, $f failed")"), $cipher"
}

rotate() { # REP -> the servers, rotated by REP so that no server always runs first
	local i n=${#SERVERS[@]}
	for ((i = 0; i < n; i++)); do echo "${SERVERS[$(((i + $1) % n))]}"; done
}

T_START=$(date +%s)
log "servers: ${SERVERS[*]}; $REPS repetitions; handshake runs of ${HS_TIME}s; bulk $BULK_BYTES bytes"
if ((DO_HS + DO_RES)); then
	log "warm-up"
	for s in "${SERVERS[@]}"; do
		if ((DO_HS)); then hs_run "$s" 1_3 1 0; hs_run "$s" 1_2 1 0; fi
		if ((DO_RES)); then for c in "${RES_CASES[@]}"; do res_run "$s" "$c" 1 0; done; fi
	done
fi
for ((rep = 1; rep <= REPS; rep++)); do
	mapfile -t order < <(rotate $((rep - 1)))
	if ((DO_HS)); then
		for s in "${order[@]}"; do hs_run "$s" 1_3 "$HS_TIME" "$rep"; done
		for s in "${order[@]}"; do hs_run "$s" 1_2 "$HS_TIME" "$rep"; done
	fi
	if ((DO_RES)); then
		for c in "${RES_CASES[@]}"; do
			for s in "${order[@]}"; do res_run "$s" "$c" "$HS_TIME" "$rep"; done
		done
	fi
	if ((DO_BULK)); then
		for s in "${order[@]}"; do bulk_run "$s" "$rep"; done
	fi
done
if ((DO_KERN)); then
	if command -v strace >/dev/null; then
		for s in "${SERVERS[@]}"; do kern_run "$s"; done
	else
		NOTES+=("kernel: strace is not installed (scripts/deps.sh bench); no syscall counts")
	fi
	if command -v valgrind >/dev/null && command -v callgrind_control >/dev/null; then
		for s in "${SERVERS[@]}"; do instr_run "$s"; done
	else
		NOTES+=("kernel: valgrind is not installed (scripts/deps.sh bench); no instruction counts")
	fi
fi
T_END=$(date +%s)

# ---------------------------------------------------------------- report
for s in "${SERVERS[@]}"; do
	[[ -n ${INSTR_RAN[$s]:-} ]] && continue # instr_run stopped it, on purpose
	if ! kill -0 "${PID[$s]}" 2>/dev/null; then
		NOTES+=("${LABEL[$s]} exited during the run (log: $(tail -1 "$TMP/$s"*.log 2>/dev/null || true))")
	fi
done
[[ " ${SERVERS[*]} " = *" nginx "* ]] && BULK_NOTE[nginx]=" (file)"
[[ " ${SERVERS[*]} " = *" nginx-stream "* ]] && BULK_NOTE[nginx-stream]=" (proxy)"

# best[TEST SERVER] = the run with the least server CPU per unit
best() { # TEST SERVER -> "CPU_PER_UNIT USER_PER_UNIT SYS_PER_UNIT MIN_RATE MAX_RATE RUNS" or nothing
	awk -v t="$1" -v s="$2" -v hz="$CLK_TCK" '
		$1 == t && $2 == s { per = t == "bulk" ? $4 / 1e9 : $4
			c = ($5 + $6) / hz / per; u = $5 / hz / per; y = $6 / hz / per
			r = t == "bulk" ? $4 / 1e6 / $7 : $4 / $7
			if (!n || c < bc) { bc = c; bu = u; by = y }
			if (!n || r < rmin) rmin = r; if (!n || r > rmax) rmax = r
			runs = runs (n ? "," : "") sprintf(t == "bulk" ? "%.3f" : "%.0f", t == "bulk" ? c : c * 1e6); n++ }
		END { if (n) printf "%.9f %.9f %.9f %.0f %.0f %s\n", bc, bu, by, rmin, rmax, runs }' "$RESULTS"
}
# The table lists ktlsd first, then the references, whatever order they ran in.
declare -a SHOWN=()
for s in ktlsd nginx haproxy nginx-stream; do [[ " ${SERVERS[*]} " = *" $s "* ]] && SHOWN+=("$s"); done
declare -A B=()
for s in "${SERVERS[@]}"; do
	for t in hs1_3 hs1_2 bulk "${RES_CASES[@]}"; do B[$t $s]=$(best "$t" "$s"); done
done
# Hit rate of a resumption case: over all its counted runs, handshakes the server resumed ÷
# handshakes that offered a session.
hits() { # TEST SERVER -> "100 %", "97.3 %" or "–"
	awk -v t="$1" -v s="$2" '$1 == t && $2 == s { o += $8; r += $9 }
		END { if (!o) printf "–"; else if (r == o) printf "100 %%"; else printf "%.1f %%", 100 * r / o }' "$RESULTS"
}
res_problems() { # SERVER -> "TEST NO_TICKET FAILED" for each case that had any
	awk -v s="$1" '$2 == s && NF >= 11 { nt[$1] += $10; f[$1] += $11 }
		END { for (t in nt) if (nt[t] + f[t]) print t, nt[t], f[t] }' "$RESULTS"
}
f_us() { [[ -n $1 ]] && awk -v x="${1%% *}" 'BEGIN { printf "%.0f", x * 1e6 }' || printf '–'; }
f_s() { # "c u y ..." FIELD(1..3)
	[[ -n $1 ]] && echo "$1" | awk -v f="$2" '{ printf "%.3f", $f }' || printf '–'
}
f_rate() { [[ -n $1 ]] && echo "$1" | awk '{ printf ($4 == $5 ? "%d" : "%d–%d"), $4, $5 }' || printf '–'; }
ratio() { # A B FIELD -> A/B
	if [[ -n $1 && -n $2 ]]; then
		awk -v a="$(echo "$1" | cut -d' ' -f"$3")" -v b="$(echo "$2" | cut -d' ' -f"$3")" \
			'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "–" }'
	else printf '–'; fi
}

# (no "| head": under pipefail the writer's SIGPIPE would end the script)
machine="$(nproc) cores, $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), Linux $(uname -r)"
versions="$(openssl version | cut -d' ' -f1-2)"
command -v nginx >/dev/null && versions+=", $(nginx -v 2>&1 | sed 's/.*version: //')"
command -v haproxy >/dev/null && versions+=", HAProxy $(haproxy -v 2>/dev/null | awk 'NR == 1 { print $3 }')"
[[ -x $KTLSD ]] && versions+=", $("$KTLSD" -V 2>/dev/null | cut -d' ' -f1-2) ($(git -C "$ROOT" describe --always --dirty 2>/dev/null || echo '?'), binary of $(date -r "$KTLSD" '+%Y-%m-%d %H:%M'))"

echo
echo "### ktlsd benchmark, $(date -u +%Y-%m-%d)"
if ((DO_HS + DO_BULK)); then
	echo
	echo "Server CPU (utime+stime of the server's process tree) per full handshake and per relayed GB;"
	echo "best of $REPS runs, servers interleaved; one worker each, loopback, ECDSA P-256, X25519."
	echo "Bulk: $BULK_BYTES bytes over one TLS 1.3 connection, TLS_AES_256_GCM_SHA384."
	echo
	echo "| server | full TLS 1.3 µs/handshake | 1.3 tickets | full TLS 1.2 µs/handshake | bulk CPU s/GB | user s/GB | sys s/GB | MB/s |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for s in "${SHOWN[@]}"; do
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$s]}${BULK_NOTE[$s]:-}" \
			"$(f_us "${B[hs1_3 $s]}")" "${TICKETS[$s]:-?}" "$(f_us "${B[hs1_2 $s]}")" \
			"$(f_s "${B[bulk $s]}" 1)" "$(f_s "${B[bulk $s]}" 2)" "$(f_s "${B[bulk $s]}" 3)" "$(f_rate "${B[bulk $s]}")"
	done
	if [[ " ${SERVERS[*]} " = *" ktlsd "* ]]; then
		for r in "${SHOWN[@]}"; do
			[[ $r = ktlsd ]] && continue
			printf '| ktlsd ÷ %s | %s | | %s | %s | %s | %s | %s |\n' "${LABEL[$r]}${BULK_NOTE[$r]:-}" \
				"$(ratio "${B[hs1_3 ktlsd]}" "${B[hs1_3 $r]}" 1)" "$(ratio "${B[hs1_2 ktlsd]}" "${B[hs1_2 $r]}" 1)" \
				"$(ratio "${B[bulk ktlsd]}" "${B[bulk $r]}" 1)" "$(ratio "${B[bulk ktlsd]}" "${B[bulk $r]}" 2)" \
				"$(ratio "${B[bulk ktlsd]}" "${B[bulk $r]}" 3)" "$(ratio "${B[bulk ktlsd]}" "${B[bulk $r]}" 5)"
		done
	fi
fi
if ((DO_RES)); then
	echo
	echo "Server CPU per resumed handshake (the client offers the session of its previous connection;"
	echo "TLS 1.3: the newest ticket, psk_dhe_ke) and hit rate (handshakes resumed ÷ sessions offered,"
	echo "all runs, SSL_session_reused() on the client); best of $REPS runs, servers interleaved."
	echo
	echo "| server | resumed TLS 1.3 µs/handshake | hits | 1.3 tickets after resumption | resumed TLS 1.2 µs/handshake (ticket) | hits | TLS 1.2 session ID µs/handshake | hits |"
	echo "|---|---:|---:|---:|---:|---:|---:|---:|"
	for s in "${SHOWN[@]}"; do
		printf '| %s | %s | %s | %s | %s | %s | %s | %s |\n' "${LABEL[$s]}${BULK_NOTE[$s]:-}" \
			"$(f_us "${B[rs1_3 $s]}")" "$(hits rs1_3 "$s")" "${RES_TICKETS[$s]:-?}" \
			"$(f_us "${B[rs1_2 $s]}")" "$(hits rs1_2 "$s")" "$(f_us "${B[rsid $s]}")" "$(hits rsid "$s")"
	done
	if [[ " ${SERVERS[*]} " = *" ktlsd "* ]]; then
		for r in "${SHOWN[@]}"; do
			[[ $r = ktlsd ]] && continue
			printf '| ktlsd ÷ %s | %s | | | %s | | %s | |\n' "${LABEL[$r]}${BULK_NOTE[$r]:-}" \
				"$(ratio "${B[rs1_3 ktlsd]}" "${B[rs1_3 $r]}" 1)" "$(ratio "${B[rs1_2 ktlsd]}" "${B[rs1_2 $r]}" 1)" \
				"$(ratio "${B[rsid ktlsd]}" "${B[rsid $r]}" 1)"
		done
		if [[ " ${SERVERS[*]} " = *" nginx "* ]]; then
			echo
			echo "Targets: ktlsd ÷ nginx (file) ≤ 0.70 for resumed TLS 1.3 and ≤ 1.00 for resumed TLS 1.2"
			echo "(ticket), with 100 % hits: $(awk -v a="$(ratio "${B[rs1_3 ktlsd]}" "${B[rs1_3 nginx]}" 1)" \
				-v b="$(ratio "${B[rs1_2 ktlsd]}" "${B[rs1_2 nginx]}" 1)" -v h3="$(hits rs1_3 ktlsd)" -v h2="$(hits rs1_2 ktlsd)" \
				'BEGIN { printf "TLS 1.3 %s (%s), TLS 1.2 %s (%s)",
					(a != "–" && a <= 0.70 && h3 == "100 %") ? "met" : "missed", a,
					(b != "–" && b <= 1.00 && h2 == "100 %") ? "met" : "missed", b }')."
		fi
	fi
fi
if ((DO_KERN)) && ((${#KERN[@]})); then
	echo
	echo "Per full TLS 1.3 handshake (\`openssl s_time -new\`, 3 s): the server's system calls and,"
	echo "among them, its ring or event-loop waits (io_uring_enter; epoll_wait), counted by"
	echo "\`strace -c -f\` over its whole tree; its threads' context switches, from /proc in a run"
	echo "without strace; its userspace instructions, counted by callgrind (valgrind) with the"
	echo "server restarted under it, over all its processes and threads. The proxies' figures"
	echo "include their backend connection."
	echo
	echo "| server | syscalls/handshake | ring or event waits/handshake | context switches/handshake | userspace instructions/handshake |"
	echo "|---|---:|---:|---:|---:|"
	for s in "${SHOWN[@]}"; do
		[[ -n ${KERN[$s]:-} ]] || continue
		echo "${KERN[$s]}" | awk -v l="${LABEL[$s]}${BULK_NOTE[$s]:-}" -v i="${INSTR[$s]:-–}" \
			'{ printf "| %s | %s | %s | %s | %s |\n", l, $1, $2, $3, i }'
	done
fi
echo
echo "Command: \`$CMDLINE\` ($((T_END - T_START)) s of measuring). $machine; $versions."
((DO_HS + DO_BULK)) && echo "nginx (file) serves the bulk file itself; nginx stream, HAProxy and ktlsd relay a plain-TCP"
((DO_HS + DO_BULK)) && echo "backend on 127.0.0.1. MB/s is the range over the runs (client wall clock); a ratio's MB/s"
((DO_HS + DO_BULK)) && echo "column compares the fastest runs."
((DO_RES)) && echo "Resumption: nginx with \`ssl_session_cache shared:SSL:10m; ssl_session_tickets on;\`, HAProxy"
((DO_RES)) && echo "with its default cache and tickets, ktlsd with its defaults; nginx (file) opens no backend"
((DO_RES)) && echo "connection, the proxies open one per handshake."
((DO_HS + DO_RES + DO_BULK)) && echo
((DO_HS + DO_RES + DO_BULK)) && echo "All runs (µs per handshake; s/GB): "
for s in "${SHOWN[@]}"; do
	((DO_HS + DO_RES + DO_BULK)) || break
	line=""
	for t in hs1_3 hs1_2 bulk "${RES_CASES[@]}"; do
		if [[ -n ${B[$t $s]} ]]; then
			case $t in
			hs1_*) name="TLS 1.${t#hs1_}" ;;
			rs1_*) name="resumed 1.${t#rs1_}" ;;
			rsid) name="1.2 session ID" ;;
			*) name=$t ;;
			esac
			line+=" $name: $(echo "${B[$t $s]}" | awk '{ print $6 }');"
		fi
	done
	echo "- ${LABEL[$s]}:${line%;}"
	ciphers=$(awk -v s="$s" '$2 == s && NF >= 12 && !seen[$1 " " $12]++ {
		n = $1 == "rs1_3" ? "1.3" : $1 == "rs1_2" ? "1.2 ticket" : "1.2 ID"
		l = l (l ? ", " : "") n " " $12 } END { print l }' "$RESULTS")
	[[ -n $ciphers ]] && echo "  cipher suites of the resumed handshakes: $ciphers"
	while read -r t nt f; do
		NOTES+=("${LABEL[$s]} ${RES_NAME[$t]}: $nt handshakes without a ticket within 1 s, $f failed connections")
	done < <(res_problems "$s")
done
for n in "${NOTES[@]}"; do echo "- note: $n"; done
exit 0
