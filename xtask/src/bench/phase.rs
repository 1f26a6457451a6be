//! What the side phases (overlay, IPv6) share: a few paths measured in
//! interleaved repetitions, a bpf_stats pass, and their figures (their
//! tables and JSON: phase_report.rs).

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Result, bail};

use super::ebpfnet::{prog_stats, stats_delta};
use super::lab::Lab;
use super::load::{Sample, Test};
use super::report::{Spread, spread};
use crate::interrupt::check_interrupted;

/// One measured way through a phase's lab.
pub trait PhasePath: Copy + PartialEq {
    fn name(self) -> &'static str;
    fn title(self) -> &'static str;
}

pub struct PhaseRun<P> {
    pub path: P,
    pub test: Test,
    pub sample: Sample,
}

/// One program of one daemon during one test.
pub struct PhaseBpf {
    pub test: Test,
    /// `[daemon ]program@interface`.
    pub program: String,
    pub ns_per_run: f64,
    pub runs: u64,
}

/// Runs a phase's `measure` in a lab of its own and removes everything it
/// made, also on error; answers the results and the phase's minutes.
pub fn in_own_lab<T>(name: &str, measure: impl FnOnce(&mut Lab) -> Result<T>) -> Result<(T, f64)> {
    let started = Instant::now();
    let mut lab = Lab::new()?;
    let result = measure(&mut lab);
    if result.is_err() {
        eprintln!(
            "bench: the {name} phase failed; logs of the background processes are in {}",
            super::lab::DIR
        );
    }
    let errors = lab.cleanup();
    for err in &errors {
        eprintln!("bench cleanup: {err}");
    }
    let results = result?;
    if !errors.is_empty() {
        bail!("the {name} phase ran, but cleaning up failed (see above)");
    }
    Ok((results, started.elapsed().as_secs_f64() / 60.0))
}

/// What a side phase measured.
pub struct PhaseResults<P> {
    pub reps: usize,
    pub seconds: f64,
    pub runs: Vec<PhaseRun<P>>,
    pub bpf: Vec<PhaseBpf>,
    /// The phase's own time, setup and cleanup included.
    pub minutes: f64,
}

/// A side phase in a lab of its own, removed after (also on error):
/// `setup` makes its hosts and daemons and answers them with the daemons'
/// pin directories (labelled); then every test on every path, `reps`
/// times interleaved (`run`); then a bpf_stats pass over one more run of
/// each test on `profiled`.
#[allow(clippy::too_many_arguments)]
pub fn run_in_own_lab<P: PhasePath, S>(
    name: &str,
    reps: usize,
    seconds: f64,
    paths: &[P],
    tests: &[Test],
    profiled: P,
    setup: impl FnOnce(&mut Lab) -> Result<(S, Vec<(&'static str, PathBuf)>)>,
    run: impl Fn(P, Test) -> Result<Sample>,
) -> Result<PhaseResults<P>> {
    let measure = |lab: &mut Lab| -> Result<PhaseResults<P>> {
        let (_daemons, pin_dirs) = setup(lab)?;
        let runs = interleave(lab, name, reps, paths, tests, &run)?;
        let pins: Vec<(&str, &Path)> = pin_dirs.iter().map(|(n, p)| (*n, p.as_path())).collect();
        let bpf = bpf_pass(lab, &pins, tests, |test| run(profiled, test))?;
        Ok(PhaseResults {
            reps,
            seconds,
            runs,
            bpf,
            minutes: 0.0,
        })
    };
    let (mut results, minutes) = in_own_lab(name, measure)?;
    results.minutes = minutes;
    Ok(results)
}

/// One run's line of progress.
pub fn print_sample(label: &str, rep: usize, name: &str, test: Test, sample: &Sample) {
    println!(
        "  {label} rep {} {name:<16} {:<8} {:>10.1} {}{}",
        rep + 1,
        test.name(),
        sample.value,
        test.unit(),
        if sample.errors > 0 {
            format!(" ({} errors)", sample.errors)
        } else {
            String::new()
        }
    );
}

/// Runs every test on every path `reps` times, each repetition starting
/// with another path, so neighbours in time share the machine's state.
pub fn interleave<P: PhasePath>(
    lab: &mut Lab,
    label: &str,
    reps: usize,
    paths: &[P],
    tests: &[Test],
    mut run: impl FnMut(P, Test) -> Result<Sample>,
) -> Result<Vec<PhaseRun<P>>> {
    let mut runs = Vec::new();
    for rep in 0..reps {
        for i in 0..paths.len() {
            let path = paths[(i + rep) % paths.len()];
            for &test in tests {
                lab.check_children()?;
                let sample = run(path, test)?;
                print_sample(label, rep, path.name(), test, &sample);
                runs.push(PhaseRun { path, test, sample });
            }
        }
    }
    Ok(runs)
}

/// The programs' ns per run in the daemons pinned under `pin_dirs`
/// (labelled by `names`) over one more run of each test, with
/// `kernel.bpf_stats_enabled=1` (off during the measured runs: the
/// accounting itself costs time).
pub fn bpf_pass(
    lab: &mut Lab,
    daemons: &[(&str, &Path)],
    tests: &[Test],
    mut run: impl FnMut(Test) -> Result<Sample>,
) -> Result<Vec<PhaseBpf>> {
    check_interrupted()?;
    lab.set_host_sysctl("kernel.bpf_stats_enabled", "1")?;
    let mut rows = Vec::new();
    for &test in tests {
        let snapshot =
            || -> Result<Vec<_>> { daemons.iter().map(|(_, pins)| prog_stats(pins)).collect() };
        let before = snapshot()?;
        run(test)?;
        let after = snapshot()?;
        for ((name, _), (b, a)) in daemons.iter().zip(before.iter().zip(&after)) {
            for (program, ns_per_run, runs) in stats_delta(b, a) {
                let program = if name.is_empty() {
                    program
                } else {
                    format!("{name} {program}")
                };
                rows.push(PhaseBpf {
                    test,
                    program,
                    ns_per_run,
                    runs,
                });
            }
        }
    }
    lab.restore_host_sysctl("kernel.bpf_stats_enabled")?;
    Ok(rows)
}

pub fn samples<P: PhasePath>(runs: &[PhaseRun<P>], path: P, test: Test) -> Vec<Sample> {
    runs.iter()
        .filter(|r| r.path == path && r.test == test)
        .map(|r| r.sample)
        .collect()
}

pub fn stat<P: PhasePath>(
    runs: &[PhaseRun<P>],
    path: P,
    test: Test,
    f: fn(&Sample) -> f64,
) -> Spread {
    let values: Vec<f64> = samples(runs, path, test).iter().map(f).collect();
    spread(&values)
}

/// `path`'s median over `base`'s.
pub fn ratio<P: PhasePath>(runs: &[PhaseRun<P>], path: P, base: P, test: Test) -> f64 {
    let median = |p| stat(runs, p, test, |s| s.value).median;
    median(path) / median(base)
}

/// `path` over `base` in each repetition (run back to back).
pub fn paired<P: PhasePath>(runs: &[PhaseRun<P>], path: P, base: P, test: Test) -> Vec<f64> {
    samples(runs, path, test)
        .iter()
        .zip(samples(runs, base, test).iter())
        .map(|(a, b)| a.value / b.value)
        .collect()
}
