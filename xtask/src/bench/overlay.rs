//! Phase "overlay": container to container across two hosts, three ways
//! in one interleaved run (overlay_hosts.rs): ebpfnet's overlay network
//! (two daemons joined by a real etcd, VXLAN by the eBPF programs), a
//! plain kernel VXLAN device with a bridge, and the underlay without
//! encapsulation; then a bpf_stats pass for the overlay's programs on both
//! hosts. Made in a lab of its own and removed before the other phases, so
//! its daemons' socket hooks never run beside their measurements.

use std::path::Path;

use anyhow::Result;

use super::load::Test;
use super::overlay_hosts::{self, HOSTS, HostPath};
use super::phase::{self, PhaseResults};

/// The tests run on each path: request/response, new connections, bulk.
pub const TESTS: [Test; 3] = [Test::Rr, Test::Crr, Test::Stream];

pub type OverlayResults = PhaseResults<HostPath>;

/// Runs the phase in a lab of its own and removes everything it made.
pub fn run(binary: &Path, loadgen: &Path, reps: usize, seconds: f64) -> Result<OverlayResults> {
    println!("bench: phase overlay: two hosts, etcd, two daemons, a plain VXLAN beside");
    phase::run_in_own_lab(
        "overlay",
        reps,
        seconds,
        &HostPath::ALL,
        &TESTS,
        HostPath::Overlay,
        |lab| {
            let daemons = overlay_hosts::create(lab, binary, loadgen)?;
            // Both daemons' programs in the bpf_stats pass.
            let pins = HOSTS
                .iter()
                .zip(&daemons)
                .map(|(host, d)| (*host, d.files.pin_dir.clone()))
                .collect();
            Ok((daemons, pins))
        },
        |path, test| path.run(loadgen, test, seconds),
    )
}
