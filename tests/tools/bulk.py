#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""bulk.py - fast deterministic bulk data for throughput tests (ktls_bulk.sh).

backend.py's stream (Random.randbytes per 64 KiB) costs too much CPU at
emulated-CPU speed (a few MB/s in the TCG VM).  This one is a single
pseudo-random block of 1 MiB + 4093 bytes (from SEED) repeated and cut to N
bytes: producing it is a memory copy, checking it a memcmp, and because the
period is not a multiple of any record, pipe or buffer size, a lost, doubled or
misplaced chunk still shows.

    bulk.py gen N [SEED]        write the N-byte stream to stdout
    bulk.py sha N [SEED]        print its sha256 hex
    bulk.py check N [SEED]      read stdin to EOF, compare with the stream; prints
                                "ok N bytes" or where it differs; exit 0/1
    bulk.py source N [SEED] [--listen HOST:PORT] [--port-file F]
                                TCP server: each connection gets the N-byte
                                stream, then FIN; then it reads until the peer
                                closes.  Logs one line per connection on stdout.

N accepts K/M/G suffixes (binary).
"""

import argparse
import hashlib
import random
import socket
import sys
import threading
import time

PERIOD = (1 << 20) + 4093
CHUNK = 1 << 20


def parse_size(s):
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}
    s = s.strip().upper()
    if s and s[-1] in mult:
        return int(s[:-1]) * mult[s[-1]]
    return int(s)


class Stream:
    def __init__(self, seed):
        block = random.Random(int(seed)).randbytes(PERIOD)
        # twice the block, so any window of CHUNK bytes is one slice
        self.buf = memoryview(block + block[:CHUNK])

    def chunks(self, n, size=CHUNK):
        off = 0
        while n > 0:
            k = min(size, n)
            yield self.buf[off:off + k]
            n -= k
            off = (off + k) % PERIOD

    def expect(self, pos, n):
        """The n bytes (n <= CHUNK) at stream position pos."""
        off = pos % PERIOD
        return self.buf[off:off + n]


def cmd_gen(args):
    out = sys.stdout.buffer
    for c in Stream(args.seed).chunks(args.n):
        out.write(c)
    out.flush()
    return 0


def cmd_sha(args):
    h = hashlib.sha256()
    for c in Stream(args.seed).chunks(args.n):
        h.update(c)
    print(h.hexdigest())
    return 0


def cmd_check(args):
    st = Stream(args.seed)
    inp = sys.stdin.buffer.raw if hasattr(sys.stdin.buffer, "raw") else sys.stdin.buffer
    buf = bytearray(CHUNK)
    mv = memoryview(buf)
    pos = 0
    while True:
        k = inp.readinto(mv)
        if not k:
            break
        if pos + k > args.n:
            print("longer than expected: more than %d bytes" % args.n)
            return 1
        if mv[:k] != st.expect(pos, k):
            for i in range(k):
                if buf[i] != st.expect(pos + i, 1)[0]:
                    print("differs at byte %d (of %d)" % (pos + i, args.n))
                    return 1
        pos += k
    if pos != args.n:
        print("short: %d of %d bytes" % (pos, args.n))
        return 1
    print("ok %d bytes" % pos)
    return 0


def log(msg):
    sys.stdout.write("%.3f %s\n" % (time.time(), msg))
    sys.stdout.flush()


def serve_one(s, cid, args, st):
    t0 = time.monotonic()
    sent = 0
    try:
        for c in st.chunks(args.n):
            s.sendall(c)
            sent += len(c)
        dt = time.monotonic() - t0
        log("conn %d: source: sent %d bytes in %.2f s, FIN" % (cid, sent, dt))
        s.shutdown(socket.SHUT_WR)
        s.settimeout(120)
        got = 0
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += len(d)
        log("conn %d: peer closed (%d bytes from it)" % (cid, got))
    except OSError as e:
        log("conn %d: %s after %d bytes" % (cid, e, sent))
    finally:
        s.close()


def cmd_source(args):
    host, port = args.listen.rsplit(":", 1)
    host = host.strip("[]")
    fam = socket.AF_INET6 if ":" in host else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((host, int(port)))
    ls.listen(64)
    st = Stream(args.seed)
    real = ls.getsockname()[1]
    if args.port_file:
        with open(args.port_file + ".tmp", "w") as f:
            f.write("%d\n" % real)
        import os
        os.rename(args.port_file + ".tmp", args.port_file)
    log("listening %s:%d mode bulk-source %d" % (host, real, args.n))
    cid = 0
    while True:
        s, peer = ls.accept()
        cid += 1
        log("conn %d: accepted from %s:%d" % (cid, peer[0], peer[1]))
        threading.Thread(target=serve_one, args=(s, cid, args, st), daemon=True).start()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["gen", "sha", "check", "source"])
    ap.add_argument("n", type=parse_size)
    ap.add_argument("seed", nargs="?", type=int, default=0)
    ap.add_argument("--listen", default="127.0.0.1:0")
    ap.add_argument("--port-file")
    args = ap.parse_args()
    try:
        return {"gen": cmd_gen, "sha": cmd_sha, "check": cmd_check, "source": cmd_source}[args.cmd](args)
    except BrokenPipeError:
        return 1


if __name__ == "__main__":
    sys.exit(main())
