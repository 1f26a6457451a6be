//! The targets, checked against figures of the same run.

use super::extremes_report;
use super::load::Test;
use super::report::{Results, spread};
use super::topology::Kind;

pub struct Target {
    pub name: String,
    pub measured: String,
    pub met: bool,
}

fn ratio_target(r: &Results, test: Test, base: Kind, min: f64) -> Target {
    let ratio = r.ratio(Kind::Ebpfnet, base, 1, test);
    Target {
        name: format!("1 port: {} ≥ {min}× {}", test.name(), base.name()),
        measured: format!("{ratio:.2}×"),
        met: ratio >= min,
    }
}

pub fn evaluate(r: &Results) -> Vec<Target> {
    let mut out = vec![
        ratio_target(r, Test::Crr, Kind::IptablesNft, 1.3),
        ratio_target(r, Test::Crr, Kind::Direct, 0.85),
        ratio_target(r, Test::Rr, Kind::IptablesNft, 1.05),
        ratio_target(r, Test::Rr, Kind::Direct, 0.9),
        ratio_target(r, Test::Stream, Kind::IptablesNft, 1.0),
    ];
    let last = *r.scales.last().unwrap_or(&1);
    if last > 1 {
        for test in Test::ALL {
            let ratio = r.median(Kind::Ebpfnet, last, test) / r.median(Kind::Ebpfnet, 1, test);
            out.push(Target {
                name: format!("{last} ports: ebpfnet {} within 10% of 1 port", test.name()),
                measured: format!("{ratio:.2}×"),
                met: ratio >= 0.9,
            });
        }
    }
    if let Some(row) = r.control_row("publish N ports, one command", "ebpfnet", 10_000)
        && row.what == "publish N ports, one command"
    {
        let s = spread(&row.seconds);
        out.push(Target {
            name: "publish 10,000 ports < 1 s (ebpfnet CLI, one range)".into(),
            measured: format!("{:.3} s", s.median),
            met: s.median < 1.0,
        });
    }
    if let Some(x) = &r.extremes {
        let udp = x.published[1];
        if let Some(row) = r.control_row("publish N ports, one command", "ebpfnet", udp) {
            let s = spread(&row.seconds);
            out.push(Target {
                name: format!("publish {udp} ports < 1 s (ebpfnet CLI, one command)"),
                measured: format!("{:.3} s", s.median),
                met: s.median < 1.0,
            });
        }
        if let Some(row) = r.control_row("add 1 port when all others", "ebpfnet", 1) {
            let s = spread(&row.seconds);
            out.push(Target {
                name: format!("one more port at {udp} < 10 ms (CLI included)"),
                measured: format!("{:.1} ms", s.median * 1000.0),
                met: s.median < 0.010,
            });
        }
    }
    if let Some(x) = &r.extremes {
        out.extend(extremes_report::targets(r, x));
    }
    if let Some(row) = r.control_row("add 1 port when 10,000", "ebpfnet", 1) {
        let s = spread(&row.seconds);
        out.push(Target {
            name: "one more port at 10,000 < 10 ms (CLI included)".into(),
            measured: format!("{:.1} ms", s.median * 1000.0),
            met: s.median < 0.010,
        });
    }
    out
}
