#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bench/scale.py - memory and latency with many connections held open: ktlsd beside nginx
(stream) and HAProxy, in the same run, one worker or thread each. A harness, not a test: it
prints figures and never fails on them (make bench-scale; bench/README.md has the method).

    BUILD=build bench/scale.py [-n 10000,50000,100000] [-o ktlsd,nginx-stream,haproxy]

For each server and each N, started afresh:
  idle         N TCP connections that never send a byte (no ClientHello);
  established  N TLS connections, handshake done, then silent (each with its backend
               connection open behind it).
For each: the server's RSS per held connection (all its processes), the kernel's memory per
held connection (Slab + TCP socket pages from /proc/net/sockstat, system-wide, so only a
quiet machine gives a clean figure), the p50 and p99 of 50 new full handshakes made while
the N are held, and the server's RSS once they are all closed again (memory given back).

An N is skipped, with the reason printed, when it needs more descriptors than the hard
RLIMIT_NOFILE allows (raising it needs CAP_SYS_RESOURCE).
"""
import argparse
import os
import resource
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BUILD", "build")
BUILD = BUILD if os.path.isabs(BUILD) else os.path.join(ROOT, BUILD)
NGINX_STREAM_SO = "/usr/lib/nginx/modules/ngx_stream_module.so"
PAGE = os.sysconf("SC_PAGE_SIZE")


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def rss_kib(pids):
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def kernel_bytes():
    slab = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("Slab:"):
                slab = int(line.split()[1]) * 1024
    tcp_pages = 0
    with open("/proc/net/sockstat") as f:
        for line in f:
            if line.startswith("TCP:"):
                w = line.split()
                tcp_pages = int(w[w.index("mem") + 1])
    return slab + tcp_pages * PAGE


def children(pid):
    """pid and its descendants (nginx's master and worker)."""
    out, pending = [], [pid]
    while pending:
        p = pending.pop()
        out.append(p)
        try:
            with open(f"/proc/{p}/task/{p}/children") as f:
                pending += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def wait_port(port, proc, secs=10):
    end = time.monotonic() + secs
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


def configs(tmp, port, sink, cert, key, pem, n):
    return {
        "ktlsd": ("ktlsd.conf", f"""workers = 1;
log_level = "error";
profiles = ( {{ name = "b"; certificates = ( {{ cert = "{cert}"; key = "{key}"; }} );
               groups = "X25519"; }} );
listeners = ( {{ listen = "127.0.0.1:{port}"; profile = "b"; backend = "127.0.0.1:{sink}";
                backlog = 65535; handshake_timeout = 600; client_hello_timeout = 600;
                idle_timeout = 600; }} );
""", [os.path.join(BUILD, "ktlsd"), "-f", "-c", "{conf}"]),
        "nginx-stream": ("nginx.conf", f"""user root root; worker_processes 1; daemon off;
master_process on; pid {tmp}/nginx.pid; error_log {tmp}/nginx.log error;
load_module {NGINX_STREAM_SO};
worker_rlimit_nofile {resource.getrlimit(resource.RLIMIT_NOFILE)[1]};
events {{ worker_connections {2 * n + 1024}; }}
stream {{ server {{ listen 127.0.0.1:{port} ssl backlog=65535;
  ssl_certificate {cert}; ssl_certificate_key {key}; ssl_ecdh_curve X25519;
  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_handshake_timeout 600s; proxy_timeout 600s; proxy_pass 127.0.0.1:{sink}; }} }}
""", ["nginx", "-c", "{conf}"]),
        "haproxy": ("haproxy.cfg", f"""global
	nbthread 1
	maxconn {n + 256}
defaults
	mode tcp
	timeout connect 5s
	timeout client 600s
	timeout server 600s
	timeout client-fin 600s
frontend f
	bind 127.0.0.1:{port} ssl crt {pem} curves X25519
	backlog 65535
	default_backend sink
backend sink
	server sink 127.0.0.1:{sink}
""", ["haproxy", "-f", "{conf}"]),
    }


def handshake_probe(port, ctx, count=50):
    times = []
    for _ in range(count):
        t0 = time.monotonic()
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        t = ctx.wrap_socket(s, server_hostname="bench.ktlsd.invalid")
        times.append(time.monotonic() - t0)
        t.close()
    times.sort()
    return times[len(times) // 2], times[min(len(times) - 1, int(len(times) * 0.99))]


def hold(port, n, ctx, established):
    conns = []
    for i in range(n):
        # One source address has some 28 000 ephemeral ports: spread over 127.0.0.0/8.
        s = socket.create_connection(("127.0.0.1", port), timeout=60,
                                     source_address=(f"127.0.{i // 20000}.{2 + i % 250}", 0))
        if established:
            s = ctx.wrap_socket(s, server_hostname="bench.ktlsd.invalid")
        conns.append(s)
    return conns


def run_one(name, n, phase, tmp, port, sink, files, ctx):
    fname, text, argv = configs(tmp, port, sink, *files, n)[name]
    conf = os.path.join(tmp, fname)
    with open(conf, "w") as f:
        f.write(text)
    argv = [a.replace("{conf}", conf) for a in argv]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, name + ".err"), "w"))
    try:
        if not wait_port(port, proc):
            with open(os.path.join(tmp, name + ".err")) as f:
                why = [line.strip() for line in f if line.strip()]
            return f"# {name} {phase} {n}: did not start: {why[-1] if why else '(no message)'}"
        # Warm up with a few handshakes; a server still starting its worker may reset one.
        for attempt in range(20):
            try:
                handshake_probe(port, ctx, 5)
                break
            except OSError:
                time.sleep(0.25)
        else:
            return f"# {name} {phase} {n}: no handshake succeeded after start"
        time.sleep(1)
        pids = children(proc.pid)
        r0, k0 = rss_kib(pids), kernel_bytes()
        conns = hold(port, n, ctx, phase == "established")
        time.sleep(2)
        pids = children(proc.pid)
        r1, k1 = rss_kib(pids), kernel_bytes()
        p50, p99 = handshake_probe(port, ctx)
        for c in conns:
            c.close()
        del conns
        # At least 6 s, then until the server's RSS has stopped falling (a slow machine
        # takes a while to close them all), at most 40 s.
        t0, r2 = time.monotonic(), rss_kib(children(proc.pid))
        while time.monotonic() - t0 < 40:
            time.sleep(2)
            r = rss_kib(children(proc.pid))
            if r >= r2 and time.monotonic() - t0 >= 6:
                break
            r2 = min(r, r2)
        return (f"{name:13} {phase:11} {n:7d}  {(r1 - r0) * 1024 / n:9.0f} B  "
                f"{(k1 - k0) / n:9.0f} B  {p50 * 1000:7.2f} ms  {p99 * 1000:7.2f} ms  "
                f"{r0 / 1024:7.1f} MB -> {r1 / 1024:7.1f} MB -> {r2 / 1024:7.1f} MB")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("-n", default="10000,50000,100000", help="connection counts")
    ap.add_argument("-o", default="ktlsd,nginx-stream,haproxy", help="servers")
    ap.add_argument("-p", type=int, default=18480, help="first loopback port (uses 2)")
    ap.add_argument("--phases", default="idle,established", help="idle, established or both")
    args = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    try:  # with CAP_SYS_RESOURCE (root in the VM) the hard limit may go up to nr_open
        with open("/proc/sys/fs/nr_open") as f:
            want = int(f.read())
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, want))
        hard = want
    except (OSError, ValueError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    tmp = tempfile.mkdtemp(prefix="ktlsd-bench-scale.")
    cert, key, pem = (os.path.join(tmp, x) for x in ("c.crt", "c.key", "c.pem"))
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:P-256", "-nodes", "-days", "30", "-subj",
                    "/CN=bench.ktlsd.invalid", "-keyout", key, "-out", cert],
                   check=True, capture_output=True)
    with open(pem, "w") as f:
        f.write(open(cert).read() + open(key).read())
    ctx = ssl.create_default_context(cafile=cert)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    os.makedirs(os.path.join(BUILD, "bench"), exist_ok=True)
    backend = os.path.join(BUILD, "bench", "backend")
    subprocess.run(["gcc", "-O2", "-Wall", "-Wextra", "-Werror", "-D_GNU_SOURCE", "-o", backend,
                    os.path.join(ROOT, "bench", "backend.c")], check=True)
    port, sink = args.p, args.p + 1
    be = subprocess.Popen([backend, str(sink), str(sink + 100), "0"], stdout=subprocess.DEVNULL)
    servers = []
    for s in args.o.split(","):
        cmd = {"ktlsd": os.path.join(BUILD, "ktlsd"), "nginx-stream": "nginx",
               "haproxy": "haproxy"}.get(s)
        if cmd is None:
            sys.exit(f"scale: unknown server {s!r}")
        if not (os.access(cmd, os.X_OK) or shutil.which(cmd)) or \
                (s == "nginx-stream" and not os.path.exists(NGINX_STREAM_SO)):
            log(f"scale: {s} is not installed (scripts/deps.sh bench); skipped")
            continue
        servers.append(s)
    print(f"# {' '.join(sys.argv)}  ({time.strftime('%Y-%m-%d %H:%M')}, {os.cpu_count()} CPUs, "
          f"RLIMIT_NOFILE {hard})")
    print(f"{'server':13} {'phase':11} {'N':>7}  {'RSS/conn':>11}  {'kernel/conn':>11}  "
          f"{'hs p50':>10}  {'hs p99':>10}  RSS before -> held -> closed")
    try:
        for n in (int(x) for x in args.n.split(",")):
            for phase in args.phases.split(","):
                # The server holds one descriptor per client (two when established: the
                # backend's); this process holds one per connection too.
                need = n * (2 if phase == "established" else 1) + 256
                if need > hard:
                    print(f"# {phase} {n}: skipped: needs {need} descriptors per process, "
                          f"RLIMIT_NOFILE hard limit is {hard}")
                    continue
                for s in servers:
                    print(run_one(s, n, phase, tmp, port, sink, (cert, key, pem), ctx), flush=True)
    finally:
        be.terminate()
        be.wait()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
