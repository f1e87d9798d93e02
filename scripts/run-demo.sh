#!/usr/bin/env bash
# SPDX-License-Identifier: MIT
#
# run-demo.sh - what `make run` calls: ktlsd on 127.0.0.1:8443 in front of a small
# HTTP backend on 127.0.0.1:8080, with a throwaway CA; the backend's line for each
# request it serves is printed.  Ctrl-C stops both.
#
# Environment: BUILD (default build), DEMO_PORT (8443), DEMO_BACKEND_PORT (8080).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
case $BUILD in
/*) BUILDDIR=$BUILD ;;
*) BUILDDIR=$ROOT/$BUILD ;;
esac
KTLSD=${KTLSD:-$BUILDDIR/ktlsd}
PORT=${DEMO_PORT:-8443}
BPORT=${DEMO_BACKEND_PORT:-8080}
DEMO=$BUILDDIR/demo
PYTHON=${PYTHON:-python3}

[[ -x $KTLSD ]] || {
	echo "run-demo.sh: $KTLSD not built (run make)" >&2
	exit 1
}

busy() { [[ -n $(ss -Hltn "sport = :$1" 2>/dev/null) ]]; }
for p in "$PORT" "$BPORT"; do
	if busy "$p"; then
		echo "run-demo.sh: port $p is already in use (set DEMO_PORT / DEMO_BACKEND_PORT)" >&2
		exit 1
	fi
done

mkdir -p "$DEMO/www"
"$ROOT/scripts/gen-certs.sh" "$DEMO"

cat >"$DEMO/www/index.html" <<'EOF'
<!doctype html>
<title>ktlsd demo</title>
<h1>Hello through ktlsd</h1>
<p>This page came from a plain-HTTP backend on 127.0.0.1; ktlsd terminated TLS in front of it.</p>
EOF

# Certificate paths are relative: ktlsd resolves them against this file's directory.
cat >"$DEMO/ktlsd.conf" <<EOF
# ktlsd demo configuration (written by scripts/run-demo.sh)
workers = 1;
log_level = "info";
shutdown_timeout = 5;
control_socket = "$DEMO/control.sock";

profiles = (
  {
    name = "default";
    server_names = [ "localhost" ];
    certificates = (
      { cert = "ecdsa.crt"; key = "ecdsa.key"; },
      { cert = "rsa.crt"; key = "rsa.key"; }
    );
    min_version = "1.2";
  }
);

listeners = (
  {
    name = "demo";
    listen = "127.0.0.1:$PORT";
    profiles = [ "default" ];
    alpn = [ "http/1.1" ];
    backend = "127.0.0.1:$BPORT";
  }
);
EOF

backend_pid=
# shellcheck disable=SC2317 # called from the EXIT trap
cleanup() {
	if [[ -n $backend_pid ]] && kill -0 "$backend_pid" 2>/dev/null; then
		kill "$backend_pid" 2>/dev/null || true
		wait "$backend_pid" 2>/dev/null || true
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# The backend's log (one line per request that reached it through ktlsd) is shown
# here, prefixed, and kept in backend.log.
"$PYTHON" -u -m http.server --bind 127.0.0.1 --directory "$DEMO/www" "$BPORT" </dev/null \
	> >(tee "$DEMO/backend.log" | sed -u 's/^/backend: /') 2>&1 &
backend_pid=$!
for _ in $(seq 100); do
	busy "$BPORT" && break
	kill -0 "$backend_pid" 2>/dev/null || {
		cat "$DEMO/backend.log" >&2
		echo "run-demo.sh: the demo backend did not start" >&2
		exit 1
	}
	sleep 0.05
done

cat <<EOF

ktlsd demo: https://127.0.0.1:$PORT/ -> http://127.0.0.1:$BPORT/
Each request that reaches the backend through ktlsd prints a "backend:" line here.
In another terminal, try:

  curl --cacert $DEMO/ca.crt https://127.0.0.1:$PORT/

  openssl s_client -connect 127.0.0.1:$PORT -servername localhost -CAfile $DEMO/ca.crt
      (then type:  GET / HTTP/1.0  and press Enter twice)

  $BUILDDIR/ktlsctl -s $DEMO/control.sock status     (also: stats, conns, metrics...)

Config: $DEMO/ktlsd.conf.   Ctrl-C stops ktlsd and the backend.

EOF

# In the foreground, so Ctrl-C reaches it; the EXIT trap then stops the backend.
rc=0
"$KTLSD" -f -c "$DEMO/ktlsd.conf" || rc=$?
exit "$rc"
