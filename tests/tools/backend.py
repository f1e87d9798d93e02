#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""backend.py - a plain-TCP (or unix socket) test backend for ktlsd.

Server modes (one thread per connection):

  backend.py [--listen ADDR] echo
      echo every byte; on EOF from the peer finish echoing, log "received N
      bytes sha256 X" (what the peer sent), shut down the write side (FIN) and close.
  backend.py [--listen ADDR] sink
      read to EOF, then write the hex sha256 of everything received plus "\\n",
      and close.
  backend.py [--listen ADDR] source N [SEED]
      send N deterministic pseudo-random bytes (see `gen`), then FIN; then read
      what the peer still sends until it closes (at most 60 s) and log
      "after FIN received K bytes sha256 X (eof)".
  backend.py [--listen ADDR] http
      tiny HTTP/1.1 server with keep-alive:
        GET /size/N[?seed=S]  N deterministic bytes (application/octet-stream)
        GET /                 a small hello page
        POST|PUT any path     body (Content-Length or chunked) -> "<sha256 hex>\\n"
  backend.py [--listen ADDR] proxyv2
      parse a PROXY protocol v2 header, write one JSON line describing it
      (addresses, ports, TLVs decoded: unknown types such as 0xE0 as
      "0xe0": "<hex>", and every TLV raw in "raw_tlvs"), then echo like `echo`
      (the JSON line first; the "received" log line counts what came after the header).  A bad header
      gets {"error": "..."} and a close.
  backend.py [--listen ADDR] reset
      accept and immediately close with RST (SO_LINGER 0).
  backend.py [--listen ADDR] hold
      accept and say nothing, read and drop until the peer closes.

ADDR is HOST:PORT, [V6]:PORT (port 0 picks a free one) or unix:/path.
Default 127.0.0.1:0.  When ready it prints "listening ADDR" (the real address)
on stdout; every connection is logged on stdout too.  --port-file F also writes
the bound port (or the unix path) to F.

Helper commands (no server):
  backend.py gen N [SEED]      write the N-byte deterministic stream to stdout
  backend.py sha N [SEED]      print its sha256 hex
"""

import argparse
import hashlib
import json
import os
import random
import signal
import socket
import struct
import sys
import threading
import time

CHUNK = 65536


# --------------------------------------------------------------------------- data
def gen_chunks(n, seed=0):
    """The deterministic byte stream: Random(seed).randbytes(64 KiB) blocks,
    the last one cut to length.  Every consumer uses this function, so the
    producer and the checker always agree."""
    rng = random.Random(int(seed))
    left = int(n)
    while left > 0:
        block = rng.randbytes(CHUNK)
        if left < CHUNK:
            block = block[:left]
        left -= len(block)
        yield block


def gen_sha(n, seed=0):
    h = hashlib.sha256()
    for b in gen_chunks(n, seed):
        h.update(b)
    return h.hexdigest()


# --------------------------------------------------------------------------- logging
_log_lock = threading.Lock()
_conn_counter = 0


def log(msg):
    with _log_lock:
        sys.stdout.write("%.3f %s\n" % (time.time(), msg))
        sys.stdout.flush()


def next_id():
    global _conn_counter
    with _log_lock:
        _conn_counter += 1
        return _conn_counter


def peer_str(addr):
    if isinstance(addr, tuple):
        return "%s:%d" % (addr[0], addr[1])
    return str(addr) or "unix"


# --------------------------------------------------------------------------- helpers
def close_gracefully(s, drain_timeout=10.0):
    """FIN our side, then read until the peer closes (bounded), so the kernel
    never answers unread data with an RST.  Returns (bytes, sha256 hex, how it
    ended) of what arrived after our FIN."""
    h = hashlib.sha256()
    total = 0
    how = "eof"
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    try:
        s.settimeout(drain_timeout)
        deadline = time.monotonic() + drain_timeout
        while True:
            if time.monotonic() >= deadline:
                how = "timeout"
                break
            d = s.recv(CHUNK)
            if not d:
                break
            h.update(d)
            total += len(d)
    except socket.timeout:
        how = "timeout"
    except OSError as e:
        how = "error %s" % e
    s.close()
    return total, h.hexdigest(), how


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        d = s.recv(n - len(buf))
        if not d:
            raise EOFError("EOF after %d of %d bytes" % (len(buf), n))
        buf += d
    return buf


# --------------------------------------------------------------------------- modes
def do_echo(s, cid, prefix=b""):
    total = 0
    h = hashlib.sha256()
    received = 0
    if prefix:
        s.sendall(prefix)
        total += len(prefix)
    try:
        while True:
            d = s.recv(CHUNK)
            if not d:
                break
            received += len(d)
            h.update(d)
            s.sendall(d)
            total += len(d)
    except ConnectionResetError:
        # What arrived before the reset still counts (e.g. 0-RTT data forwarded for a
        # handshake that then failed: ktlsd aborts the backend connection).
        log("conn %d: echo: received %d bytes sha256 %s (reset)" % (cid, received, h.hexdigest()))
        raise
    log("conn %d: echo: received %d bytes sha256 %s" % (cid, received, h.hexdigest()))
    log("conn %d: echo: peer EOF after %d bytes, echoed all, closing" % (cid, total))
    try:
        s.shutdown(socket.SHUT_WR)
    except OSError:
        pass
    s.close()


def do_sink(s, cid):
    h = hashlib.sha256()
    total = 0
    while True:
        d = s.recv(CHUNK)
        if not d:
            break
        h.update(d)
        total += len(d)
    digest = h.hexdigest()
    log("conn %d: sink: %d bytes sha256 %s" % (cid, total, digest))
    s.sendall((digest + "\n").encode())
    s.shutdown(socket.SHUT_WR)
    s.close()


def do_source(s, cid, n, seed):
    sent = 0
    for b in gen_chunks(n, seed):
        s.sendall(b)
        sent += len(b)
    log("conn %d: source: sent %d bytes (seed %s), FIN sent" % (cid, sent, seed))
    total, digest, how = close_gracefully(s, 60.0)
    log("conn %d: source: after FIN received %d bytes sha256 %s (%s)" % (cid, total, digest, how))


def do_reset(s, cid):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    s.close()
    log("conn %d: reset: closed with RST" % cid)


def do_hold(s, cid):
    total = 0
    while True:
        d = s.recv(CHUNK)
        if not d:
            break
        total += len(d)
    log("conn %d: hold: peer closed after %d bytes" % (cid, total))
    s.close()


HELLO = (b"<!doctype html>\n<title>ktlsd demo</title>\n"
         b"<h1>Hello from the backend behind ktlsd</h1>\n")


class HttpConn:
    def __init__(self, s):
        self.s = s
        self.buf = b""

    def fill(self):
        d = self.s.recv(CHUNK)
        if not d:
            return False
        self.buf += d
        return True

    def readline(self, limit=65536):
        while b"\r\n" not in self.buf:
            if len(self.buf) > limit or not self.fill():
                return None
        line, _, self.buf = self.buf.partition(b"\r\n")
        return line

    def read_body(self, n, h):
        while n > 0:
            if not self.buf and not self.fill():
                raise EOFError("EOF in body")
            take = self.buf[:n]
            self.buf = self.buf[len(take):]
            h.update(take)
            n -= len(take)


def do_http(s, cid):
    c = HttpConn(s)
    nreq = 0
    while True:
        line = c.readline()
        if line is None:
            break
        if not line:
            continue
        try:
            method, target, version = line.decode("latin-1").split(" ", 2)
        except ValueError:
            s.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
            break
        headers = {}
        while True:
            hl = c.readline()
            if hl is None:
                return s.close()
            if not hl:
                break
            k, _, v = hl.decode("latin-1").partition(":")
            headers[k.strip().lower()] = v.strip()
        nreq += 1
        keep = version.strip() == "HTTP/1.1" and headers.get("connection", "").lower() != "close"
        conn_hdr = b"keep-alive" if keep else b"close"
        path, _, query = target.partition("?")
        params = dict(p.partition("=")[::2] for p in query.split("&") if p)
        if headers.get("expect", "").lower() == "100-continue":
            s.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
        if method in ("POST", "PUT"):
            h = hashlib.sha256()
            total = 0
            if "chunked" in headers.get("transfer-encoding", "").lower():
                while True:
                    szl = c.readline()
                    if szl is None:
                        raise EOFError("EOF in chunk size")
                    sz = int(szl.split(b";")[0], 16)
                    if sz == 0:
                        while c.readline():  # trailers
                            pass
                        break
                    c.read_body(sz, h)
                    total += sz
                    c.readline()
            else:
                total = int(headers.get("content-length", "0"))
                c.read_body(total, h)
            body = (h.hexdigest() + "\n").encode()
            log("conn %d: http: %s %s body %d bytes sha256 %s" % (cid, method, target, total,
                                                                  h.hexdigest()))
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n"
                      b"Connection: %s\r\n\r\n" % (len(body), conn_hdr) + body)
        elif method in ("GET", "HEAD") and path.startswith("/size/"):
            try:
                n = int(path[len("/size/"):])
                seed = int(params.get("seed", "0"))
            except ValueError:
                s.sendall(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
                continue
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      b"Content-Length: %d\r\nConnection: %s\r\n\r\n" % (n, conn_hdr))
            if method == "GET":
                for b in gen_chunks(n, seed):
                    s.sendall(b)
            log("conn %d: http: %s %s sent %d bytes" % (cid, method, target, n))
        elif method in ("GET", "HEAD") and path in ("/", "/index.html"):
            s.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: %d\r\n"
                      b"Connection: %s\r\n\r\n" % (len(HELLO), conn_hdr)
                      + (HELLO if method == "GET" else b""))
            log("conn %d: http: %s %s" % (cid, method, target))
        else:
            s.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: %s\r\n\r\n"
                      % conn_hdr)
            log("conn %d: http: %s %s -> 404" % (cid, method, target))
        if not keep:
            break
    close_gracefully(s, 2.0)


PP2_SIG = b"\r\n\r\n\x00\r\nQUIT\n"
PP2_TLV_NAMES = {0x01: "alpn", 0x02: "authority", 0x03: "crc32c", 0x04: "noop",
                 0x05: "unique_id", 0x20: "ssl", 0x30: "netns"}
PP2_SSL_SUB = {0x21: "version", 0x22: "cn", 0x23: "cipher", 0x24: "sig_alg", 0x25: "key_alg"}


def parse_tlvs(data):
    out = []
    i = 0
    while i < len(data):
        if len(data) - i < 3:
            raise ValueError("truncated TLV header at offset %d" % i)
        t = data[i]
        ln = struct.unpack("!H", data[i + 1:i + 3])[0]
        if i + 3 + ln > len(data):
            raise ValueError("TLV 0x%02x length %d overruns header" % (t, ln))
        out.append((t, data[i + 3:i + 3 + ln]))
        i += 3 + ln
    return out


def describe_pp2(hdr16, body):
    ver_cmd, fam, ln = hdr16[12], hdr16[13], struct.unpack("!H", hdr16[14:16])[0]
    d = {"version": ver_cmd >> 4, "command": {0: "LOCAL", 1: "PROXY"}.get(ver_cmd & 0xF, ver_cmd & 0xF),
         "family": {0x00: "UNSPEC", 0x11: "TCP4", 0x12: "UDP4", 0x21: "TCP6", 0x22: "UDP6",
                    0x31: "UNIX_STREAM", 0x32: "UNIX_DGRAM"}.get(fam, "0x%02x" % fam),
         "length": ln}
    if ver_cmd >> 4 != 2:
        raise ValueError("version %d, expected 2" % (ver_cmd >> 4))
    off = 0
    if fam >> 4 == 1:
        if len(body) < 12:
            raise ValueError("short IPv4 address block")
        src, dst = socket.inet_ntop(socket.AF_INET, body[0:4]), socket.inet_ntop(socket.AF_INET, body[4:8])
        sp, dp = struct.unpack("!HH", body[8:12])
        off = 12
    elif fam >> 4 == 2:
        if len(body) < 36:
            raise ValueError("short IPv6 address block")
        src, dst = socket.inet_ntop(socket.AF_INET6, body[0:16]), socket.inet_ntop(socket.AF_INET6, body[16:32])
        sp, dp = struct.unpack("!HH", body[32:36])
        off = 36
    elif fam >> 4 == 3:
        if len(body) < 216:
            raise ValueError("short unix address block")
        src = body[0:108].rstrip(b"\0").decode("latin-1")
        dst = body[108:216].rstrip(b"\0").decode("latin-1")
        sp = dp = None
        off = 216
    else:
        src = dst = sp = dp = None
    d.update({"src": src, "src_port": sp, "dst": dst, "dst_port": dp})
    tlvs = {}
    raw = []
    for t, v in parse_tlvs(body[off:]):
        raw.append({"type": t, "hex": v.hex()})
        name = PP2_TLV_NAMES.get(t, "0x%02x" % t)
        if t == 0x20:
            if len(v) < 5:
                raise ValueError("short PP2_TYPE_SSL TLV")
            ssl = {"client": v[0], "verify": struct.unpack("!I", v[1:5])[0]}
            for st, sv in parse_tlvs(v[5:]):
                ssl[PP2_SSL_SUB.get(st, "0x%02x" % st)] = sv.decode("latin-1")
            tlvs[name] = ssl
        elif t in (0x01, 0x02, 0x30):
            tlvs[name] = v.decode("latin-1")
        else:
            tlvs[name] = v.hex()
    d["tlvs"] = tlvs
    d["raw_tlvs"] = raw
    return d


def do_proxyv2(s, cid):
    try:
        hdr = recv_exact(s, 16)
        if hdr[:12] != PP2_SIG:
            raise ValueError("bad signature %r" % hdr[:12])
        ln = struct.unpack("!H", hdr[14:16])[0]
        body = recv_exact(s, ln)
        d = describe_pp2(hdr, body)
    except (ValueError, EOFError) as e:
        log("conn %d: proxyv2: bad header: %s" % (cid, e))
        try:
            s.sendall((json.dumps({"error": str(e)}) + "\n").encode())
        except OSError:
            pass
        close_gracefully(s, 2.0)
        return
    line = json.dumps(d, sort_keys=True)
    log("conn %d: proxyv2: %s" % (cid, line))
    do_echo(s, cid, (line + "\n").encode())


# --------------------------------------------------------------------------- server
def parse_listen(addr):
    if addr.startswith("unix:"):
        return socket.AF_UNIX, addr[5:]
    if addr.startswith("["):
        host, _, port = addr[1:].partition("]:")
        return socket.AF_INET6, (host, int(port))
    host, _, port = addr.rpartition(":")
    return socket.AF_INET, (host, int(port))


def serve(args):
    fam, where = parse_listen(args.listen)
    ls = socket.socket(fam, socket.SOCK_STREAM)
    if fam == socket.AF_UNIX:
        try:
            os.unlink(where)
        except FileNotFoundError:
            pass
    else:
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(where)
    ls.listen(1024)
    if fam == socket.AF_UNIX:
        shown, portval = "unix:" + where, where
    elif fam == socket.AF_INET6:
        h, p = ls.getsockname()[:2]
        shown, portval = "[%s]:%d" % (h, p), str(p)
    else:
        h, p = ls.getsockname()
        shown, portval = "%s:%d" % (h, p), str(p)
    if args.port_file:
        tmp = args.port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(portval + "\n")
        os.replace(tmp, args.port_file)

    handlers = {
        "echo": lambda s, cid: do_echo(s, cid),
        "sink": do_sink,
        "source": lambda s, cid: do_source(s, cid, args.n, args.seed),
        "http": do_http,
        "proxyv2": do_proxyv2,
        "reset": do_reset,
        "hold": do_hold,
    }
    handler = handlers[args.mode]

    def run(s, cid):
        try:
            handler(s, cid)
        except Exception as e:  # noqa: BLE001 - log and drop the connection
            log("conn %d: error: %s: %s" % (cid, type(e).__name__, e))
            try:
                s.close()
            except OSError:
                pass

    log("listening %s mode %s" % (shown, args.mode))
    while True:
        s, addr = ls.accept()
        cid = next_id()
        log("conn %d: accepted from %s" % (cid, peer_str(addr)))
        threading.Thread(target=run, args=(s, cid), daemon=True).start()


def main():
    signal.signal(signal.SIGTERM, lambda *_: os._exit(0))
    if len(sys.argv) >= 2 and sys.argv[1] in ("gen", "sha"):
        signal.signal(signal.SIGPIPE, signal.SIG_DFL)
        n = int(sys.argv[2])
        seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
        if sys.argv[1] == "sha":
            print(gen_sha(n, seed))
        else:
            out = sys.stdout.buffer
            for b in gen_chunks(n, seed):
                out.write(b)
            out.flush()
        return
    ap = argparse.ArgumentParser(description="ktlsd test backend",
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__)
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    ap.add_argument("mode", choices=["echo", "sink", "source", "http", "proxyv2", "reset", "hold"])
    ap.add_argument("n", nargs="?", type=int, default=0, help="source: bytes to send")
    ap.add_argument("seed", nargs="?", type=int, default=0, help="source: stream seed")
    args = ap.parse_args()
    try:
        serve(args)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
