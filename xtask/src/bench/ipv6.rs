//! Phase "ipv6": a published port and masquerade over IPv6, ebpfnet beside
//! a direct veth, Docker's ip6tables rules (nft backend) and one nft
//! verdict map, in one interleaved run (ipv6_lab.rs), then a bpf_stats
//! pass for ebpfnet's programs. Made in a lab of its own and removed
//! before the IPv4 phases, so its daemon's socket hooks never run beside
//! their measurements. Written as `ipv6.{md,json}`.

use std::fmt::Write as _;
use std::path::Path;

use anyhow::Result;
use serde_json::{Value, json};

use super::ipv6_lab::{self, Path6};
use super::load::Test;
use super::phase::{self, PhaseResults};

/// No HTTP row: wrk and nginx measure the same path as `rr` in the IPv4
/// phases, which explain the difference.
pub const TESTS: [Test; 4] = [Test::Rr, Test::Crr, Test::Stream, Test::MasqCrr];

pub type Ipv6Results = PhaseResults<Path6>;

/// Runs the phase in a lab of its own and removes everything it made.
pub fn run(binary: &Path, loadgen: &Path, reps: usize, seconds: f64) -> Result<Ipv6Results> {
    println!("bench: phase ipv6: published port and masquerade over IPv6");
    phase::run_in_own_lab(
        "ipv6",
        reps,
        seconds,
        &Path6::ALL,
        &TESTS,
        Path6::Ebpfnet,
        |lab| {
            let daemon = ipv6_lab::create(lab, binary, loadgen)?;
            let pins = vec![("", daemon.files.pin_dir.clone())];
            Ok((daemon, pins))
        },
        |path, test| path.run(loadgen, test, seconds),
    )
}

const RATIOS: [(Path6, Path6); 3] = [
    (Path6::Ebpfnet, Path6::Direct),
    (Path6::Ebpfnet, Path6::Ip6tablesNft),
    (Path6::Ebpfnet, Path6::NftMap),
];

pub fn markdown(r: &Ipv6Results) -> String {
    let mut md = String::from("### IPv6: published port and masquerade\n\n");
    let _ = writeln!(
        md,
        "An outside client to a port published on the host's IPv6 address (`-p \
         [::]:8080:80`), and a container to the outside through NAT66 masquerade, each variant \
         in namespaces of its own (the direct veth has no NAT); medians of {} interleaved \
         repetitions of {} s, (min–max); RR latency in µs.\n",
        r.reps, r.seconds
    );
    phase::figures_table(&mut md, &r.runs, &Path6::ALL, &TESTS);
    md.push('\n');
    phase::ratio_table(&mut md, &r.runs, &RATIOS, &TESTS);
    phase::bpf_table(
        &mut md,
        "ebpfnet's programs per packet over IPv6 (bpf_stats)",
        &r.bpf,
    );
    md
}

pub fn json(r: &Ipv6Results) -> Value {
    let bases = [Path6::Direct, Path6::Ip6tablesNft, Path6::NftMap];
    json!({
        "repetitions": r.reps, "seconds_per_run": r.seconds, "phase_minutes": r.minutes,
        "paths": phase::runs_json(&r.runs, &Path6::ALL, &TESTS, &bases),
        "bpf_cost": phase::bpf_json(&r.bpf),
    })
}

/// `bench-results/ipv6.{md,json}`; copied to docs/bench/ unless quick.
pub fn write(r: &Ipv6Results, quick: bool) -> Result<()> {
    phase::write_files("ipv6", &markdown(r), json(r), quick)
}
