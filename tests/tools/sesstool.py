#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""sesstool.py - look into (and damage) the TLS sessions openssl s_client saves.

`openssl s_client -sess_out FILE` writes a PEM "SSL SESSION PARAMETERS" block: the
DER of OpenSSL's SSL_SESSION_ASN1 (ssl/ssl_asn1.c):

    SEQUENCE {
      version INTEGER, ssl_version INTEGER, cipher OCTET STRING,
      session_id OCTET STRING, master_key OCTET STRING,
      key_arg [0] IMPLICIT OCTET STRING OPTIONAL,
      time [1] EXPLICIT INTEGER OPTIONAL, timeout [2] EXPLICIT INTEGER OPTIONAL,
      peer [3] EXPLICIT Certificate OPTIONAL,
      session_id_context [4] EXPLICIT OCTET STRING OPTIONAL,
      verify_result [5] EXPLICIT INTEGER OPTIONAL,
      tlsext_hostname [6] EXPLICIT OCTET STRING OPTIONAL,
      psk_identity_hint [7], psk_identity [8],
      tlsext_tick_lifetime_hint [9] EXPLICIT INTEGER OPTIONAL,
      tlsext_tick [10] EXPLICIT OCTET STRING OPTIONAL,
      comp_id [11], srp_username [12], flags [13], tick_age_add [14],
      max_early_data [15] EXPLICIT INTEGER OPTIONAL (absent: 0), alpn_selected [16],
      tick_nonce [17], max_fragment_len_mode [18], ticket_appdata [19]
    }

The ticket ([10]) is whatever the server sent; a server that encrypts tickets the
RFC 5077 way (OpenSSL's own format, nginx's key files) starts it with the 16-byte
key name, then a 16-byte IV, the encrypted state and a 32-byte HMAC.

    sesstool.py info FILE               one JSON line: protocol, session_id, ticket_len,
                                        key_name (hex of ticket[0:16]), key_id (its first
                                        4 bytes), lifetime_hint, timeout, max_early_data
    sesstool.py ticket FILE             the ticket as hex ("" if none)
    sesstool.py tamper IN OUT [OFFSET]  flips every bit of the ticket byte at OFFSET
                                        (default: in the encrypted state, after name and
                                        IV: 32 + (len - 64) // 2) and writes the session
    sesstool.py set-hint IN OUT SECONDS sets the ticket lifetime hint (and the session
                                        timeout) a client trusts, so that it offers a
                                        ticket the server should consider expired
Exit 0 on success, 1 with a message otherwise.
"""

import base64
import json
import re
import sys

PEM_RE = re.compile(rb"-----BEGIN SSL SESSION PARAMETERS-----(.*?)-----END SSL SESSION PARAMETERS-----",
                    re.S)


def die(msg):
    print("sesstool: " + msg, file=sys.stderr)
    sys.exit(1)


def read_session(path):
    data = open(path, "rb").read()
    m = PEM_RE.search(data)
    if not m:
        die("%s: no SSL SESSION PARAMETERS PEM block" % path)
    return base64.b64decode(b"".join(m.group(1).split()))


def write_session(path, der):
    b64 = base64.b64encode(der).decode()
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    with open(path, "w") as f:
        f.write("-----BEGIN SSL SESSION PARAMETERS-----\n")
        f.write("\n".join(lines) + "\n")
        f.write("-----END SSL SESSION PARAMETERS-----\n")


# ---------------------------------------------------------------- a small DER walker
def read_tlv(buf, off):
    """-> (tag byte, content start, content end) of the TLV at off (single-byte tags)."""
    if off + 2 > len(buf):
        die("truncated DER at %d" % off)
    tag = buf[off]
    if tag & 0x1F == 0x1F:
        die("multi-byte DER tag at %d" % off)
    ln = buf[off + 1]
    p = off + 2
    if ln & 0x80:
        n = ln & 0x7F
        if n == 0 or n > 4 or p + n > len(buf):
            die("bad DER length at %d" % off)
        ln = int.from_bytes(buf[p:p + n], "big")
        p += n
    if p + ln > len(buf):
        die("DER element at %d overruns its container" % off)
    return tag, p, p + ln


def enc_len(n):
    if n < 0x80:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(b)]) + b


def enc_tlv(tag, content):
    return bytes([tag]) + enc_len(len(content)) + content


def enc_int(v):
    b = v.to_bytes(max(1, (v.bit_length() + 8) // 8), "big", signed=True)
    return enc_tlv(0x02, b)


def parse_session(der):
    """-> list of [tag, content bytes] of the top-level SEQUENCE's elements."""
    tag, s, e = read_tlv(der, 0)
    if tag != 0x30:
        die("not a SEQUENCE")
    out = []
    off = s
    while off < e:
        t, cs, ce = read_tlv(der, off)
        out.append([t, der[cs:ce]])
        off = ce
    return out


def build_session(elems):
    return enc_tlv(0x30, b"".join(enc_tlv(t, c) for t, c in elems))


def find(elems, tag):
    for el in elems:
        if el[0] == tag:
            return el
    return None


def explicit_inner(content):
    """The one TLV inside an EXPLICIT [n]: -> (tag, value bytes)."""
    t, s, e = read_tlv(content, 0)
    return t, content[s:e]


def ctx_int(elems, n):
    el = find(elems, 0xA0 | n)
    if el is None:
        return None
    t, v = explicit_inner(el[1])
    if t != 0x02:
        die("[%d] is not an INTEGER" % n)
    return int.from_bytes(v, "big", signed=True)


def ticket_of(elems):
    el = find(elems, 0xAA)  # [10] EXPLICIT OCTET STRING
    if el is None:
        return b""
    t, v = explicit_inner(el[1])
    if t != 0x04:
        die("[10] is not an OCTET STRING")
    return v


PROTOS = {0x0303: "TLSv1.2", 0x0304: "TLSv1.3", 0x0302: "TLSv1.1", 0x0301: "TLSv1"}


def info(elems):
    universal = [el for el in elems if el[0] < 0x80]
    ssl_version = int.from_bytes(universal[1][1], "big") if len(universal) > 1 else 0
    sid = universal[3][1] if len(universal) > 3 else b""
    tick = ticket_of(elems)
    return {
        "protocol": PROTOS.get(ssl_version, hex(ssl_version)),
        "session_id": sid.hex(),
        "ticket_len": len(tick),
        "key_name": tick[:16].hex() if len(tick) >= 16 else "",
        "key_id": tick[:4].hex() if len(tick) >= 4 else "",
        "lifetime_hint": ctx_int(elems, 9),
        "timeout": ctx_int(elems, 2),
        "max_early_data": ctx_int(elems, 15) or 0,
    }


def main():
    a = sys.argv[1:]
    if not a or a[0] in ("-h", "--help"):
        print(__doc__)
        return
    cmd = a[0]
    if cmd == "info" and len(a) == 2:
        print(json.dumps(info(parse_session(read_session(a[1]))), sort_keys=True))
    elif cmd == "ticket" and len(a) == 2:
        print(ticket_of(parse_session(read_session(a[1]))).hex())
    elif cmd == "tamper" and len(a) in (3, 4):
        elems = parse_session(read_session(a[1]))
        tick = bytearray(ticket_of(elems))
        if len(tick) < 8:
            die("%s has no ticket to tamper with (%d bytes)" % (a[1], len(tick)))
        off = int(a[3]) if len(a) == 4 else (32 + (len(tick) - 64) // 2 if len(tick) > 96
                                             else len(tick) // 2)
        if not 0 <= off < len(tick):
            die("offset %d outside the %d-byte ticket" % (off, len(tick)))
        tick[off] ^= 0xFF
        find(elems, 0xAA)[1] = enc_tlv(0x04, bytes(tick))
        write_session(a[2], build_session(elems))
        print("tampered byte %d of a %d-byte ticket" % (off, len(tick)))
    elif cmd == "set-hint" and len(a) == 4:
        elems = parse_session(read_session(a[1]))
        secs = int(a[3])
        for n in (9, 2):
            el = find(elems, 0xA0 | n)
            if el is None:
                die("%s has no [%d] field" % (a[1], n))
            el[1] = enc_int(secs)
        write_session(a[2], build_session(elems))
    else:
        die("usage: see sesstool.py --help")


if __name__ == "__main__":
    main()
