#!/usr/bin/env python3
# Usage: python3 bench-ab/gap_vs_programs.py [docs/bench/results.json]
"""Per connection (crr, masq_crr) or transaction (rr): the time ebpfnet's
path takes beyond the direct veth's (from the medians), against the time
its programs run (bpf_stats pass: ns per run x runs, per connect)."""
import json, sys
d = json.load(open(sys.argv[1] if len(sys.argv) > 1 else 'docs/bench/results.json'))
med = {(r['published_ports'], r['test'], r['variant']): r['median'] for r in d['traffic']}
for scale in sorted({r['published_ports'] for r in d['bpf_cost']}):
    for test in ['crr', 'masq_crr', 'rr']:
        rows = [r for r in d['bpf_cost'] if r['published_ports'] == scale and r['test'] == test]
        if test == 'rr':
            units = max(r['runs'] for r in rows if r['program'].startswith('uplink'))
        else:
            units = sum(r['runs'] for r in rows if r['program'].startswith('sock_connect4'))
        prog_us = sum(r['ns_per_run'] * r['runs'] for r in rows) / units / 1000
        direct, ours = med[(scale, test, 'direct-veth')], med[(scale, test, 'ebpfnet')]
        gap_us = 1e6 / ours - 1e6 / direct
        per = {r['program'].split('@')[0]: round(r['runs'] / units, 1) for r in rows}
        print(f"{scale:>6} {test:9} gap {gap_us:6.2f} us  programs {prog_us:6.2f} us  runs/unit {per}")
