//! The overlay phase's figures: a markdown section (also in a full run's
//! results.md) and JSON, written as `overlay.{md,json}` (phase_report.rs).

use anyhow::Result;
use serde_json::{Value, json};

use super::overlay::{OverlayResults, TESTS};
use super::overlay_hosts::HostPath;
use super::phase_report::{PhaseReport, write_files};

const REPORT: PhaseReport<HostPath> = PhaseReport {
    stem: "overlay",
    heading: "Across two hosts: overlay, plain VXLAN, underlay",
    intro: "Container to container across two hosts (network namespaces on one veth underlay, \
            a daemon each, one etcd)",
    paths: &HostPath::ALL,
    tests: &TESTS,
    ratios: &[
        (HostPath::Overlay, HostPath::Vxlan),
        (HostPath::Overlay, HostPath::Underlay),
        (HostPath::Vxlan, HostPath::Underlay),
    ],
    bases: &[HostPath::Vxlan, HostPath::Underlay],
    bpf_heading: "Overlay programs per packet (bpf_stats, both hosts)",
};

pub fn markdown(r: &OverlayResults) -> String {
    REPORT.markdown(r)
}

pub fn json(r: &OverlayResults) -> Value {
    let mut results = REPORT.json(r);
    results["mtu"] = json!(1450);
    results
}

/// `bench-results/overlay.{md,json}`; copied to docs/bench/ unless quick.
pub fn write(r: &OverlayResults, quick: bool) -> Result<()> {
    write_files(REPORT.stem, &markdown(r), json(r), quick)
}
