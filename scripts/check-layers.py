#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""check-layers.py - daemon/'s calls and includes go down the layers, never round.

    scripts/check-layers.py [-v] BUILD_DIR

The layers are daemon/'s folders, bottom first (daemon/README.md says what each owns):

    util < config < core < tls < data < services < daemon/ itself (main.c, runtime.c, ...)

A file may call into, and include headers of, its own folder or the folders below it.
Calls are read from the object files the build made ($BUILD_DIR/daemon/**/*.o): a file
calls another when it uses a symbol the other defines (`nm`), so static inline helpers
and function pointers filled in by an upper layer (struct conn_ops, worker hooks, the
services' env structs) are not calls. Includes are read from the sources.

Checked: no call goes up a layer; no two files call each other, directly or round a
cycle (within a folder too); no header is included from a lower layer; no include
cycle. Each layer has one header for what it exports (core/core.h, tls/tls.h,
data/data.h, services/services.h, runtime.h) besides the leaf headers of single modules.

Exit status: 0 clean, 1 a rule is broken (each breach printed), 2 usage or no objects.
"""
import collections
import glob
import os
import re
import subprocess
import sys

LAYERS = ["util", "config", "core", "tls", "data", "services", ""]
# Headers allowed to be included from below their layer (none).
INCLUDE_EXEMPT = set()


def layer_of(path):
    """Rank of a path under daemon/ ("daemon/core/conn.c" -> 2, "daemon/main.c" -> 6)."""
    parts = path.split("/")
    folder = parts[1] if len(parts) > 2 else ""
    if folder not in LAYERS:
        raise SystemExit(f"check-layers: {path}: folder {folder!r} is not a layer {LAYERS[:-1]}")
    return LAYERS.index(folder)


def call_graph(root, build):
    defs, uses = {}, {}
    objs = sorted(glob.glob(os.path.join(build, "daemon", "**", "*.o"), recursive=True))
    for o in objs:
        src = "daemon/" + os.path.relpath(o, os.path.join(build, "daemon"))[:-2] + ".c"
        if not os.path.isfile(os.path.join(root, src)):
            continue  # left over from a source that moved or went away
        out = subprocess.run(["nm", o], capture_output=True, text=True, check=True).stdout
        uses[src] = set()
        for line in out.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "TDBRG":
                defs[f[2]] = src
            elif len(f) == 2 and f[0] == "U":
                uses[src].add(f[1])
    edges = collections.defaultdict(dict)
    for src, syms in uses.items():
        for s in sorted(syms):
            dst = defs.get(s)
            if dst and dst != src:
                edges[src].setdefault(dst, s)
    return list(uses), edges


def include_graph(root):
    files = sorted(glob.glob(os.path.join(root, "daemon", "**", "*.[ch]"), recursive=True))
    rel = [os.path.relpath(f, root) for f in files]
    by_name = {}
    for r in rel:
        by_name.setdefault(os.path.basename(r), r)
    edges = collections.defaultdict(dict)
    for r in rel:
        with open(os.path.join(root, r), encoding="utf-8") as fh:
            for n, line in enumerate(fh, 1):
                m = re.match(r'\s*#\s*include\s+"([^"]+)"', line)
                if m and os.path.basename(m.group(1)) in by_name:
                    edges[r].setdefault(by_name[os.path.basename(m.group(1))], n)
    return rel, edges


def cycles(nodes, edges):
    """Strongly connected components of more than one node (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for root in nodes:
        if root in index:
            continue
        work = [(root, iter(sorted(edges.get(root, {}))))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, {})))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def main(argv):
    verbose = "-v" in argv
    args = [a for a in argv if a != "-v"]
    if len(args) != 1:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    nodes, calls = call_graph(root, args[0])
    if not nodes:
        print(f"check-layers: no objects under {args[0]}/daemon (build first)", file=sys.stderr)
        return 2
    bad = 0
    n_calls = 0
    for src in sorted(calls):
        for dst, sym in sorted(calls[src].items()):
            n_calls += 1
            if layer_of(dst) > layer_of(src):
                print(f"upward call: {src} -> {dst} ({sym})")
                bad += 1
            elif verbose:
                print(f"call: {src} -> {dst} ({sym})")
    for comp in cycles(nodes, calls):
        print("call cycle: " + " <-> ".join(comp))
        bad += 1
    files, incs = include_graph(root)
    n_incs = 0
    for src in sorted(incs):
        for hdr, line in sorted(incs[src].items()):
            n_incs += 1
            if hdr in INCLUDE_EXEMPT:
                continue
            if layer_of(hdr) > layer_of(src):
                print(f"upward include: {src}:{line}: {hdr}")
                bad += 1
    for comp in cycles(files, incs):
        print("include cycle: " + " <-> ".join(comp))
        bad += 1
    print(f"check-layers: {len(nodes)} object files, {n_calls} file-to-file calls, "
          f"{n_incs} includes; {bad} breach(es) of the layering "
          f"({' < '.join(l or 'daemon/' for l in LAYERS)})")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
