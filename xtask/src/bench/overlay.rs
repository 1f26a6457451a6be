//! Phase "overlay": container to container across two hosts, three ways
//! in one interleaved run (overlay_hosts.rs): ebpfnet's overlay network
//! (two daemons joined by a real etcd, VXLAN by the eBPF programs), a
//! plain kernel VXLAN device with a bridge, and the underlay without
//! encapsulation; then a bpf_stats pass for the overlay's programs on both
//! hosts. Made in a lab of its own and removed before the other phases, so
//! its daemons' socket hooks never run beside their measurements.

use std::path::Path;
use std::time::Instant;

use anyhow::{Result, bail};

use super::ebpfnet::{prog_stats, stats_delta};
use super::lab::Lab;
use super::load::{Sample, Test};
use super::overlay_hosts::{self, HOSTS, HostDaemon, HostPath};
use crate::interrupt::check_interrupted;

/// The tests run on each path: request/response, new connections, bulk.
pub const TESTS: [Test; 3] = [Test::Rr, Test::Crr, Test::Stream];

pub struct PathRun {
    pub path: HostPath,
    pub test: Test,
    pub sample: Sample,
}

/// One program of one host's daemon during one test.
pub struct PathBpf {
    pub test: Test,
    /// `host program@interface`.
    pub program: String,
    pub ns_per_run: f64,
    pub runs: u64,
}

pub struct OverlayResults {
    pub reps: usize,
    pub seconds: f64,
    pub runs: Vec<PathRun>,
    pub bpf: Vec<PathBpf>,
    /// The phase's own time, setup and cleanup included.
    pub minutes: f64,
}

/// Runs the phase in a lab of its own and removes everything it made.
pub fn run(binary: &Path, loadgen: &Path, reps: usize, seconds: f64) -> Result<OverlayResults> {
    let started = Instant::now();
    println!("bench: phase overlay: two hosts, etcd, two daemons, a plain VXLAN beside");
    let mut lab = Lab::new()?;
    let result = measure(&mut lab, binary, loadgen, reps, seconds);
    if result.is_err() {
        eprintln!(
            "bench: the overlay phase failed; logs of the background processes are in {}",
            super::lab::DIR
        );
    }
    let errors = lab.cleanup();
    for err in &errors {
        eprintln!("bench cleanup: {err}");
    }
    let mut results = result?;
    if !errors.is_empty() {
        bail!("the overlay phase ran, but cleaning up failed (see above)");
    }
    results.minutes = started.elapsed().as_secs_f64() / 60.0;
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
    let mut results = OverlayResults {
        reps,
        seconds,
        runs: Vec::new(),
        bpf: Vec::new(),
        minutes: 0.0,
    };
    let all = HostPath::ALL;
    for rep in 0..reps {
        // Interleaved, each repetition starting with another path.
        for i in 0..all.len() {
            let path = all[(i + rep) % all.len()];
            for test in TESTS {
                lab.check_children()?;
                let sample = path.run(loadgen, test, seconds)?;
                println!(
                    "  overlay rep {} {:<16} {:<7} {:>10.1} {}{}",
                    rep + 1,
                    path.name(),
                    test.name(),
                    sample.value,
                    test.unit(),
                    if sample.errors > 0 {
                        format!(" ({} errors)", sample.errors)
                    } else {
                        String::new()
                    }
                );
                results.runs.push(PathRun { path, test, sample });
            }
        }
    }
    results.bpf = bpf_pass(lab, &daemons, loadgen, seconds)?;
    Ok(results)
}

/// Both daemons' programs' ns per run over one more run of each test on
/// the overlay, with `kernel.bpf_stats_enabled=1`.
fn bpf_pass(
    lab: &mut Lab,
    daemons: &[HostDaemon],
    loadgen: &Path,
    seconds: f64,
) -> Result<Vec<PathBpf>> {
    check_interrupted()?;
    lab.set_host_sysctl("kernel.bpf_stats_enabled", "1")?;
    let mut rows = Vec::new();
    for test in TESTS {
        let snapshot = || -> Result<Vec<_>> {
            daemons
                .iter()
                .map(|d| prog_stats(&d.files.pin_dir))
                .collect()
        };
        let before = snapshot()?;
        HostPath::Overlay.run(loadgen, test, seconds)?;
        let after = snapshot()?;
        for (host, (b, a)) in before.iter().zip(&after).enumerate() {
            for (program, ns_per_run, runs) in stats_delta(b, a) {
                rows.push(PathBpf {
                    test,
                    program: format!("{} {program}", HOSTS[host]),
                    ns_per_run,
                    runs,
                });
            }
        }
    }
    lab.restore_host_sysctl("kernel.bpf_stats_enabled")?;
    Ok(rows)
}
