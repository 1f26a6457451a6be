#!/usr/bin/env python3
"""Summarises ab-exp.sh outputs: python3 summarize.py LABEL=FILE... ;
medians (min-max) of each test's rate (gbit/s for stream) and per-program
ns per run over each test (from bpf_stats deltas)."""
import json, statistics, sys
from collections import defaultdict

def parse(path):
    rates, ns = defaultdict(list), defaultdict(list)
    before = {}
    for line in open(path):
        parts = line.split(None, 1)
        if not parts:
            continue
        if parts[0] == "STATS":
            _, tag, name, t, c = line.split()
            test, edge = tag[:-1], tag[-1]
            if edge == "-":
                before[(test, name)] = (int(t), int(c))
            elif (test, name) in before:
                t0, c0 = before.pop((test, name))
                if int(c) > c0:
                    ns[(test, name)].append((int(t) - t0) / (int(c) - c0))
        elif parts[0] in ("masq_crr", "pub_crr", "pub_rr", "pub_stream") and len(parts) > 1:
            try:
                d = json.loads(parts[1])
            except ValueError:
                continue
            rates[parts[0]].append(d["gbit_s"] if parts[0] == "pub_stream" else d["rate"])
    return rates, ns

def fmt(v):
    return "%.1f (%.1f-%.1f, n=%d)" % (statistics.median(v), min(v), max(v), len(v))

runs = {}
for arg in sys.argv[1:]:
    label, path = arg.split("=", 1)
    rates, ns = defaultdict(list), defaultdict(list)
    for p in path.split(","):
        r, n = parse(p)
        for k, v in r.items(): rates[k] += v
        for k, v in n.items(): ns[k] += v
    runs[label] = (rates, ns)
labels = list(runs)
for test in ("masq_crr", "pub_crr", "pub_rr", "pub_stream"):
    print(test, " | ".join("%s %s" % (l, fmt(runs[l][0][test])) for l in labels if runs[l][0][test]))
keys = sorted({k for l in labels for k in runs[l][1]})
for k in keys:
    print("ns/run", k[0], k[1], " | ".join("%s %s" % (l, fmt(runs[l][1][k])) for l in labels if runs[l][1][k]))
