//! Phase "ipv6": a published port and masquerade over IPv6, ebpfnet beside
//! a direct veth, Docker's ip6tables rules (nft backend) and one nft
//! verdict map, in one interleaved run (ipv6_lab.rs), then a bpf_stats
//! pass for ebpfnet's programs. Made in a lab of its own and removed
//! before the IPv4 phases, so its daemon's socket hooks never run beside
//! their measurements. Written as `ipv6.{md,json}`.

use std::path::Path;

use anyhow::Result;
use serde_json::Value;

use super::ipv6_lab::{self, Path6};
use super::load::Test;
use super::phase::{self, PhaseResults};
use super::phase_report::{PhaseReport, write_files};

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

const REPORT: PhaseReport<Path6> = PhaseReport {
    stem: "ipv6",
    heading: "IPv6: published port and masquerade",
    intro: "An outside client to a port published on the host's IPv6 address (`-p \
            [::]:8080:80`), and a container to the outside through NAT66 masquerade, each \
            variant in namespaces of its own (the direct veth has no NAT)",
    paths: &Path6::ALL,
    tests: &TESTS,
    ratios: &[
        (Path6::Ebpfnet, Path6::Direct),
        (Path6::Ebpfnet, Path6::Ip6tablesNft),
        (Path6::Ebpfnet, Path6::NftMap),
    ],
    bases: &[Path6::Direct, Path6::Ip6tablesNft, Path6::NftMap],
    bpf_heading: "ebpfnet's programs per packet over IPv6 (bpf_stats)",
};

pub fn markdown(r: &Ipv6Results) -> String {
    REPORT.markdown(r)
}

pub fn json(r: &Ipv6Results) -> Value {
    REPORT.json(r)
}

/// `bench-results/ipv6.{md,json}`; copied to docs/bench/ unless quick.
pub fn write(r: &Ipv6Results, quick: bool) -> Result<()> {
    write_files(REPORT.stem, &markdown(r), json(r), quick)
}
