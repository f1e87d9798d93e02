#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""handoff.py - talk to ktlsd's handoff socket at the byte level, for the tests.

    handoff.py SOCKET CASE [ARGS]

Cases (each prints one JSON line: the reply's fields, plus "fd" true/false):
  server HOST PORT [PROFILE]  connect a TCP socket to HOST:PORT, hand it over (server role),
                              then keep it until stdin closes
  notsocket                   hand over a pipe
  listening                   hand over a listening TCP socket
  unconnected                 hand over a TCP socket never connected
  nofd                        a request without a descriptor
  short                       a truncated request
  badmagic                    a request with a wrong magic number
  profile NAME HOST PORT      ask for profile NAME
  hangup HOST PORT            hand over a connected socket, then close the handoff connection
                              at once (the handshake is still running)
  client HOST PORT NAME       client role (op 2) on a socket connected to HOST:PORT, verifying
                              NAME
  client_nohost HOST PORT     client role without a host name
  client_pipe                 client role on a pipe
  pool NAME                   a pooled connection from upstream NAME (op 3)
  pool_fd NAME                the same with a descriptor attached (not allowed)
  badop                       op 9
"""
import json
import os
import socket
import struct
import sys

REQ = struct.Struct("=IHHQII64s256s128s")
REP = struct.Struct("=IHHQIHHiI64s32s64s256s256s256s")
MAGIC, VERSION, SERVER, CLIENT, POOL = 0x4B544C48, 1, 1, 2, 3


def request(profile=b"", op=SERVER, magic=MAGIC, alpn=b"", timeout=0, host=b""):
    return REQ.pack(magic, VERSION, op, 42, 0, timeout, profile, host, alpn)


def reply(h):
    msg, fds, _flags, _addr = socket.recv_fds(h, REP.size + 16, 4)
    if len(msg) != REP.size:
        return {"error": "reply of %d bytes" % len(msg)}
    f = REP.unpack(msg)
    out = {"magic_ok": f[0] == MAGIC, "status": f[2], "id": f[3], "flags": f[4],
           "tls_version": f[5], "cipher": f[9].rstrip(b"\0").decode(),
           "alpn": f[11].rstrip(b"\0").decode(), "message": f[14].rstrip(b"\0").decode(),
           "verify_result": f[7], "subject": f[13].rstrip(b"\0").decode(),
           "fd": bool(fds)}
    for fd in fds:
        os.close(fd)
    return out


def main():
    path, case = sys.argv[1], sys.argv[2]
    args = sys.argv[3:]
    h = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    h.connect(path)
    h.settimeout(30)
    keep = None
    if case in ("server", "profile", "hangup"):
        if case == "profile":
            prof, host, port = args[0].encode(), args[1], int(args[2])
        else:
            host, port = args[0], int(args[1])
            prof = args[2].encode() if len(args) > 2 else b""
        keep = socket.create_connection((host, port))
        socket.send_fds(h, [request(prof)], [keep.fileno()])
        if case == "hangup":
            h.close()
            print(json.dumps({"sent": True}))
            sys.stdout.flush()
            sys.stdin.read()
            return
    elif case == "notsocket":
        r, w = os.pipe()
        socket.send_fds(h, [request()], [r])
    elif case == "listening":
        keep = socket.socket()
        keep.bind(("127.0.0.1", 0))
        keep.listen()
        socket.send_fds(h, [request()], [keep.fileno()])
    elif case == "unconnected":
        keep = socket.socket()
        socket.send_fds(h, [request()], [keep.fileno()])
    elif case in ("client", "client_nohost"):
        keep = socket.create_connection((args[0], int(args[1])))
        name = args[2].encode() if case == "client" else b""
        socket.send_fds(h, [request(op=CLIENT, host=name)], [keep.fileno()])
    elif case == "client_pipe":
        r, w = os.pipe()
        socket.send_fds(h, [request(op=CLIENT, host=b"localhost")], [r])
    elif case == "pool":
        h.send(request(args[0].encode(), op=POOL))
    elif case == "pool_fd":
        keep = socket.socket()
        socket.send_fds(h, [request(args[0].encode(), op=POOL)], [keep.fileno()])
    elif case == "badop":
        keep = socket.socket()
        socket.send_fds(h, [request(op=9)], [keep.fileno()])
    elif case == "nofd":
        h.send(request())
    elif case == "short":
        h.send(request()[:100])
    elif case == "badmagic":
        keep = socket.socket()
        socket.send_fds(h, [request(magic=1)], [keep.fileno()])
    else:
        sys.exit("unknown case " + case)
    print(json.dumps(reply(h)))
    sys.stdout.flush()
    if case == "server":
        sys.stdin.read()


if __name__ == "__main__":
    main()
