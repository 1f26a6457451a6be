//! What the side phases (overlay, IPv6) share: a few paths measured in
//! interleaved repetitions, a bpf_stats pass, and their tables and JSON,
//! written as `<stem>.{md,json}` beside the other results and, for a
//! full-length run, copied to docs/bench/.

use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use serde_json::{Value, json};

use super::ebpfnet::{prog_stats, stats_delta};
use super::lab::Lab;
use super::load::{Sample, Test};
use super::report::{Spread, cell, spread};
use crate::cmd::{command, output, workspace_root};
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

/// Medians (min–max) of every path and test, and RR latency.
pub fn figures_table<P: PhasePath>(
    md: &mut String,
    runs: &[PhaseRun<P>],
    paths: &[P],
    tests: &[Test],
) {
    md.push_str("| path |");
    for test in tests {
        let _ = write!(md, " {} |", test.title());
    }
    md.push_str(" RR latency p50/p90/p99 µs |\n|---|");
    md.push_str(&"---|".repeat(tests.len() + 1));
    md.push('\n');
    for &path in paths {
        let _ = write!(md, "| {} |", path.title());
        for &test in tests {
            let _ = write!(md, " {} |", cell(test, stat(runs, path, test, |s| s.value)));
        }
        md.push_str(&latency_cell(|f| stat(runs, path, Test::Rr, f).median));
        md.push('\n');
    }
}

/// Ratios of medians, with each repetition's ratio's min–max.
pub fn ratio_table<P: PhasePath>(
    md: &mut String,
    runs: &[PhaseRun<P>],
    pairs: &[(P, P)],
    tests: &[Test],
) {
    md.push_str("| ratio (medians; each repetition min–max) |");
    for test in tests {
        let _ = write!(md, " {} |", test.name());
    }
    md.push_str("\n|---|");
    md.push_str(&"---|".repeat(tests.len()));
    md.push('\n');
    for &(path, base) in pairs {
        let _ = write!(md, "| {} / {} |", path.name(), base.name());
        for &test in tests {
            let each = spread(&paired(runs, path, base, test));
            let _ = write!(
                md,
                " {:.2}× ({:.2}–{:.2}) |",
                ratio(runs, path, base, test),
                each.min,
                each.max
            );
        }
        md.push('\n');
    }
}

pub fn bpf_table(md: &mut String, heading: &str, bpf: &[PhaseBpf]) {
    if bpf.is_empty() {
        return;
    }
    let _ = write!(
        md,
        "\n#### {heading}\n\n| test | program | ns/run | runs |\n|---|---|---|---|\n"
    );
    for b in bpf {
        let _ = writeln!(
            md,
            "| {} | {} | {:.0} | {} |",
            b.test.name(),
            b.program,
            b.ns_per_run,
            b.runs
        );
    }
}

/// Every path and test with its repetitions, and `ratio_to_<base>` for
/// each of `bases`.
pub fn runs_json<P: PhasePath>(
    runs: &[PhaseRun<P>],
    paths: &[P],
    tests: &[Test],
    bases: &[P],
) -> Vec<Value> {
    let mut out = Vec::new();
    for &path in paths {
        for &test in tests {
            let s = stat(runs, path, test, |s| s.value);
            let lat = |f: fn(&Sample) -> f64| stat(runs, path, test, f).median;
            let reps: Vec<Value> = samples(runs, path, test)
                .iter()
                .map(|s| {
                    json!({"value": s.value, "p50_us": s.p50_us, "p90_us": s.p90_us,
                           "p99_us": s.p99_us, "errors": s.errors})
                })
                .collect();
            let mut row = json!({
                "path": path.name(), "test": test.name(), "unit": test.unit(),
                "median": s.median, "min": s.min, "max": s.max,
                "p50_us": lat(|s| s.p50_us), "p90_us": lat(|s| s.p90_us),
                "p99_us": lat(|s| s.p99_us),
                "repetitions": reps,
            });
            for &base in bases {
                let key = format!("ratio_to_{}", base.name().replace('-', "_"));
                row[key] = json!(ratio(runs, path, base, test));
            }
            out.push(row);
        }
    }
    out
}

pub fn bpf_json(bpf: &[PhaseBpf]) -> Vec<Value> {
    bpf.iter()
        .map(|b| {
            json!({"test": b.test.name(), "program": b.program,
                   "ns_per_run": b.ns_per_run, "runs": b.runs})
        })
        .collect()
}

/// `bench-results/<stem>.{md,json}`; copied to docs/bench/ unless quick.
pub fn write_files(stem: &str, md: &str, mut results: Value, quick: bool) -> Result<()> {
    println!("\n{md}");
    let dir = workspace_root().join("bench-results");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let uname = output(command("uname").arg("-r")).unwrap_or_default();
    results["command"] = json!(format!("cargo xtask bench --phase {stem}"));
    results["kernel"] = json!(uname.trim());
    let (md_file, json_file) = (format!("{stem}.md"), format!("{stem}.json"));
    fs::write(
        dir.join(&json_file),
        serde_json::to_string_pretty(&results)? + "\n",
    )?;
    fs::write(dir.join(&md_file), md)?;
    println!("bench: wrote {}/{stem}.{{md,json}}", dir.display());
    if !quick {
        let docs = workspace_root().join("docs/bench");
        fs::create_dir_all(&docs)?;
        for file in [&md_file, &json_file] {
            fs::copy(dir.join(file), docs.join(file))
                .with_context(|| format!("copying {file} to {}", docs.display()))?;
        }
        println!("bench: copied them to {}", docs.display());
    }
    Ok(())
}

/// ` P50 / P90 / P99 |`: the latency percentiles (µs) that `median`
/// gives for each field of a sample.
pub(super) fn latency_cell(median: impl Fn(fn(&Sample) -> f64) -> f64) -> String {
    format!(
        " {:.0} / {:.0} / {:.0} |",
        median(|s| s.p50_us),
        median(|s| s.p90_us),
        median(|s| s.p99_us)
    )
}
