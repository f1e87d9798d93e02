#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""tlsclients.py - many concurrent TLS clients against an echo service.

    tlsclients.py --port P --ca CA.crt [--host 127.0.0.1] [--sni localhost]
                  [-n 200] [--min-size 1] [--max-size 262144] [--timeout 60]
                  [--seed 1] [--hold SECONDS]

Opens N TLS connections at once (python's ssl module over asyncio, verifying
the server against CA.crt and --sni), waits until every handshake is done
(so all N are open at the same time), then each connection sends its own
pseudo-random payload (size drawn in [min, max]) while reading, and checks
that it gets back exactly its own bytes.  Prints one line per failure and a
summary "clients: N ok, N failed, max open N, T s, B bytes" (B: the payload
bytes of the successful clients, each sent once and echoed once); exits 0 only
if all succeeded.  Every step is bounded by --timeout.  --hold SECONDS keeps
every connection open that long after the last client has checked its echo (so
a test can look at all of them at once).
"""

import argparse
import asyncio
import hashlib
import random
import ssl
import sys
import time

CHUNK = 16384


async def one(i, args, ctx, all_connected, state, all_done):
    rng = random.Random(args.seed * 1000003 + i)
    size = rng.randint(args.min_size, args.max_size)
    payload = rng.randbytes(size)
    writer = None
    counted = False

    def finish():
        nonlocal counted
        if not counted:
            counted = True
            state["done"] += 1
            if state["done"] == args.n:
                all_done.set()

    try:
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection(args.host, args.port, ssl=ctx, server_hostname=args.sni),
            args.timeout)
        state["open"] += 1
        state["max_open"] = max(state["max_open"], state["open"])
        state["connected"] += 1
        if state["connected"] == args.n:
            all_connected.set()
        await asyncio.wait_for(all_connected.wait(), args.timeout)

        async def send():
            for off in range(0, size, CHUNK):
                writer.write(payload[off:off + CHUNK])
                await writer.drain()

        async def recv():
            got = bytearray()
            while len(got) < size:
                d = await reader.read(65536)
                if not d:
                    raise EOFError("EOF after %d of %d echoed bytes" % (len(got), size))
                if d != payload[len(got):len(got) + len(d)]:
                    raise ValueError("echo differs from what was sent at offset %d..%d"
                                     % (len(got), len(got) + len(d)))
                got += d
            return bytes(got)

        _, got = await asyncio.wait_for(asyncio.gather(send(), recv()), args.timeout)
        if hashlib.sha256(got).digest() != hashlib.sha256(payload).digest():
            raise ValueError("echo sha256 mismatch")
        state["bytes"] += size
        finish()
        if args.hold > 0:
            await asyncio.wait_for(all_done.wait(), args.timeout)
            await asyncio.sleep(args.hold)
        return None
    except Exception as e:  # noqa: BLE001 - report every failure
        return "client %d (%d bytes): %s: %s" % (i, size, type(e).__name__, e)
    finally:
        finish()
        if writer is not None:
            state["open"] -= 1
            writer.close()
            try:
                await asyncio.wait_for(writer.wait_closed(), 5)
            except Exception:  # noqa: BLE001
                pass


async def main_async(args):
    ctx = ssl.create_default_context(cafile=args.ca)
    all_connected = asyncio.Event()
    all_done = asyncio.Event()
    state = {"open": 0, "max_open": 0, "connected": 0, "done": 0, "bytes": 0}
    t0 = time.monotonic()
    tasks = [one(i, args, ctx, all_connected, state, all_done) for i in range(args.n)]
    results = await asyncio.gather(*tasks)
    errors = [r for r in results if r]
    for e in errors[:50]:
        print(e)
    if len(errors) > 50:
        print("... and %d more failures" % (len(errors) - 50))
    print("clients: %d ok, %d failed, max open %d, %.1f s, %d bytes"
          % (args.n - len(errors), len(errors), state["max_open"], time.monotonic() - t0,
             state["bytes"]))
    return 0 if not errors else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--sni", default="localhost")
    ap.add_argument("-n", type=int, default=200)
    ap.add_argument("--min-size", type=int, default=1)
    ap.add_argument("--max-size", type=int, default=256 * 1024)
    ap.add_argument("--timeout", type=float, default=60.0)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--hold", type=float, default=0.0)
    args = ap.parse_args()
    sys.exit(asyncio.run(main_async(args)))


if __name__ == "__main__":
    main()
