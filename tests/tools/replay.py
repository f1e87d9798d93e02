#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""replay.py - record a TLS client's first flight and send it again, byte for byte.

    replay.py record (--target HOST:PORT | --capture-only) --out FLIGHT.bin --port-file F
                     [--listen 127.0.0.1:0] [--quiet 0.3] [--timeout 30]
    replay.py send   --target HOST:PORT --in FLIGHT.bin [--wait 3]

record: a one-connection TCP proxy.  It accepts one client, connects to --target and
  relays both ways, but holds the server's first bytes back until the client has
  sent nothing for --quiet seconds: everything the client sent before it could see
  a single byte of the server - the ClientHello and, with 0-RTT, the early data
  records - is its first flight, written to --out.  (A client cannot send more
  before it hears from the server, so waiting for quiet only makes sure the whole
  flight has arrived.)  Then it relays until both sides are done and prints
      recorded first flight: N bytes (R records: TYPES)
  with the TLS record content types (22 handshake, 20 change_cipher_spec, 23
  application_data: with 0-RTT the early data).
  --capture-only: no --target; the client's first flight is saved once it is quiet,
  and the connection is closed (the client fails; the server never saw the ticket).
send: a new TCP connection to --target, the recorded bytes in one send, then it
  reads whatever the server answers for --wait seconds (or until it closes) and
  closes; it prints
      replayed N bytes; server sent M bytes (first record types: ...); ended: eof|reset|timeout
Exit 0 on success, 1 with a message otherwise.
"""

import argparse
import os
import select
import socket
import sys
import time


def die(msg):
    print("replay: " + msg, file=sys.stderr)
    sys.exit(1)


def hostport(s):
    h, _, p = s.rpartition(":")
    return h.strip("[]"), int(p)


def record_types(data, limit=12):
    out = []
    i = 0
    while i + 5 <= len(data) and len(out) < limit:
        t = data[i]
        ln = int.from_bytes(data[i + 3:i + 5], "big")
        out.append(str(t))
        i += 5 + ln
    return out


def do_record(a):
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(hostport(a.listen))
    ls.listen(1)
    tmp = a.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % ls.getsockname()[1])
    os.replace(tmp, a.port_file)
    ls.settimeout(a.timeout)
    try:
        c, _ = ls.accept()
    except socket.timeout:
        die("no client within %s s" % a.timeout)
    if a.capture_only:
        return capture_only(a, c)
    s = socket.create_connection(hostport(a.target), timeout=a.timeout)
    deadline = time.monotonic() + a.timeout
    flight = bytearray()
    held = bytearray()
    last_client = time.monotonic()
    first_done = False
    c_open = s_open = True
    while c_open or s_open:
        if time.monotonic() > deadline:
            die("relay still busy after %s s" % a.timeout)
        rl = [x for x, o in ((c, c_open), (s, s_open)) if o]
        r, _, _ = select.select(rl, [], [], 0.05)
        if c in r:
            d = c.recv(65536)
            if not d:
                c_open = False
                try:
                    s.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
            else:
                if not first_done:
                    flight += d
                    last_client = time.monotonic()
                s.sendall(d)
        if s in r:
            try:
                d = s.recv(65536)
            except ConnectionResetError:
                d = b""
            if not d:
                s_open = False
                if first_done or not held:
                    try:
                        c.shutdown(socket.SHUT_WR)
                    except OSError:
                        pass
            elif first_done:
                c.sendall(d)
            else:
                held += d
        if not first_done and held and time.monotonic() - last_client >= a.quiet:
            first_done = True
            with open(a.out, "wb") as f:
                f.write(bytes(flight))
            c.sendall(bytes(held))
            if not s_open:
                try:
                    c.shutdown(socket.SHUT_WR)
                except OSError:
                    pass
    if not first_done:
        with open(a.out, "wb") as f:
            f.write(bytes(flight))
    c.close()
    s.close()
    types = record_types(bytes(flight), 64)
    print("recorded first flight: %d bytes (%d records: %s)" % (len(flight), len(types), " ".join(types)))


def capture_only(a, c):
    """No server: keep what the client sends until it is quiet, then close."""
    flight = bytearray()
    deadline = time.monotonic() + a.timeout
    last = None
    while time.monotonic() < deadline:
        r, _, _ = select.select([c], [], [], 0.05)
        if r:
            d = c.recv(65536)
            if not d:
                break
            flight += d
            last = time.monotonic()
        elif last is not None and time.monotonic() - last >= a.quiet:
            break
    c.close()
    with open(a.out, "wb") as f:
        f.write(bytes(flight))
    types = record_types(bytes(flight), 64)
    print("captured first flight: %d bytes (%d records: %s)" % (len(flight), len(types), " ".join(types)))


def do_send(a):
    data = open(a.infile, "rb").read()
    if not data:
        die("%s is empty" % a.infile)
    s = socket.create_connection(hostport(a.target), timeout=10)
    s.sendall(data)
    got = bytearray()
    how = "timeout"
    deadline = time.monotonic() + a.wait
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            break
        r, _, _ = select.select([s], [], [], left)
        if not r:
            break
        try:
            d = s.recv(65536)
        except ConnectionResetError:
            how = "reset"
            break
        if not d:
            how = "eof"
            break
        got += d
    s.close()
    print("replayed %d bytes; server sent %d bytes (first record types: %s); ended: %s"
          % (len(data), len(got), " ".join(record_types(bytes(got), 6)) or "-", how))


def main():
    ap = argparse.ArgumentParser(description="record / replay a TLS first flight",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    sub = ap.add_subparsers(dest="cmd", required=True)
    r = sub.add_parser("record")
    r.add_argument("--listen", default="127.0.0.1:0")
    r.add_argument("--target")
    r.add_argument("--capture-only", action="store_true")
    r.add_argument("--out", required=True)
    r.add_argument("--port-file", required=True)
    r.add_argument("--quiet", type=float, default=0.3)
    r.add_argument("--timeout", type=float, default=30)
    s = sub.add_parser("send")
    s.add_argument("--target", required=True)
    s.add_argument("--in", dest="infile", required=True)
    s.add_argument("--wait", type=float, default=3)
    a = ap.parse_args()
    if a.cmd == "record" and not a.target and not a.capture_only:
        die("record needs --target or --capture-only")
    if a.cmd == "record":
        do_record(a)
    else:
        do_send(a)


if __name__ == "__main__":
    main()
