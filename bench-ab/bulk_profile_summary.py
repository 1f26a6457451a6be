#!/usr/bin/env python3
"""Summarises bulk_profile.py runs:
python3 bulk_profile_summary.py [--per-cpu] RUNS.jsonl...

Per path: Gbit/s, CPU ms per GB moved (counted samples, see
perf_buckets.py), CPUs busy, receive-side skbs and softirq packets per
GB; then ms/GB per stage, leaf kind and hop (inclusive), medians
(min-max) over the rounds, and the median [min..max] of the per-round
differences published - direct; then the leaf functions that differ most.
"""
import json
import re
import statistics as st
import sys
from collections import defaultdict

PER_CPU = "--per-cpu" in sys.argv
runs = []
for path in [a for a in sys.argv[1:] if a != "--per-cpu"]:
    offset = 1 + max((r["round"] for r in runs), default=-1)
    for line in open(path):
        if line.strip():
            rec = json.loads(line)
            rec["round"] += offset
            runs.append(rec)
if not runs:
    sys.exit("no runs")
paths = [p for p in ("direct", "published") if any(r["path"] == p for r in runs)]
by = {p: {r["round"]: r for r in runs if r["path"] == p} for p in paths}
paired = sorted(set.intersection(*(set(v) for v in by.values())))


def per_gb(rec, ns):
    return ns / 1e6 / (rec["bytes"] / 1e9)


def fmt(vals, digits=1):
    return f"{st.median(vals):.{digits}f} ({min(vals):.{digits}f}-{max(vals):.{digits}f})"


def row(title, fn, digits=1):
    cells = [fmt([fn(r) for r in by[p].values()], digits) for p in paths]
    diff = ""
    if len(paths) == 2 and paired:
        d = [fn(by["published"][k]) - fn(by["direct"][k]) for k in paired]
        diff = f"{st.median(d):+.{digits}f} [{min(d):+.{digits}f}..{max(d):+.{digits}f}]"
    print(f"| {title} | " + " | ".join(cells) + (f" | {diff} |" if diff else " |"))


def skb_bytes(rec):
    """Mean bytes per skb at the receiving container's (server's) eth0."""
    rx = [v for k, v in rec["rx"].items() if k.endswith("/eth0")][0]
    return rx["bytes"] / max(rx["packets"], 1)


SIDES = ("send", "recv", "rest")


def layout(rec):
    """"1" when the client's send and the server's receive ran mostly on
    one CPU, "2" when on two."""
    cpus = rec.get("cpus", {})
    top = {}
    for side in ("send", "recv"):
        per = {k.split()[0]: v for k, v in cpus.items() if k.split()[1:] == [side]}
        top[side] = max(per, key=per.get) if per else None
    return "1" if top["send"] == top["recv"] else "2"


head = " | ".join(paths) + (" | published - direct, per round" if len(paths) == 2 else "")
print(f"{len(runs)} runs, {len(paired)} rounds with every path; pinning: "
      f"{sorted({r.get('pin') or 'none' for r in runs})}")
for p in paths:
    print(f"  {p}: CPUs of send and receive per round: "
          + " ".join(layout(by[p][k]) for k in sorted(by[p])))
print()
print(f"| per run | {head} |")
print("|---|" + "---|" * (len(paths) + (len(paths) == 2)))
row("Gbit/s", lambda r: r["gbit_s"])
row("CPU counted, ms per GB", lambda r: per_gb(r, r["totals"].get("counted", 0)))
row("CPUs busy with the run", lambda r: r["totals"].get("counted", 0) / 1e9 / r["seconds"], 2)
row("others' CPU (s per s)", lambda r: r["totals"].get("other", 0) / 1e9 / r["seconds"], 2)
row("bytes per skb at the server's eth0", skb_bytes, 0)
row("softirq packets per MB", lambda r: r["softnet_packets"] / (r["bytes"] / 1e6), 2)
cpu_ids = sorted({k.split()[0] for r in runs for k in r.get("cpus", {})})
for cpu in cpu_ids:
    row(f"CPU {cpu}: counted, ms per GB", lambda r, c=cpu: per_gb(r, sum(
        v for k, v in r["cpus"].items() if k.split()[0] == c and k.split()[1] in SIDES)))
for section in ("stage", "kind", "hops"):
    names = defaultdict(float)
    for r in runs:
        for k, v in r[section].items():
            names[k] += v
    print(f"\n| {section}, ms per GB | {head} |")
    print("|---|" + "---|" * (len(paths) + (len(paths) == 2)))
    for name in sorted(names, key=lambda k: -names[k]):
        row(name, lambda r, n=name: per_gb(r, r[section].get(n, 0)))
        if section == "stage" and PER_CPU:
            for cpu in cpu_ids:
                key = f"{cpu} stage {name}"
                row(f"  on CPU {cpu}", lambda r, k=key: per_gb(r, r.get("cpus", {}).get(k, 0)))

# The published path's own work, by leaf function (overlaps the stages).
GROUPS = [
    ("programs (JIT code)", r"^bpf_prog_"),
    ("packet stores (bpf_skb_store_bytes, skb_ensure_writable)",
     r"^(bpf_skb_store_bytes|skb_ensure_writable)$"),
    ("memcpy (skb_load/store_bytes; skb_try_coalesce in both)", r"^__pi_memcpy|^memcpy"),
    ("checksum helpers", r"^(bpf_l[34]_csum_replace|inet_proto_csum_replace\w*)$"),
    ("map lookups (hash)", r"^(lookup_nulls_elem_raw|htab_\w+|__htab_\w+|bpf_map_lookup_elem|"
                           r"trie_\w+|jhash\w*)$"),
    ("packet loads (bpf_skb_load_bytes)", r"^(bpf_skb_load_bytes|skb_header_pointer)$"),
    ("redirect (skb_do_redirect, dev_get_by_index_rcu)",
     r"^(skb_do_redirect|dev_get_by_index_rcu|bpf_redirect\w*|__bpf_redirect\w*|skb_scrub_packet)$"),
    ("receive round (__netif_receive_skb_core)", r"^__netif_receive_skb\w*$"),
    ("transmit (__dev_queue_xmit, netif_skb_features, validate_xmit)",
     r"^(__dev_queue_xmit|netif_skb_features|validate_xmit\w*|dev_hard_start_xmit)$"),
]


def group(rec, rx):
    return per_gb(rec, sum(v for k, v in rec["leaf"].items() if re.match(rx, k)))


print(f"\n| leaf groups, ms per GB | {head} |")
print("|---|" + "---|" * (len(paths) + (len(paths) == 2)))
for name, rx in GROUPS:
    row(name, lambda r, x=rx: group(r, x))

if len(paths) == 2 and paired:
    print("\nleaf functions, ms per GB: median per-round difference (published - direct)")
    leaves = {n for r in runs for n in r["leaf"]}
    diffs = []
    for n in leaves:
        d = [per_gb(by["published"][k], by["published"][k]["leaf"].get(n, 0))
             - per_gb(by["direct"][k], by["direct"][k]["leaf"].get(n, 0)) for k in paired]
        diffs.append((st.median(d), min(d), max(d), n))
    diffs.sort(key=lambda x: -abs(x[0]))
    for med, lo, hi, n in diffs[:25]:
        print(f"  {n:45} {med:+7.1f} [{lo:+.1f}..{hi:+.1f}]")
