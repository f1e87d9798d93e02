#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tlsctl.py - TLS 1.3 clients that do what stock clients cannot, for the kTLS tests.

    tlsctl.py alert    --port P --ca CA.crt [--host 127.0.0.1] [--sni localhost]
                       [--alert 80] [--level 2] [--delay 0.5] [--timeout 30]
    tlsctl.py pipeline --port P --ca CA.crt [--size 100] [--then 65536] [--seed 1]
                       [--tls12-off] [--timeout 30]

Both drive python's ssl module through MemoryBIOs (ssl.SSLObject), so every byte
that goes on the wire passes through this program, against an echo backend.

alert: handshake (TLS 1.3), wait --delay seconds (so ktlsd has moved the
  connection to kernel TLS), send "hello" and read its echo, then send a fatal
  alert record (level --level, description --alert) sealed with the client's
  application traffic key.  Python's ssl cannot send an alert after the handshake,
  so the record is built here: the ssl context writes an NSS key log
  (keylog_filename), CLIENT_TRAFFIC_SECRET_0 gives key and IV by HKDF-Expand-Label
  (RFC 8446 7.1/7.3), the nonce is the IV xor the record sequence number (the
  number of application records this client sent, counted on the wire), and the
  AEAD is the negotiated suite's (python3-cryptography).  Then it waits for the
  server to close and prints one line:
      alert sent after N records; server closed: eof|reset|close_notify (T s)
  Exit 0 if the server closed within --timeout, 1 otherwise.

pipeline: handshake in memory; once the client side is done its Finished sits in
  the outgoing BIO unsent; --size bytes of application data are written behind
  it and the Finished flight plus the data go out in ONE send() (so they reach
  ktlsd in the same segment(s)).  Then it reads the echo of those bytes, sends
  --then more bytes (0: none) after a pause and reads their echo, sends
  close_notify and reads until the server's close_notify.  Prints
      pipelined N bytes with the Finished in one send of M bytes; echo ok; then K bytes ok; closed
  Exit 0 if every echo was byte-exact and the server closed with close_notify.

Needs python3-cryptography only for `alert`.
"""

import argparse
import hashlib
import hmac
import os
import random
import select
import socket
import ssl
import struct
import sys
import tempfile
import time

CT_ALERT = 21
CT_APPDATA = 23


def die(msg):
    print("tlsctl: " + msg, file=sys.stderr)
    sys.exit(1)


class Conn:
    """A TCP socket plus an ssl.SSLObject over MemoryBIOs, with wire accounting."""

    def __init__(self, args, keylog=None):
        self.args = args
        ctx = ssl.create_default_context(cafile=args.ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
        if keylog:
            ctx.keylog_filename = keylog
        self.sock = socket.create_connection((args.host, args.port), timeout=args.timeout)
        self.inb = ssl.MemoryBIO()
        self.outb = ssl.MemoryBIO()
        self.obj = ctx.wrap_bio(self.inb, self.outb, server_hostname=args.sni)
        self.deadline = time.monotonic() + args.timeout
        self.app_records = 0  # client records sent after the handshake (app key)
        self.counting = False

    def left(self):
        t = self.deadline - time.monotonic()
        if t <= 0:
            die("timed out")
        return t

    def pending_out(self):
        return self.outb.read()

    def count_records(self, data):
        # Only called with whole records (what one SSLObject call produced).
        off = 0
        while off + 5 <= len(data):
            ctype, _, ln = struct.unpack(">BHH", data[off:off + 5])
            if self.counting and ctype == CT_APPDATA:
                self.app_records += 1
            off += 5 + ln

    def send_raw(self, data):
        self.count_records(data)
        self.sock.settimeout(self.left())
        self.sock.sendall(data)

    def flush(self):
        data = self.pending_out()
        if data:
            self.send_raw(data)
        return len(data)

    def recv_into_bio(self):
        self.sock.settimeout(self.left())
        d = self.sock.recv(65536)
        if not d:
            self.inb.write_eof()
            return False
        self.inb.write(d)
        return True

    def handshake(self, send_finished=True):
        while True:
            try:
                self.obj.do_handshake()
                break
            except ssl.SSLWantReadError:
                self.flush()
                if not self.recv_into_bio():
                    die("server closed during the handshake")
        if send_finished:
            self.flush()
        self.counting = True

    def read_exact(self, n):
        got = bytearray()
        while len(got) < n:
            try:
                d = self.obj.read(n - len(got))
                if not d:
                    die("server closed after %d of %d bytes" % (len(got), n))
                got += d
                continue
            except ssl.SSLWantReadError:
                pass
            self.flush()  # e.g. nothing; keeps the invariant
            if not self.recv_into_bio():
                die("EOF after %d of %d bytes" % (len(got), n))
        return bytes(got)

    def write(self, data):
        for off in range(0, len(data), 16384):
            self.obj.write(data[off:off + 16384])
            self.flush()

    def wait_close(self):
        """Reads until the server ends the connection: returns how it ended."""
        while True:
            try:
                d = self.obj.read(65536)
                if not d:
                    return "close_notify"
                continue
            except ssl.SSLWantReadError:
                pass
            except ssl.SSLZeroReturnError:
                return "close_notify"
            except ssl.SSLError as e:
                return "tls error %s" % e.reason
            try:
                if not self.recv_into_bio():
                    return "eof"
            except ConnectionResetError:
                return "reset"
            except socket.timeout:
                die("the server did not close within --timeout")


# ----------------------------------------------------------------- TLS 1.3 keys
SUITES = {
    # name: (hash, key length, AEAD constructor name)
    "TLS_AES_128_GCM_SHA256": ("sha256", 16, "AESGCM"),
    "TLS_AES_256_GCM_SHA384": ("sha384", 32, "AESGCM"),
    "TLS_CHACHA20_POLY1305_SHA256": ("sha256", 32, "ChaCha20Poly1305"),
}


def hkdf_expand_label(secret, label, length, hashname):
    full = b"tls13 " + label
    info = struct.pack(">H", length) + bytes([len(full)]) + full + b"\x00"
    out, t, i = b"", b"", 1
    while len(out) < length:
        t = hmac.new(secret, t + info + bytes([i]), hashname).digest()
        out += t
        i += 1
    return out[:length]


def seal_record(suite, secret, seq, content, ctype):
    from cryptography.hazmat.primitives.ciphers import aead  # python3-cryptography

    hashname, keylen, aeadname = SUITES[suite]
    key = hkdf_expand_label(secret, b"key", keylen, hashname)
    iv = hkdf_expand_label(secret, b"iv", 12, hashname)
    nonce = bytes(a ^ b for a, b in zip(iv, seq.to_bytes(12, "big")))
    inner = content + bytes([ctype])
    hdr = struct.pack(">BHH", CT_APPDATA, 0x0303, len(inner) + 16)
    return hdr + getattr(aead, aeadname)(key).encrypt(nonce, inner, hdr)


def client_traffic_secret(keylog):
    secret = None
    with open(keylog) as f:
        for line in f:
            p = line.split()
            if len(p) == 3 and p[0] == "CLIENT_TRAFFIC_SECRET_0":
                secret = bytes.fromhex(p[2])
    if secret is None:
        die("no CLIENT_TRAFFIC_SECRET_0 in the key log")
    return secret


# ----------------------------------------------------------------- commands
def cmd_alert(args):
    fd, keylog = tempfile.mkstemp(prefix="tlsctl-keylog-")
    os.close(fd)
    try:
        c = Conn(args, keylog)
        c.handshake()
        suite = c.obj.cipher()[0]
        if suite not in SUITES:
            die("unexpected suite %s" % suite)
        time.sleep(args.delay)
        c.write(b"hello")
        if c.read_exact(5) != b"hello":
            die("echo of hello differs")
        rec = seal_record(suite, client_traffic_secret(keylog), c.app_records,
                          bytes([args.level, args.alert]), CT_ALERT)
        n = c.app_records
        t0 = time.monotonic()
        c.send_raw(rec)
        how = c.wait_close()
        print("alert %d/%d sent after %d records (%s); server closed: %s (%.2f s)"
              % (args.level, args.alert, n, suite, how, time.monotonic() - t0))
    finally:
        os.unlink(keylog)
    return 0


def cmd_pipeline(args):
    rng = random.Random(args.seed)
    first = rng.randbytes(args.size)
    then = rng.randbytes(args.then)
    c = Conn(args)
    c.handshake(send_finished=False)
    fin = c.pending_out()  # the client's Finished flight, not sent yet
    if not fin:
        die("no Finished flight pending after the handshake")
    c.counting = False
    c.count_records(fin)
    c.counting = True
    for off in range(0, len(first), 16384):
        c.obj.write(first[off:off + 16384])
    data = c.pending_out()
    c.count_records(data)
    c.sock.settimeout(c.left())
    c.sock.sendall(fin + data)  # ONE send: Finished + application data
    got = c.read_exact(len(first))
    if got != first:
        die("echo of the pipelined bytes differs")
    msg = "pipelined %d bytes with the Finished in one send of %d bytes; echo ok" % (
        len(first), len(fin) + len(data))
    if then:
        time.sleep(args.delay)
        c.write(then)
        got = c.read_exact(len(then))
        if hashlib.sha256(got).digest() != hashlib.sha256(then).digest():
            die("echo of the later bytes differs")
        msg += "; then %d bytes ok" % len(then)
    try:
        c.obj.unwrap()
    except ssl.SSLWantReadError:
        pass
    c.flush()
    how = c.wait_close()
    print(msg + "; server closed: " + how)
    return 0 if how == "close_notify" else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cmd", choices=["alert", "pipeline"])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--sni", default="localhost")
    ap.add_argument("--timeout", type=float, default=30)
    ap.add_argument("--delay", type=float, default=0.5)
    ap.add_argument("--alert", type=int, default=80, help="alert description (80 internal_error)")
    ap.add_argument("--level", type=int, default=2, help="alert level (2 fatal)")
    ap.add_argument("--size", type=int, default=100)
    ap.add_argument("--then", type=int, default=65536)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    try:
        return cmd_alert(args) if args.cmd == "alert" else cmd_pipeline(args)
    except (OSError, ssl.SSLError) as e:
        die("%s: %s" % (type(e).__name__, e))


if __name__ == "__main__":
    sys.exit(main())
