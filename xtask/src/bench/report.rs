//! Figures → medians, spreads and ratios; `results.json`, `results.md`, the
//! chart; a full run's copies go to docs/bench/ for README.

use std::fmt::Write as _;
use std::fs;

use anyhow::{Context, Result};
use serde_json::{Value, json};

use super::control::CpRow;
use super::extremes::Extremes;
use super::ipv6::{self, Ipv6Results};
use super::load::{Sample, Test};
use super::overlay::OverlayResults;
use super::phase_report::latency_cell;
use super::topology::Kind;
use super::{chart, extremes_report, http, markdown, overlay_report, targets};
use crate::cmd::{command, output, workspace_root};

pub struct Run {
    pub kind: Kind,
    pub scale: u32,
    pub test: Test,
    pub sample: Sample,
}

pub struct BpfRow {
    pub scale: u32,
    pub test: Test,
    pub program: String,
    pub ns_per_run: f64,
    pub runs: u64,
}

pub struct Results {
    pub reps: usize,
    pub seconds: f64,
    pub scales: Vec<u32>,
    pub traffic: Vec<Run>,
    pub bpf: Vec<BpfRow>,
    pub control: Vec<CpRow>,
    /// Every port of an address, a million flows (full runs).
    pub extremes: Option<Extremes>,
    /// Container to container across two hosts.
    pub overlay: Option<OverlayResults>,
    /// A published port and masquerade over IPv6.
    pub ipv6: Option<Ipv6Results>,
    pub minutes: f64,
}

/// Median, min and max of some repetitions.
#[derive(Clone, Copy, Default)]
pub struct Spread {
    pub median: f64,
    pub min: f64,
    pub max: f64,
}

pub fn spread(values: &[f64]) -> Spread {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return Spread::default();
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    let median = if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    };
    Spread {
        median,
        min: v[0],
        max: v[v.len() - 1],
    }
}

impl Results {
    pub fn new(reps: usize, seconds: f64, scales: Vec<u32>) -> Self {
        Results {
            reps,
            seconds,
            scales,
            traffic: Vec::new(),
            bpf: Vec::new(),
            control: Vec::new(),
            extremes: None,
            overlay: None,
            ipv6: None,
            minutes: 0.0,
        }
    }

    fn samples(&self, kind: Kind, scale: u32, test: Test) -> Vec<Sample> {
        self.traffic
            .iter()
            .filter(|r| r.kind == kind && r.scale == scale && r.test == test)
            .map(|r| r.sample)
            .collect()
    }

    pub fn stat(&self, kind: Kind, scale: u32, test: Test, f: fn(&Sample) -> f64) -> Spread {
        let values: Vec<f64> = self.samples(kind, scale, test).iter().map(f).collect();
        spread(&values)
    }

    pub fn median(&self, kind: Kind, scale: u32, test: Test) -> f64 {
        self.stat(kind, scale, test, |s| s.value).median
    }

    /// `kind`'s median over `base`'s, same scale and test.
    pub fn ratio(&self, kind: Kind, base: Kind, scale: u32, test: Test) -> f64 {
        self.median(kind, scale, test) / self.median(base, scale, test)
    }

    /// `kind`'s figure over `base`'s in each repetition (the variants of
    /// one repetition run back to back, so each pair shares the machine's
    /// state of the moment).
    pub fn paired_ratios(&self, kind: Kind, base: Kind, scale: u32, test: Test) -> Vec<f64> {
        let of = |k| self.samples(k, scale, test);
        of(kind)
            .iter()
            .zip(of(base).iter())
            .map(|(a, b)| a.value / b.value)
            .collect()
    }

    pub fn control_row(&self, what_prefix: &str, tool_prefix: &str, ports: u32) -> Option<&CpRow> {
        self.control.iter().find(|r| {
            r.what.starts_with(what_prefix) && r.tool.starts_with(tool_prefix) && r.ports == ports
        })
    }
}

pub(super) fn fmt_value(test: Test, v: f64) -> String {
    if test == Test::Stream {
        format!("{v:.2}")
    } else {
        format!("{v:.0}")
    }
}

pub(super) fn cell(test: Test, s: Spread) -> String {
    format!(
        "{} ({}–{})",
        fmt_value(test, s.median),
        fmt_value(test, s.min),
        fmt_value(test, s.max)
    )
}

fn seconds_cell(secs: f64) -> String {
    if secs < 1.0 {
        format!("{:.1} ms", secs * 1000.0)
    } else {
        format!("{secs:.2} s")
    }
}

pub fn markdown(r: &Results) -> String {
    let mut md = String::new();
    let _ = writeln!(
        md,
        "Medians of {} interleaved repetitions of {} s each, (min–max) in brackets; \
         latency p50/p90/p99 in µs (medians over repetitions).\n",
        r.reps, r.seconds
    );
    for &scale in &r.scales {
        let _ = writeln!(md, "### {scale} published port(s)\n");
        md.push_str("| variant |");
        for test in Test::ALL {
            let _ = write!(md, " {} |", test.title());
        }
        md.push_str(" RR latency p50/p90/p99 µs | HTTP latency p50/p90/p99 µs |\n|---|");
        md.push_str(&"---|".repeat(Test::ALL.len() + 2));
        md.push('\n');
        for kind in Kind::ALL {
            let _ = write!(md, "| {} |", kind.name());
            for test in Test::ALL {
                let _ = write!(
                    md,
                    " {} |",
                    cell(test, r.stat(kind, scale, test, |s| s.value))
                );
            }
            for test in [Test::Rr, Test::Http] {
                md.push_str(&latency_cell(|f| r.stat(kind, scale, test, f).median));
            }
            md.push('\n');
        }
        md.push_str("\n| ebpfnet ratio |");
        for test in Test::ALL {
            let _ = write!(md, " {} |", test.name());
        }
        md.push_str("\n|---|");
        md.push_str(&"---|".repeat(Test::ALL.len()));
        md.push('\n');
        for base in [Kind::IptablesNft, Kind::Direct] {
            let _ = write!(md, "| to {} |", base.name());
            for test in Test::ALL {
                let _ = write!(md, " {:.2}× |", r.ratio(Kind::Ebpfnet, base, scale, test));
            }
            md.push('\n');
        }
        md.push_str("| to direct-veth, each repetition (min–max) |");
        for test in Test::ALL {
            let each = spread(&r.paired_ratios(Kind::Ebpfnet, Kind::Direct, scale, test));
            let _ = write!(md, " {:.2}–{:.2}× |", each.min, each.max);
        }
        md.push_str("\n\n");
    }
    md.push_str("### Scaling (medians)\n\n| test | variant |");
    for scale in &r.scales {
        let _ = write!(md, " {scale} |");
    }
    md.push_str(" last / first |\n|---|---|");
    md.push_str(&"---|".repeat(r.scales.len() + 1));
    md.push('\n');
    let (first, last) = (r.scales[0], *r.scales.last().unwrap_or(&1));
    for test in Test::ALL {
        for kind in Kind::ALL {
            let _ = write!(md, "| {} | {} |", test.name(), kind.name());
            for &scale in &r.scales {
                let _ = write!(md, " {} |", fmt_value(test, r.median(kind, scale, test)));
            }
            let change = r.median(kind, last, test) / r.median(kind, first, test);
            let _ = writeln!(md, " {change:.2}× |");
        }
    }
    if let Some(x) = &r.extremes {
        md.push('\n');
        md.push_str(&extremes_report::markdown(r, x));
    }
    if let Some(o) = &r.overlay {
        md.push('\n');
        md.push_str(&overlay_report::markdown(o));
    }
    if let Some(v6) = &r.ipv6 {
        md.push('\n');
        md.push_str(&ipv6::markdown(v6));
    }
    md.push_str("\n### Control plane\n\n");
    markdown::header(&mut md, &["what", "tool", "ports", "median (min–max)"]);
    for row in &r.control {
        let s = spread(&row.seconds);
        let time = match row.done_in_cap {
            Some(done) => format!(
                "**not finished**: {done} ports in {:.0} s (~{} extrapolated linearly; \
                 per-rule cost grows, so a lower bound)",
                s.median,
                seconds_cell(s.median * f64::from(row.ports) / f64::from(done.max(1)))
            ),
            None if row.seconds.len() == 1 => format!("{} (1 run)", seconds_cell(s.median)),
            None => format!(
                "{} ({}–{})",
                seconds_cell(s.median),
                seconds_cell(s.min),
                seconds_cell(s.max)
            ),
        };
        markdown::row(&mut md, &[&row.what, &row.tool, &row.ports, &time]);
    }
    md.push_str("\n### ebpfnet per-packet cost (bpf_stats: run_time_ns / run_cnt)\n\n");
    markdown::header(&mut md, &["scale", "test", "program", "ns/run", "runs"]);
    for b in &r.bpf {
        let ns = format!("{:.0}", b.ns_per_run);
        markdown::row(
            &mut md,
            &[&b.scale, &b.test.name(), &b.program, &ns, &b.runs],
        );
    }
    md.push_str("\n### Targets\n\n");
    markdown::header(&mut md, &["target", "measured", "met"]);
    for t in targets::evaluate(r) {
        let met = if t.met { "yes" } else { "**no**" };
        markdown::row(&mut md, &[&t.name, &t.measured, &met]);
    }
    md
}

pub fn json(r: &Results) -> Value {
    let mut traffic = Vec::new();
    for &scale in &r.scales {
        for kind in Kind::ALL {
            for test in Test::ALL {
                let s = r.stat(kind, scale, test, |s| s.value);
                let reps: Vec<Value> = r
                    .samples(kind, scale, test)
                    .iter()
                    .map(|s| {
                        json!({"value": s.value, "p50_us": s.p50_us, "p90_us": s.p90_us,
                               "p99_us": s.p99_us, "errors": s.errors})
                    })
                    .collect();
                let lat = |f: fn(&Sample) -> f64| r.stat(kind, scale, test, f).median;
                traffic.push(json!({
                    "variant": kind.name(), "published_ports": scale, "test": test.name(),
                    "unit": test.unit(), "median": s.median, "min": s.min, "max": s.max,
                    "p50_us": lat(|s| s.p50_us), "p90_us": lat(|s| s.p90_us),
                    "p99_us": lat(|s| s.p99_us),
                    "ratio_to_iptables_nft": r.ratio(kind, Kind::IptablesNft, scale, test),
                    "ratio_to_direct_veth": r.ratio(kind, Kind::Direct, scale, test),
                    "ratio_to_own_first_scale": s.median / r.median(kind, r.scales[0], test),
                    "ratios_to_direct_veth_each_repetition":
                        r.paired_ratios(kind, Kind::Direct, scale, test),
                    "repetitions": reps,
                }));
            }
        }
    }
    let control: Vec<Value> = r
        .control
        .iter()
        .map(|row| {
            let s = spread(&row.seconds);
            json!({"what": row.what, "tool": row.tool, "ports": row.ports,
                   "median_s": s.median, "min_s": s.min, "max_s": s.max,
                   "seconds": row.seconds, "ports_done_before_time_cap": row.done_in_cap})
        })
        .collect();
    let bpf: Vec<Value> = r
        .bpf
        .iter()
        .map(|b| {
            json!({"published_ports": b.scale, "test": b.test.name(), "program": b.program,
                   "ns_per_run": b.ns_per_run, "runs": b.runs})
        })
        .collect();
    let targets: Vec<Value> = targets::evaluate(r)
        .into_iter()
        .map(|t| json!({"target": t.name, "measured": t.measured, "met": t.met}))
        .collect();
    let uname = output(command("uname").arg("-r")).unwrap_or_default();
    json!({
        "command": "cargo xtask bench",
        "kernel": uname.trim(),
        "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "repetitions": r.reps, "seconds_per_run": r.seconds, "scales": r.scales,
        "total_minutes": r.minutes,
        "http_workload": {
            "software": http::versions(),
            "body_bytes": http::BODY_BYTES,
            "wrk_threads": http::WRK_THREADS,
            "wrk_connections": http::WRK_CONNECTIONS,
            "nginx_workers": http::NGINX_WORKERS,
        },
        "traffic": traffic, "control_plane": control, "bpf_cost": bpf, "targets": targets,
        "extremes": r.extremes.as_ref().map(|x| extremes_report::json(r, x)),
        "overlay": r.overlay.as_ref().map(overlay_report::json),
        "ipv6": r.ipv6.as_ref().map(ipv6::json),
    })
}

pub fn write(r: &Results, quick: bool) -> Result<()> {
    let md = markdown(r);
    println!("\n{md}");
    let dir = workspace_root().join("bench-results");
    fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let results = json(r);
    let text = serde_json::to_string_pretty(&results)?;
    fs::write(dir.join("results.json"), text + "\n")?;
    fs::write(dir.join("results.md"), &md)?;
    // Drawn from the JSON, as `--chart-from` does, so both give one chart.
    chart::write(&results, &dir.join("scaling.svg"))?;
    println!(
        "bench: wrote {}/results.{{md,json}} and scaling.svg",
        dir.display()
    );
    if !quick {
        let docs = workspace_root().join("docs/bench");
        fs::create_dir_all(&docs)?;
        for file in ["results.md", "results.json", "scaling.svg"] {
            fs::copy(dir.join(file), docs.join(file))
                .with_context(|| format!("copying {file} to {}", docs.display()))?;
        }
        println!(
            "bench: copied them to {} (README links there)",
            docs.display()
        );
    }
    Ok(())
}
