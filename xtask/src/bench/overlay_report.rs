//! The overlay phase's figures: a markdown section (also in a full run's
//! results.md) and JSON, written as `overlay.{md,json}` beside the other
//! results and, for a full-length run, copied to docs/bench/.

use std::fmt::Write as _;
use std::fs;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::load::{Sample, Test};
use super::overlay::{OverlayResults, TESTS};
use super::overlay_hosts::HostPath;
use super::report::{Spread, cell, spread};
use crate::cmd::{command, output, workspace_root};

impl OverlayResults {
    fn samples(&self, path: HostPath, test: Test) -> Vec<Sample> {
        self.runs
            .iter()
            .filter(|r| r.path == path && r.test == test)
            .map(|r| r.sample)
            .collect()
    }

    fn stat(&self, path: HostPath, test: Test, f: fn(&Sample) -> f64) -> Spread {
        let values: Vec<f64> = self.samples(path, test).iter().map(f).collect();
        spread(&values)
    }

    fn ratio(&self, path: HostPath, base: HostPath, test: Test) -> f64 {
        let median = |p| self.stat(p, test, |s| s.value).median;
        median(path) / median(base)
    }

    /// `path` over `base` in each repetition (run back to back).
    fn paired(&self, path: HostPath, base: HostPath, test: Test) -> Vec<f64> {
        self.samples(path, test)
            .iter()
            .zip(self.samples(base, test).iter())
            .map(|(a, b)| a.value / b.value)
            .collect()
    }
}

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
    md.push_str("| path |");
    for test in TESTS {
        let _ = write!(md, " {} |", test.title());
    }
    md.push_str(" RR latency p50/p90/p99 µs |\n|---|");
    md.push_str(&"---|".repeat(TESTS.len() + 1));
    md.push('\n');
    for path in HostPath::ALL {
        let _ = write!(md, "| {} |", path.title());
        for test in TESTS {
            let _ = write!(md, " {} |", cell(test, r.stat(path, test, |s| s.value)));
        }
        let p = |f: fn(&Sample) -> f64| r.stat(path, Test::Rr, f).median;
        let _ = writeln!(
            md,
            " {:.0} / {:.0} / {:.0} |",
            p(|s| s.p50_us),
            p(|s| s.p90_us),
            p(|s| s.p99_us)
        );
    }
    md.push_str("\n| ratio (medians; each repetition min–max) |");
    for test in TESTS {
        let _ = write!(md, " {} |", test.name());
    }
    md.push_str("\n|---|");
    md.push_str(&"---|".repeat(TESTS.len()));
    md.push('\n');
    for (path, base) in RATIOS {
        let _ = write!(md, "| {} / {} |", path.name(), base.name());
        for test in TESTS {
            let each = spread(&r.paired(path, base, test));
            let _ = write!(
                md,
                " {:.2}× ({:.2}–{:.2}) |",
                r.ratio(path, base, test),
                each.min,
                each.max
            );
        }
        md.push('\n');
    }
    if !r.bpf.is_empty() {
        md.push_str(
            "\n#### Overlay programs per packet (bpf_stats, both hosts)\n\n\
             | test | host, program | ns/run | runs |\n|---|---|---|---|\n",
        );
        for b in &r.bpf {
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
    md
}

pub fn json(r: &OverlayResults) -> Value {
    let mut paths = Vec::new();
    for path in HostPath::ALL {
        for test in TESTS {
            let s = r.stat(path, test, |s| s.value);
            let lat = |f: fn(&Sample) -> f64| r.stat(path, test, f).median;
            let reps: Vec<Value> = r
                .samples(path, test)
                .iter()
                .map(|s| {
                    json!({"value": s.value, "p50_us": s.p50_us, "p90_us": s.p90_us,
                           "p99_us": s.p99_us, "errors": s.errors})
                })
                .collect();
            paths.push(json!({
                "path": path.name(), "test": test.name(), "unit": test.unit(),
                "median": s.median, "min": s.min, "max": s.max,
                "p50_us": lat(|s| s.p50_us), "p90_us": lat(|s| s.p90_us),
                "p99_us": lat(|s| s.p99_us),
                "ratio_to_kernel_vxlan": r.ratio(path, HostPath::Vxlan, test),
                "ratio_to_underlay": r.ratio(path, HostPath::Underlay, test),
                "repetitions": reps,
            }));
        }
    }
    let bpf: Vec<Value> = r
        .bpf
        .iter()
        .map(|b| {
            json!({"test": b.test.name(), "program": b.program,
                   "ns_per_run": b.ns_per_run, "runs": b.runs})
        })
        .collect();
    json!({
        "repetitions": r.reps, "seconds_per_run": r.seconds, "phase_minutes": r.minutes,
        "mtu": 1450, "paths": paths, "bpf_cost": bpf,
    })
}

/// `bench-results/overlay.{md,json}`; copied to docs/bench/ unless quick.
pub fn write(r: &OverlayResults, quick: bool) -> Result<()> {
    let md = markdown(r);
    println!("\n{md}");
    let dir = workspace_root().join("bench-results");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut results = json(r);
    let uname = output(command("uname").arg("-r")).unwrap_or_default();
    results["command"] = json!("cargo xtask bench --phase overlay");
    results["kernel"] = json!(uname.trim());
    fs::write(
        dir.join("overlay.json"),
        serde_json::to_string_pretty(&results)? + "\n",
    )?;
    fs::write(dir.join("overlay.md"), &md)?;
    println!("bench: wrote {}/overlay.{{md,json}}", dir.display());
    if !quick {
        let docs = workspace_root().join("docs/bench");
        fs::create_dir_all(&docs)?;
        for file in ["overlay.md", "overlay.json"] {
            fs::copy(dir.join(file), docs.join(file))
                .with_context(|| format!("copying {file} to {}", docs.display()))?;
        }
        println!("bench: copied them to {}", docs.display());
    }
    Ok(())
}
