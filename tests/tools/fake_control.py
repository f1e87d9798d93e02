#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""fake_control.py - a stand-in for ktlsd's control socket, for testing ktlsctl.

    fake_control.py SOCKET [--mode MODE] [--log FILE] [--conns N] [--reload-fails]

Listens on the unix stream socket SOCKET and answers the control protocol of
docs/control-api.md (version 1) with canned replies shaped like the document's
examples. Requests are checked as strictly as the document says ktlsd checks them:
a line that is not a JSON object is bad_json; an unknown field, a missing or unknown
argument, or an argument of the wrong type is bad_request; an unknown command is
unknown_command; a line longer than 65536 bytes is too_large (and the connection is
closed). Several requests per connection are served, one after the other.

State that commands change: reload increments the generation, drain sets draining,
listeners add/remove change the listener list, kill removes a connection.
Errors on purpose: kill of an unknown id and listeners remove of an unknown name
are not_found; tickets show/rotate of an unknown profile are not_found; tickets
rotate of the profile "files" (keys from ticket_key_files) is conflict; listeners add
of a name in use is conflict; reload with --reload-fails is failed.

--log FILE   every request line, as received, is appended to FILE
--conns N    N more connections in the conns reply (3 canned ones are always there),
             to make the reply several MB
--mode MODE  misbehave instead of answering properly:
    normal     (default) as above
    silent     read requests, never answer
    close      close every connection at once, reading nothing
    garbage    answer "this is not json"
    array      answer a JSON array
    no-ok      answer an object without "ok"
    wrong-id   answer a proper reply with another id
    partial    send the first half of a proper reply and close
    stall      send the first half of a proper reply, then nothing
    busy       answer a "busy" error at once, without reading, and close
    trickle    send the proper reply a few bytes at a time
"""
import argparse
import json
import os
import re
import signal
import socketserver
import sys
import threading
import time

MAX_REQUEST = 65536
ARG_TYPES = {
    "status": {},
    "stats": {},
    "metrics": {},
    "kernel": {},
    "reload": {},
    "drain": {},
    "sessions flush": {},
    "conns": {"listener": "string", "sni": "string", "path": "path", "peer": "string",
              "min_age": "number", "limit": "count"},
    "kill": {"id": "count"},
    "tickets show": {"profile": "string"},
    "tickets rotate": {"profile": "string"},
    "listeners list": {},
    "listeners add": {"config": "string"},
    "listeners remove": {"name": "string"},
}
REQUIRED = {"kill": ["id"], "listeners add": ["config"], "listeners remove": ["name"]}
BOUNDS = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]


class Error(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code
        self.message = message


def type_ok(kind, v):
    if kind == "string":
        return isinstance(v, str)
    if kind == "path":
        return v in ("handshake", "ktls", "userspace")
    if kind == "number":
        return isinstance(v, (int, float)) and not isinstance(v, bool) and v >= 0
    if kind == "count":
        return isinstance(v, int) and not isinstance(v, bool) and v >= 0
    return False


ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "f": "\f"}


def _unescape(m):
    e = m.group(1)
    if e[0] == "x" and len(e) == 3:
        return chr(int(e[1:], 16))
    return ESCAPES.get(e, e)


def libconfig_string(text, key):
    """The value of `key = "..."` in a libconfig group, unescaped (enough for tests)."""
    m = re.search(r'\b' + key + r'\s*=\s*"((?:[^"\\]|\\.)*)"', text)
    if not m:
        return None
    return re.sub(r"\\(x[0-9a-fA-F]{2}|.)", _unescape, m.group(1))


def conn(i, worker, listener, peer, sni, alpn, path, age, bytes_out):
    kernel = {"ulp": "", "rtt_us": 61, "retransmits": 0, "bytes_acked": 2000,
              "bytes_received": 900}
    if path == "ktls":
        kernel = {"ulp": "tls", "tls_version": "1.3", "tls_cipher": "AES-GCM-128",
                  "txconf": "sw", "rxconf": "sw", "rtt_us": 48, "retransmits": 0,
                  "bytes_acked": bytes_out + 424, "bytes_received": 700}
    hs = path == "handshake"
    return {"id": (worker << 32) | i, "worker": worker, "listener": listener, "peer": peer,
            "sni": None if hs else sni, "alpn": None if hs else alpn,
            "version": None if hs else "TLSv1.3",
            "cipher": None if hs else "TLS_AES_128_GCM_SHA256",
            "resumed": not hs and i % 2 == 1, "path": path, "ktls_tx": path == "ktls",
            "ktls_rx": path == "ktls", "state": "handshake" if hs else "relay",
            "bytes_in": 0 if hs else 512, "bytes_out": bytes_out, "age_seconds": age,
            "kernel": kernel}


class State:
    def __init__(self, nconns, reload_fails):
        self.lock = threading.Lock()
        self.generation = 3
        self.draining = False
        self.reload_fails = reload_fails
        self.listeners = [
            {"name": "https", "listen": "0.0.0.0:443", "backend": "127.0.0.1:8080",
             "profiles": ["default"], "connections": 2, "accepting": True, "origin": "config"},
            {"name": "api", "listen": "[::]:8443", "backend": "unix:/run/app.sock",
             "profiles": ["api", "default"], "connections": 1, "accepting": True,
             "origin": "config"},
        ]
        self.conns = [
            conn(1, 1, "https", "10.0.0.5:51512", "a.example", "h2", "ktls", 3.2, 1048576),
            conn(2, 0, "https", "10.0.0.6:40000", "b.example", "http/1.1", "userspace", 302.0,
                 123456789),
            conn(3, 1, "api", "[2001:db8::7]:50123", None, None, "handshake", 0.4, 0),
        ]
        # a client-chosen SNI with a terminal escape: ktlsctl must not print it raw
        self.conns[1]["sni"] = "b.example\x1b[2J"
        for i in range(nconns):
            peer = "192.0.2.%d:%d" % (i % 250, 1024 + i % 60000)
            self.conns.append(conn(100 + i, i % 2, "https", peer, "bulk.example", "h2", "ktls",
                                   7300.0 + i, i * 1000))

    # ------------------------------------------------------------ commands
    def status(self, args):
        return {"version": "0.1.0", "pid": 1234, "uptime_seconds": 86.2, "workers": 2,
                "config": "/etc/ktlsd/ktlsd.conf", "generation": self.generation,
                "draining": self.draining, "listeners": len(self.listeners),
                "connections": len(self.conns),
                "ktls": {"available": True, "kernel": "6.1.0-26-amd64", "reason": None}}

    def stats(self, args):
        cum, buckets = 0, []
        per = [3, 37, 50, 20, 5, 2, 1, 0, 0, 0, 0, 0, 0, 0]
        for b, n in zip(BOUNDS, per):
            cum += n
            buckets.append([b, cum])
        buckets.append(["+Inf", cum])
        slow = [[b, 0] for b in BOUNDS] + [["+Inf", 0]]
        return {
            "uptime_seconds": 86.2, "workers": 2,
            "counters": {"connections_accepted": 120, "handshakes_completed": 118,
                         "bytes_from_clients": 65536, "bytes_to_clients": 1073741824},
            "connections_active": {"handshake": 1, "ktls": 14, "userspace": 2},
            "listeners": {"https": {
                "handshakes": {"full": 40, "resumed": 78},
                "handshake_failures": {"timeout": 1, "closed": 0, "alert": 0,
                                       "no_shared_cipher": 1, "protocol": 0, "sni_refused": 0,
                                       "backend_refused": 0, "internal": 0},
                "resume_misses": {"unknown_key": 0, "bad_ticket": 0, "cache": 0, "expired": 2,
                                  "mismatch": 0},
                "early_data": {"accepted": 0, "rejected": 0, "replayed": 0}}},
            "histograms": {
                "handshake_duration_seconds": {"buckets": buckets, "sum": 0.2213, "count": cum},
                "backend_connect_seconds": {"buckets": slow, "sum": 0.0, "count": 0}},
            "session_cache": {"entries": 78, "capacity": 20480},
            "kernel_tls_stat": None if self.draining else
            {"TlsCurrTxSw": 14, "TlsCurrRxSw": 14, "TlsTxSw": 90, "TlsRxSw": 90,
             "TlsDecryptError": 0},
            "sockets": {"tcp": 33, "ulp_tls": 14, "tls_tx_sw": 14, "tls_rx_sw": 14,
                        "tls_tx_hw": 0, "tls_rx_hw": 0, "rtt_avg_us": 52, "retransmits": 0,
                        "bytes_acked": 123456, "bytes_received": 654321}}

    def metrics(self, args):
        return {"text": "# HELP ktlsd_connections_accepted_total Accepted client connections.\n"
                        "# TYPE ktlsd_connections_accepted_total counter\n"
                        "ktlsd_connections_accepted_total 120\n"
                        "ktlsd_handshake_duration_seconds_bucket{le=\"+Inf\"} 118\n"}

    def kernel(self, args):
        ciphers = []
        for v in ("1.2", "1.3"):
            for c in ("AES-128-GCM", "AES-256-GCM", "CHACHA20-POLY1305"):
                ciphers.append({"version": v, "cipher": c, "tx": True, "tx_error": None,
                                "rx": c != "CHACHA20-POLY1305",
                                "rx_error": "ENOPROTOOPT" if c == "CHACHA20-POLY1305" else None})
        return {"kernel": "6.1.0-26-amd64", "available": True, "ulp": True, "ulp_error": None,
                "tls_stat": True, "ciphers": ciphers, "rx_expect_no_pad": True,
                "rx_expect_no_pad_error": None, "tx_zerocopy_ro": False,
                "tx_zerocopy_ro_error": "EINVAL", "uring_splice": False,
                "uring_splice_error": None}

    def reload(self, args):
        if self.reload_fails:
            raise Error("failed", "/etc/ktlsd/ktlsd.conf:12: listener \"https\": no such "
                                  "profile \"nope\"")
        self.generation += 1
        return {"generation": self.generation}

    def drain(self, args):
        self.draining = True
        for lst in self.listeners:
            lst["accepting"] = False
        return {"draining": True, "connections": len(self.conns)}

    def sessions_flush(self, args):
        return {"flushed": 78}

    def conns_(self, args):
        out = []
        for c in self.conns:
            if "listener" in args and c["listener"] != args["listener"]:
                continue
            if "sni" in args and c["sni"] != args["sni"]:
                continue
            if "path" in args and c["path"] != args["path"]:
                continue
            if "peer" in args and args["peer"] not in c["peer"]:
                continue
            if "min_age" in args and c["age_seconds"] < args["min_age"]:
                continue
            out.append(c)
        limit = args.get("limit", 10000)
        return {"conns": out[:limit], "total": len(out), "truncated": len(out) > limit}

    def kill(self, args):
        for c in self.conns:
            if c["id"] == args["id"]:
                self.conns.remove(c)
                return {"killed": args["id"]}
        raise Error("not_found", "no connection %d" % args["id"])

    PROFILES = [
        {"name": "default", "tickets": "stateless", "source": "memory", "rotation_seconds": 3600,
         "keys": [{"id": "1a2b3c4d", "age_seconds": 12.0, "encrypts": True},
                  {"id": "0badcafe", "age_seconds": 3612.5, "encrypts": False}]},
        {"name": "files", "tickets": "stateless", "source": "files", "rotation_seconds": None,
         "keys": [{"id": "5e6f7a8b", "age_seconds": 90000.0, "encrypts": True}]},
    ]

    def profiles(self, args):
        if "profile" not in args:
            return self.PROFILES
        for p in self.PROFILES:
            if p["name"] == args["profile"]:
                return [p]
        raise Error("not_found", "no profile \"%s\"" % args["profile"])

    def tickets_show(self, args):
        return {"profiles": self.profiles(args)}

    def tickets_rotate(self, args):
        ps = self.profiles(args)
        if "profile" in args and ps[0]["source"] == "files":
            raise Error("conflict", "profile \"files\" takes its keys from ticket_key_files: "
                                    "rotate the files instead")
        return {"rotated": [{"name": p["name"], "id": "9f8e7d6c"} for p in ps
                            if p["source"] == "memory"]}

    def listeners_list(self, args):
        return {"listeners": self.listeners}

    def listeners_add(self, args):
        text = args["config"]
        name, listen = libconfig_string(text, "name"), libconfig_string(text, "listen")
        backend = libconfig_string(text, "backend")
        if not text.lstrip().startswith("{") or not text.rstrip().endswith("}") or not listen \
                or not backend:
            raise Error("bad_request", "<control>:1: not a listener group")
        name = name or listen
        if any(lst["name"] == name for lst in self.listeners):
            raise Error("conflict", "listener \"%s\" exists" % name)
        self.listeners.append({"name": name, "listen": listen, "backend": backend,
                               "profiles": ["default"], "connections": 0, "accepting": True,
                               "origin": "runtime"})
        return {"added": name, "listen": listen}

    def listeners_remove(self, args):
        for lst in self.listeners:
            if lst["name"] == args["name"]:
                self.listeners.remove(lst)
                return {"removed": lst["name"], "connections": lst["connections"]}
        raise Error("not_found", "no listener \"%s\"" % args["name"])

    # ------------------------------------------------------------ dispatch
    def handle(self, line):
        """One request line -> (reply object, close the connection?)"""
        rid = None
        try:
            try:
                req = json.loads(line)
            except (ValueError, UnicodeDecodeError) as e:
                raise Error("bad_json", "not JSON: %s" % e)
            if not isinstance(req, dict):
                raise Error("bad_json", "not a JSON object")
            if isinstance(req.get("id"), (str, int)) and not isinstance(req.get("id"), bool):
                rid = req["id"]
            for k in req:
                if k not in ("version", "command", "args", "id"):
                    raise Error("bad_request", "unknown field \"%s\"" % k)
            if "id" in req and rid is None:
                raise Error("bad_request", "id must be a string or an integer")
            v = req.get("version", 1)
            if isinstance(v, bool) or not isinstance(v, int):
                raise Error("bad_request", "version must be an integer")
            if v != 1:
                raise Error("unsupported_version", "version %d is not supported" % v)
            cmd = req.get("command")
            if not isinstance(cmd, str):
                raise Error("bad_request", "command must be a string")
            if cmd not in ARG_TYPES:
                raise Error("unknown_command", "no command \"%s\"" % cmd)
            args = req.get("args", {})
            if not isinstance(args, dict):
                raise Error("bad_request", "args must be an object")
            for k, val in args.items():
                if k not in ARG_TYPES[cmd]:
                    raise Error("bad_request", "%s: unknown argument \"%s\"" % (cmd, k))
                if not type_ok(ARG_TYPES[cmd][k], val):
                    raise Error("bad_request", "%s: bad %s" % (cmd, k))
            for k in REQUIRED.get(cmd, []):
                if k not in args:
                    raise Error("bad_request", "%s: missing argument \"%s\"" % (cmd, k))
            fn = getattr(self, {"conns": "conns_"}.get(cmd, cmd.replace(" ", "_")))
            with self.lock:
                result = fn(args)
            reply = {"version": 1, "ok": True, "result": result}
        except Error as e:
            reply = {"version": 1, "ok": False, "error": {"code": e.code, "message": e.message}}
        if rid is not None:
            reply["id"] = rid
        return reply


def encode(reply):
    return (json.dumps(reply, separators=(",", ":")) + "\n").encode()


class Handler(socketserver.StreamRequestHandler):
    def handle(self):
        srv = self.server
        mode = srv.mode
        if mode == "close":
            return
        if mode == "busy":
            self.wfile.write(encode({"version": 1, "ok": False, "error": {
                "code": "busy", "message": "too many control connections (64)"}}))
            return
        while True:
            line = self.rfile.readline(MAX_REQUEST + 1)
            if not line:
                return
            if srv.log:
                with srv.log_lock, open(srv.log, "ab") as f:
                    f.write(line if line.endswith(b"\n") else line + b"\n")
            if len(line) > MAX_REQUEST or (len(line) == MAX_REQUEST and not line.endswith(b"\n")):
                self.wfile.write(encode({"version": 1, "ok": False, "error": {
                    "code": "too_large", "message": "request longer than 65536 bytes"}}))
                return
            if mode == "silent":
                continue
            reply = srv.state.handle(line)
            data = encode(reply)
            if mode == "garbage":
                data = b"this is not json\n"
            elif mode == "array":
                data = b"[1,2,3]\n"
            elif mode == "no-ok":
                data = encode({"version": 1, "id": reply.get("id"), "result": {}})
            elif mode == "wrong-id":
                reply["id"] = 99
                data = encode(reply)
            elif mode in ("partial", "stall"):
                self.wfile.write(data[:len(data) // 2])
                self.wfile.flush()
                if mode == "partial":
                    return
                while self.rfile.read(1):
                    pass
                return
            elif mode == "trickle":
                for i in range(0, len(data), 7):
                    self.wfile.write(data[i:i + 7])
                    self.wfile.flush()
                    time.sleep(0.002)
                continue
            self.wfile.write(data)
            self.wfile.flush()


class Server(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("socket")
    ap.add_argument("--mode", default="normal",
                    choices=["normal", "silent", "close", "garbage", "array", "no-ok", "wrong-id",
                             "partial", "stall", "busy", "trickle"])
    ap.add_argument("--log")
    ap.add_argument("--conns", type=int, default=0)
    ap.add_argument("--reload-fails", action="store_true")
    a = ap.parse_args()
    try:
        os.unlink(a.socket)
    except FileNotFoundError:
        pass
    srv = Server(a.socket, Handler)
    srv.mode = a.mode
    srv.log = a.log
    srv.log_lock = threading.Lock()
    srv.state = State(a.conns, a.reload_fails)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("fake_control: listening on %s (mode %s)" % (a.socket, a.mode), flush=True)
    try:
        srv.serve_forever()
    finally:
        try:
            os.unlink(a.socket)
        except OSError:
            pass


if __name__ == "__main__":
    main()
