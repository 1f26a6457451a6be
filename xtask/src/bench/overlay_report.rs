//! The overlay phase's figures: a markdown section (also in a full run's
//! results.md) and JSON, written as `overlay.{md,json}` (phase.rs).

use std::fmt::Write as _;

use anyhow::Result;
use serde_json::{Value, json};

use super::overlay::{OverlayResults, TESTS};
use super::overlay_hosts::HostPath;
use super::phase;

const RATIOS: [(HostPath, HostPath); 3] = [
    (HostPath::Overlay, HostPath::Vxlan),
    (HostPath::Overlay, HostPath::Underlay),
    (HostPath::Vxlan, HostPath::Underlay),
];

pub fn markdown(r: &OverlayResults) -> String {
    let mut md = String::from("### Across two hosts: overlay, plain VXLAN, underlay\n\n");
    let _ = writeln!(
        md,
        "Container to container across two hosts (network namespaces on one veth underlay, a \
         daemon each, one etcd); medians of {} interleaved repetitions of {} s, (min–max); RR \
         latency in µs.\n",
        r.reps, r.seconds
    );
    phase::figures_table(&mut md, &r.runs, &HostPath::ALL, &TESTS);
    md.push('\n');
    phase::ratio_table(&mut md, &r.runs, &RATIOS, &TESTS);
    phase::bpf_table(
        &mut md,
        "Overlay programs per packet (bpf_stats, both hosts)",
        &r.bpf,
    );
    md
}

pub fn json(r: &OverlayResults) -> Value {
    let bases = [HostPath::Vxlan, HostPath::Underlay];
    json!({
        "repetitions": r.reps, "seconds_per_run": r.seconds, "phase_minutes": r.minutes,
        "mtu": 1450,
        "paths": phase::runs_json(&r.runs, &HostPath::ALL, &TESTS, &bases),
        "bpf_cost": phase::bpf_json(&r.bpf),
    })
}

/// `bench-results/overlay.{md,json}`; copied to docs/bench/ unless quick.
pub fn write(r: &OverlayResults, quick: bool) -> Result<()> {
    phase::write_files("overlay", &markdown(r), json(r), quick)
}
