//! A side phase's tables and JSON (phase.rs measures them), written as
//! `<stem>.{md,json}` beside the other results and, for a full-length
//! run, copied to docs/bench/.

use std::fmt::Write as _;
use std::fs;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::load::{Sample, Test};
use super::markdown;
use super::phase::{PhaseBpf, PhasePath, PhaseResults, PhaseRun, paired, ratio, samples, stat};
use super::report::{cell, spread};
use crate::cmd::{command, output, workspace_root};

/// What a side phase's report shows, and where it goes.
pub struct PhaseReport<P: 'static> {
    /// `bench-results/<stem>.{md,json}`.
    pub stem: &'static str,
    pub heading: &'static str,
    /// What was measured, before the figures' description.
    pub intro: &'static str,
    pub paths: &'static [P],
    pub tests: &'static [Test],
    /// The (path, base) pairs of the ratio table.
    pub ratios: &'static [(P, P)],
    /// The bases of each path's `ratio_to_<base>` in the JSON.
    pub bases: &'static [P],
    /// The heading of the programs' cost table.
    pub bpf_heading: &'static str,
}

impl<P: PhasePath> PhaseReport<P> {
    pub fn markdown(&self, r: &PhaseResults<P>) -> String {
        let mut md = format!("### {}\n\n", self.heading);
        let _ = writeln!(
            md,
            "{}; medians of {} interleaved repetitions of {} s, (min–max); RR latency in µs.\n",
            self.intro, r.reps, r.seconds
        );
        figures_table(&mut md, &r.runs, self.paths, self.tests);
        md.push('\n');
        ratio_table(&mut md, &r.runs, self.ratios, self.tests);
        bpf_table(&mut md, self.bpf_heading, &r.bpf);
        md
    }

    pub fn json(&self, r: &PhaseResults<P>) -> Value {
        json!({
            "repetitions": r.reps, "seconds_per_run": r.seconds, "phase_minutes": r.minutes,
            "paths": runs_json(&r.runs, self.paths, self.tests, self.bases),
            "bpf_cost": bpf_json(&r.bpf),
        })
    }
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
    let _ = write!(md, "\n#### {heading}\n\n");
    markdown::header(md, &["test", "program", "ns/run", "runs"]);
    for b in bpf {
        let ns = format!("{:.0}", b.ns_per_run);
        markdown::row(md, &[&b.test.name(), &b.program, &ns, &b.runs]);
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
