//! The every-port and resident-flows figures in results.md / results.json,
//! and their targets. Runs of one condition are compared with the direct
//! veth measured beside them, then with the same ratio at 1 port: the
//! machine's speed drifts between phases, the ratio much less.

use std::fmt::Write as _;

use serde_json::{Value, json};

use super::extremes::{EVERY_PORT, Extremes, NAT_TABLE_SIZE, RESIDENT_FLOWS};
use super::load::Test;
use super::markdown;
use super::report::{Results, Run, Spread, spread};
use super::targets::Target;
use super::topology::Kind;

const TESTS: [Test; 3] = [Test::Rr, Test::Crr, Test::Stream];

fn stat(runs: &[Run], kind: Kind, test: Test) -> Spread {
    let values: Vec<f64> = runs
        .iter()
        .filter(|r| r.kind == kind && r.test == test)
        .map(|r| r.sample.value)
        .collect();
    spread(&values)
}

/// ebpfnet's median over the direct veth's, in one condition.
fn ratio(runs: &[Run], test: Test) -> f64 {
    stat(runs, Kind::Ebpfnet, test).median / stat(runs, Kind::Direct, test).median
}

/// The conditions, named, with their runs.
fn conditions(x: &Extremes) -> [(&'static str, &[Run]); 2] {
    [
        ("every port of an address (TCP and UDP)", &x.every_port),
        ("1,000,000 flows resident", &x.resident),
    ]
}

pub fn markdown(r: &Results, x: &Extremes) -> String {
    let mut md = String::from("### Every port of an address, a million flows\n\n");
    md.push_str("| condition | variant | rr | crr | stream |\n|---|---|---|---|---|\n");
    for (name, runs) in conditions(x) {
        for kind in [Kind::Direct, Kind::Ebpfnet] {
            let _ = write!(md, "| {name} | {} |", kind.name());
            for test in TESTS {
                let s = stat(runs, kind, test);
                let _ = write!(md, " {:.2} ({:.2}–{:.2}) |", s.median, s.min, s.max);
            }
            md.push('\n');
        }
        let _ = write!(md, "| {name} | ebpfnet / direct (1 port: same ratio) |");
        for test in TESTS {
            let _ = write!(
                md,
                " {:.2}× ({:.2}×) |",
                ratio(runs, test),
                r.ratio(Kind::Ebpfnet, Kind::Direct, 1, test)
            );
        }
        md.push('\n');
    }
    let _ = writeln!(
        md,
        "\nEvery port: {} TCP and {} UDP ports published on one address (of {EVERY_PORT}; \
         the rest are the host's own sockets, which the daemon refuses to shadow).",
        x.published[0], x.published[1]
    );
    let counts = spread(
        &x.resident_counts
            .iter()
            .map(|&c| c as f64)
            .collect::<Vec<_>>(),
    );
    let sprays = spread(&x.spray_seconds);
    let _ = writeln!(
        md,
        "\nFlows resident during the runs: {:.0} (min {:.0}), NAT tables of {NAT_TABLE_SIZE} \
         entries; each spray of {RESIDENT_FLOWS} datagrams took {:.2} s (median).\n",
        counts.median, counts.min, sprays.median
    );
    let total: u64 = x.maps.iter().map(|m| m.bytes).sum();
    let _ = writeln!(
        md,
        "Map memory (`bpftool map show`, bytes_memlock): {:.1} MiB in all\n",
        total as f64 / (1 << 20) as f64
    );
    markdown::header(&mut md, &["map", "max entries", "MiB"]);
    for m in &x.maps {
        let mib = format!("{:.1}", m.bytes as f64 / (1 << 20) as f64);
        markdown::row(&mut md, &[&m.name, &m.max_entries, &mib]);
    }
    md
}

pub fn json(r: &Results, x: &Extremes) -> Value {
    let mut rows = Vec::new();
    for (name, runs) in conditions(x) {
        for kind in [Kind::Direct, Kind::Ebpfnet] {
            for test in TESTS {
                let s = stat(runs, kind, test);
                let reps: Vec<f64> = runs
                    .iter()
                    .filter(|r| r.kind == kind && r.test == test)
                    .map(|r| r.sample.value)
                    .collect();
                rows.push(json!({
                    "condition": name, "variant": kind.name(), "test": test.name(),
                    "unit": test.unit(), "median": s.median, "min": s.min, "max": s.max,
                    "repetitions": reps,
                }));
            }
        }
        for test in TESTS {
            rows.push(json!({
                "condition": name, "test": test.name(),
                "ratio_to_direct_veth": ratio(runs, test),
                "ratio_to_direct_veth_at_1_port": r.ratio(Kind::Ebpfnet, Kind::Direct, 1, test),
            }));
        }
    }
    let maps: Vec<Value> = x
        .maps
        .iter()
        .map(|m| json!({"name": m.name, "max_entries": m.max_entries, "bytes_memlock": m.bytes}))
        .collect();
    json!({
        "published_ports": {"tcp": x.published[0], "udp": x.published[1]},
        "flows_sprayed": RESIDENT_FLOWS,
        "nat_table_size": NAT_TABLE_SIZE,
        "flows_resident": x.resident_counts,
        "spray_seconds": x.spray_seconds,
        "runs": rows,
        "maps": maps,
        "map_bytes_total": x.maps.iter().map(|m| m.bytes).sum::<u64>(),
    })
}

/// Flat within 10%: ebpfnet's ratio to the direct veth in the condition is
/// at least 0.9 of that ratio at 1 port.
pub fn targets(r: &Results, x: &Extremes) -> Vec<Target> {
    let mut out = Vec::new();
    for (name, runs) in conditions(x) {
        for test in TESTS {
            let flat = ratio(runs, test) / r.ratio(Kind::Ebpfnet, Kind::Direct, 1, test);
            out.push(Target {
                name: format!(
                    "{name}: {} within 10% of 1 port (ratio to direct veth)",
                    test.name()
                ),
                measured: format!("{flat:.2}×"),
                met: flat >= 0.9,
            });
        }
    }
    out
}
