//! The targets, checked against figures of the same run.

use super::extremes_report;
use super::ipv6::{self, Ipv6Results};
use super::ipv6_lab::Path6;
use super::load::Test;
use super::phase;
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

/// Fewer repetitions than this give no spread worth the name.
const MIN_REPS_FOR_SPREAD: usize = 3;

/// Whether the repetitions resolve the gap to the direct veth that a
/// request/response ratio claims: the per-repetition ratios' spread
/// (max - min) must be narrower than the median ratio's distance from 1.
fn spread_target(r: &Results, test: Test) -> Target {
    let ratio = r.ratio(Kind::Ebpfnet, Kind::Direct, 1, test);
    let pairs = r.paired_ratios(Kind::Ebpfnet, Kind::Direct, 1, test);
    let each = spread(&pairs);
    let (width, gap) = (each.max - each.min, (1.0 - ratio).abs());
    let name = format!(
        "1 port: {} / direct-veth, spread over repetitions < gap to 1×",
        test.name()
    );
    if pairs.len() < MIN_REPS_FOR_SPREAD {
        return Target {
            name,
            measured: format!(
                "{} repetition(s): no spread to judge (needs {MIN_REPS_FOR_SPREAD})",
                pairs.len()
            ),
            met: false,
        };
    }
    Target {
        name,
        measured: format!(
            "{ratio:.2}× (each {:.2}–{:.2}×): spread {width:.2}, gap {gap:.2}",
            each.min, each.max
        ),
        met: width < gap,
    }
}

pub fn evaluate(r: &Results) -> Vec<Target> {
    let mut out = vec![
        ratio_target(r, Test::Crr, Kind::IptablesNft, 1.3),
        ratio_target(r, Test::Rr, Kind::IptablesNft, 1.05),
        ratio_target(r, Test::Stream, Kind::IptablesNft, 1.0),
        ratio_target(r, Test::Http, Kind::IptablesNft, 1.05),
        // Issue 14: the published path close to the wire.
        ratio_target(r, Test::Crr, Kind::Direct, 0.95),
        ratio_target(r, Test::Rr, Kind::Direct, 0.95),
        ratio_target(r, Test::Http, Kind::Direct, 0.95),
        ratio_target(r, Test::Stream, Kind::Direct, 0.95),
        ratio_target(r, Test::MasqCrr, Kind::Direct, 0.9),
        spread_target(r, Test::Rr),
        spread_target(r, Test::Http),
    ];
    let last = *r.scales.last().unwrap_or(&1);
    if last > 1 {
        for test in Test::ALL {
            // The scales run one after another, and the VM's speed drifts
            // between them (the direct veth, which has no ports, moves by
            // 10% and more): judged on the ratio to the direct veth of the
            // same scale, as the every-port rows are.
            let ratio = r.ratio(Kind::Ebpfnet, Kind::Direct, last, test)
                / r.ratio(Kind::Ebpfnet, Kind::Direct, 1, test);
            let raw = r.median(Kind::Ebpfnet, last, test) / r.median(Kind::Ebpfnet, 1, test);
            out.push(Target {
                name: format!(
                    "{last} ports: ebpfnet {} within 10% of 1 port (ratio to direct veth)",
                    test.name()
                ),
                measured: format!("{ratio:.2}× (rates alone {raw:.2}×)"),
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
    if let Some(v6) = &r.ipv6 {
        out.extend(ipv6_targets(v6));
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

/// The IPv6 rows at the IPv4 rows' targets: published ≥ 0.95× the direct
/// veth, masquerade ≥ 0.9×.
fn ipv6_targets(v6: &Ipv6Results) -> Vec<Target> {
    ipv6::TESTS
        .iter()
        .map(|&test| {
            let min = if test == Test::MasqCrr { 0.9 } else { 0.95 };
            let ratio = phase::ratio(&v6.runs, Path6::Ebpfnet, Path6::Direct, test);
            Target {
                name: format!("IPv6: {} ≥ {min}× direct-veth", test.name()),
                measured: format!("{ratio:.2}×"),
                met: ratio >= min,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bench::load::Sample;
    use crate::bench::report::Run;

    fn results(pairs: &[(f64, f64)]) -> Results {
        let mut r = Results::new(pairs.len(), 3.0, vec![1]);
        for &(direct, ebpfnet) in pairs {
            for (kind, value) in [(Kind::Direct, direct), (Kind::Ebpfnet, ebpfnet)] {
                r.traffic.push(Run {
                    kind,
                    scale: 1,
                    test: Test::Http,
                    sample: Sample {
                        value,
                        ..Sample::default()
                    },
                });
            }
        }
        r
    }

    #[test]
    fn a_gap_wider_than_the_spread_is_resolved() {
        // Ratios 0.80, 0.82, 0.84: spread 0.04, gap 0.18.
        let r = results(&[(100.0, 80.0), (50.0, 41.0), (200.0, 168.0)]);
        assert!(spread_target(&r, Test::Http).met);
        // Ratios 0.90, 1.00, 0.97: spread 0.10, gap 0.03.
        let r = results(&[(100.0, 90.0), (50.0, 50.0), (100.0, 97.0)]);
        assert!(!spread_target(&r, Test::Http).met);
    }

    #[test]
    fn one_repetition_judges_nothing() {
        let t = spread_target(&results(&[(100.0, 80.0)]), Test::Http);
        assert!(!t.met, "{}", t.measured);
    }
}
