#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""promcheck.py - check Prometheus text exposition (format 0.0.4) with a real parser.

    promcheck.py [FILE] [--expect NAME]... [--expect-label NAME=VALUE]...

Reads FILE (or stdin) and parses it with prometheus_client's parser
(text_string_to_metric_families, Debian package python3-prometheus-client). Then:
  - every family has HELP and TYPE, appears once, and has at least one sample;
  - every sample name is a valid metric name;
  - counters are >= 0;
  - histograms, per label set: bucket bounds increase, counts never decrease, the last
    bucket is le="+Inf" and equals _count;
  - --expect NAME: a family NAME exists (a counter may be named with or without _total,
    the parser drops the suffix);
  - --expect-label NAME=VALUE: some sample has label NAME with exactly VALUE, as decoded
    by the parser (so escapes are checked).
Problems go to stderr, one per line; then one summary line on stdout.
Exit status 0 if all is well, 1 otherwise (2 for bad usage or no parser).
"""
import argparse
import math
import re
import sys

NAME_RE = re.compile(r"^[a-zA-Z_:][a-zA-Z0-9_:]*$")


def check_histogram(fam, problems):
    """Buckets of each label set: increasing bounds, cumulative counts, +Inf == _count."""
    groups = {}
    for s in fam.samples:
        labels = {k: v for k, v in s.labels.items() if k != "le"}
        g = groups.setdefault(tuple(sorted(labels.items())), {"buckets": [], "count": None})
        if s.name == fam.name + "_bucket":
            if "le" not in s.labels:
                problems.append(f"{fam.name}: bucket without le")
                continue
            g["buckets"].append((float(s.labels["le"]), s.labels["le"], s.value))
        elif s.name == fam.name + "_count":
            g["count"] = s.value
    for key, g in groups.items():
        where = fam.name + ("{" + ",".join(f"{k}={v}" for k, v in key) + "}" if key else "")
        b = g["buckets"]
        if not b:
            problems.append(f"{where}: no buckets")
            continue
        for (le0, _, v0), (le1, s1, v1) in zip(b, b[1:]):
            if le1 <= le0:
                problems.append(f"{where}: bucket le={s1} not above the previous bound")
            if v1 < v0:
                problems.append(f"{where}: bucket le={s1} count {v1} below the previous {v0}")
        if not math.isinf(b[-1][0]) or b[-1][0] < 0:
            problems.append(f'{where}: last bucket is le="{b[-1][1]}", not +Inf')
        elif g["count"] is None:
            problems.append(f"{where}: no _count")
        elif g["count"] != b[-1][2]:
            problems.append(f"{where}: +Inf bucket {b[-1][2]} != _count {g['count']}")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", nargs="?", help="exposition text (default: stdin)")
    ap.add_argument("--expect", action="append", default=[], metavar="NAME")
    ap.add_argument("--expect-label", action="append", default=[], metavar="NAME=VALUE")
    args = ap.parse_args()
    try:
        from prometheus_client.parser import text_string_to_metric_families
    except ImportError as e:
        print(f"promcheck: no prometheus_client ({e}); install python3-prometheus-client")
        return 2
    if args.file:
        with open(args.file, encoding="utf-8") as f:
            text = f.read()
    else:
        text = sys.stdin.read()

    problems = []
    try:
        families = list(text_string_to_metric_families(text))
    except Exception as e:  # the parser raises ValueError and others on bad text
        print(f"promcheck: FAIL: the parser refused the text: {e}")
        return 1

    seen = set()
    n_samples = 0
    for fam in families:
        if fam.name in seen:
            problems.append(f"{fam.name}: family appears more than once")
        seen.add(fam.name)
        if fam.type in ("unknown", "untyped"):
            problems.append(f"{fam.name}: no TYPE line (or a sample outside its family)")
        if not fam.documentation:
            problems.append(f"{fam.name}: no HELP text")
        if not fam.samples:
            problems.append(f"{fam.name}: family without samples")
        n_samples += len(fam.samples)
        for s in fam.samples:
            if not NAME_RE.match(s.name):
                problems.append(f"{s.name}: invalid metric name")
            if fam.type == "counter" and not s.value >= 0:
                problems.append(f"{s.name}: counter value {s.value}")
        if fam.type == "histogram":
            check_histogram(fam, problems)

    for name in args.expect:
        if name not in seen and not (name.endswith("_total") and name[:-6] in seen):
            problems.append(f"{name}: expected family missing")
    for spec in args.expect_label:
        lname, _, value = spec.partition("=")
        if not any(s.labels.get(lname) == value for fam in families for s in fam.samples):
            problems.append(f"no sample with label {lname}={value!r}")

    for p in problems:
        print(f"promcheck: {p}", file=sys.stderr)
    n_hist = sum(1 for f in families if f.type == "histogram")
    if problems:
        print(f"promcheck: FAIL: {len(problems)} problem(s), first: {problems[0]}")
        return 1
    print(f"promcheck: ok: {len(families)} families ({n_hist} histograms), {n_samples} samples")
    return 0


if __name__ == "__main__":
    sys.exit(main())
