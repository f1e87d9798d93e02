#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""stall_hello.py - clients that stall in the handshake, and when the server cut each.

    stall_hello.py HOST PORT N MODE LIMIT

Opens N TCP connections at once. MODE says what each sends, then it sends nothing more:
  silent   nothing
  partial  the first 60 bytes of a real TLS 1.3 ClientHello (python's ssl module writes it)
  hello    the whole ClientHello (the server answers; the client never finishes)
Prints one line per connection, the seconds from its connect until the server closed it
(EOF or reset), or "open" if it still was after LIMIT seconds; then "closed K of N".
"""
import selectors
import socket
import ssl
import sys
import time


def client_hello():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    inb, outb = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(inb, outb, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outb.read()


def main():
    host, port, n, mode, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), \
        sys.argv[4], float(sys.argv[5])
    hello = client_hello()
    data = {"silent": b"", "partial": hello[:60], "hello": hello}[mode]
    sel = selectors.DefaultSelector()
    t0 = {}
    for _ in range(n):
        s = socket.create_connection((host, port))
        t0[s] = time.monotonic()
        if data:
            s.sendall(data)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
    ended = {}
    deadline = time.monotonic() + limit
    while len(ended) < n and time.monotonic() < deadline:
        for key, _ in sel.select(timeout=0.05):
            s = key.fileobj
            try:
                chunk = s.recv(65536)
            except (ConnectionResetError, BrokenPipeError):
                chunk = b""
            if not chunk:  # EOF or reset: the server cut it
                ended[s] = time.monotonic() - t0[s]
                sel.unregister(s)
                s.close()
    for s in t0:
        print(f"{ended[s]:.3f}" if s in ended else "open")
    print(f"closed {len(ended)} of {n}", flush=True)


if __name__ == "__main__":
    main()
