#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""dgram_sink.py - a Unix datagram socket standing in for a system service that only
listens (systemd's $NOTIFY_SOCKET, syslog's /dev/log), for the tests.

    dgram_sink.py SOCKET OUT

Binds SOCKET (whose existence then says it is ready) and appends each datagram to OUT as
one line, its own newlines written as " | ". Runs until killed.
"""
import socket
import sys


def main():
    path, out_path = sys.argv[1], sys.argv[2]
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    with open(out_path, "a", buffering=1) as out:
        while True:
            msg = s.recv(65536).decode(errors="replace").strip()
            out.write(msg.replace("\n", " | ") + "\n")


if __name__ == "__main__":
    main()
