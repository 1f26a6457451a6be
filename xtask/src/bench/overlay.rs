//! Phase "overlay": container to container across two hosts, three ways
//! in one interleaved run (overlay_hosts.rs): ebpfnet's overlay network
//! (two daemons joined by a real etcd, VXLAN by the eBPF programs), a
//! plain kernel VXLAN device with a bridge, and the underlay without
//! encapsulation; then a bpf_stats pass for the overlay's programs on both
//! hosts. Made in a lab of its own and removed before the other phases, so
//! its daemons' socket hooks never run beside their measurements.

use std::path::Path;

use anyhow::Result;

use super::lab::Lab;
use super::load::Test;
use super::overlay_hosts::{self, HOSTS, HostPath};
use super::phase::{self, PhaseBpf, PhaseRun};

/// The tests run on each path: request/response, new connections, bulk.
pub const TESTS: [Test; 3] = [Test::Rr, Test::Crr, Test::Stream];

pub struct OverlayResults {
    pub reps: usize,
    pub seconds: f64,
    pub runs: Vec<PhaseRun<HostPath>>,
    pub bpf: Vec<PhaseBpf>,
    /// The phase's own time, setup and cleanup included.
    pub minutes: f64,
}

/// Runs the phase in a lab of its own and removes everything it made.
pub fn run(binary: &Path, loadgen: &Path, reps: usize, seconds: f64) -> Result<OverlayResults> {
    println!("bench: phase overlay: two hosts, etcd, two daemons, a plain VXLAN beside");
    let (mut results, minutes) = phase::in_own_lab("overlay", |lab| {
        measure(lab, binary, loadgen, reps, seconds)
    })?;
    results.minutes = minutes;
    Ok(results)
}

fn measure(
    lab: &mut Lab,
    binary: &Path,
    loadgen: &Path,
    reps: usize,
    seconds: f64,
) -> Result<OverlayResults> {
    let daemons = overlay_hosts::create(lab, binary, loadgen)?;
    let runs = phase::interleave(
        lab,
        "overlay",
        reps,
        &HostPath::ALL,
        &TESTS,
        |path, test| path.run(loadgen, test, seconds),
    )?;
    // Both daemons' programs over one more run of each test on the overlay.
    let pins: Vec<(&str, &Path)> = HOSTS
        .iter()
        .zip(&daemons)
        .map(|(host, d)| (*host, d.files.pin_dir.as_path()))
        .collect();
    let bpf = phase::bpf_pass(lab, &pins, &TESTS, |test| {
        HostPath::Overlay.run(loadgen, test, seconds)
    })?;
    Ok(OverlayResults {
        reps,
        seconds,
        runs,
        bpf,
        minutes: 0.0,
    })
}
