#!/usr/bin/env python3
# Usage: python3 bench-ab/gap_vs_programs.py [docs/bench/results.json | docs/bench/ipv6.json]
"""Per new connection (crr, masq_crr) or transaction (rr): the time
ebpfnet's path takes beyond the direct veth's (from the two medians:
1/rate - 1/rate), beside the time its programs ran in the bpf_stats pass
(ns per run x runs, over the connect() count the sock_connect hook saw,
or the uplink program's runs for rr)."""
import json
import sys

data = json.load(open(sys.argv[1] if len(sys.argv) > 1 else "docs/bench/results.json"))
rows = data["traffic"] if "traffic" in data else data["paths"]
costs = data["bpf_cost"]


def scale_of(row):
    return row.get("published_ports", 1)


def variant_of(row):
    return row.get("variant", row.get("path"))


def median(scale, test, variant):
    for row in rows:
        if scale_of(row) == scale and row["test"] == test and variant_of(row) == variant:
            return row["median"]
    return None


for scale in sorted({scale_of(c) for c in costs}):
    for test in ["crr", "masq_crr", "rr"]:
        runs = [c for c in costs if scale_of(c) == scale and c["test"] == test]
        if not runs:
            continue
        if test == "rr":
            units = max(c["runs"] for c in runs if c["program"].startswith("uplink"))
        else:
            units = sum(c["runs"] for c in runs if c["program"].startswith("sock_connect"))
        programs_us = sum(c["ns_per_run"] * c["runs"] for c in runs) / units / 1000
        direct, ours = median(scale, test, "direct-veth"), median(scale, test, "ebpfnet")
        gap_us = 1e6 / ours - 1e6 / direct
        per_unit = {c["program"].split("@")[0]: round(c["runs"] / units, 1) for c in runs}
        print(f"{scale:>6} {test:9} gap {gap_us:6.2f} us  programs {programs_us:6.2f} us  runs each {per_unit}")
