#!/usr/bin/env python3
"""Summarises prog_ab.py results (python3 prog_ab_summary.py FILE...):
per test and program, the median ns/run (min-max) of each variant, and
the median [min..max] of the per-round differences to the base variant
(knob value 0 when present, else the first variant run); the same for
the rate. Files are taken as consecutive rounds."""
import json, sys, statistics as st
from collections import defaultdict

recs = []
for f in sys.argv[1:]:
    offset = 1 + max((r["round"] for r in recs), default=-1)
    for line in open(f):
        if line.strip():
            r = json.loads(line)
            r["round"] += offset
            recs.append(r)
base = recs[0]["variant"] if not any(r["variant"] in (0, "0") for r in recs) else 0
variants = []
for r in recs:
    if r["variant"] not in variants:
        variants.append(r["variant"])
ns = defaultdict(dict)   # (test, prog, variant) -> {round: ns}
rate = defaultdict(dict)
for r in recs:
    for prog, (v, runs) in r["ns"].items():
        ns[(r["test"], prog, r["variant"])][r["round"]] = v
    if isinstance(r["rate"], (int, float)):
        rate[(r["test"], r["variant"])][r["round"]] = r["rate"]


def fmt(vals):
    return f"{st.median(vals):7.0f} ({min(vals):.0f}-{max(vals):.0f})"


tests = sorted({r["test"] for r in recs})
progs = sorted({p for r in recs for p in r["ns"]})
print(f"base variant: {base}; rounds: {len({r['round'] for r in recs})}")
for t in tests:
    for p in progs:
        row = []
        for v in variants:
            d = ns.get((t, p, v))
            if not d:
                continue
            b = ns.get((t, p, base), {})
            diffs = [100.0 * (d[k] - b[k]) / b[k] for k in d if k in b]
            dtxt = (f" d={st.median(diffs):+5.1f}% [{min(diffs):+.1f}..{max(diffs):+.1f}]"
                    if v != base and diffs else "")
            row.append(f"{v}: {fmt(list(d.values()))}{dtxt}")
        if row:
            print(f"{t:9} {p:18} " + " | ".join(row))
    row = []
    for v in variants:
        d = rate.get((t, v))
        if not d:
            continue
        b = rate.get((t, base), {})
        diffs = [100.0 * (d[k] - b[k]) / b[k] for k in d if k in b]
        dtxt = f" d={st.median(diffs):+5.1f}%" if v != base and diffs else ""
        row.append(f"{v}: {st.median(d.values()):.0f} ({min(d.values()):.0f}-{max(d.values()):.0f}){dtxt}")
    if row:
        print(f"{t:9} {'rate':18} " + " | ".join(row))
