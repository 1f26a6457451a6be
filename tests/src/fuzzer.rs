//! The packet fuzzer's runner: mutants of base frames through one TC
//! program, each outcome checked against [`crate::invariants`] and against
//! what the maps of the run allow ([`Rules`]).

use std::time::{Duration, Instant};

use ebpfnet_common::maps::{NatKind, PublishedValue};

use crate::invariants::{KNOWN_VERDICTS, Tuple, checksums_kept, forwarded_unchanged, hex};
use crate::mutate::{Interesting, Rng, mutate};
use crate::testrun::{Datapath, TC_ACT_REDIRECT, TC_ACT_SHOT};

const DEFAULT_SEED: u64 = 0x00eb_bf00_f022;
const DEFAULT_FRAMES: usize = 200_000;
/// A slow machine stops early rather than running for minutes.
const TIME_LIMIT: Duration = Duration::from_secs(10);

/// `name` from the environment, or `default` when it is not set.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> T {
    match std::env::var(name) {
        Ok(text) => text
            .parse()
            .unwrap_or_else(|_| panic!("{name}={text:?} is not a number")),
        Err(_) => default,
    }
}

/// A published mapping as the test wrote it into `PUBLISHED`.
pub struct Published {
    pub host_ip: [u8; 4],
    pub port: u16,
    pub protocol: u8,
    pub target: PublishedValue,
}

/// What the maps of one run allow, as the test set them up.
pub struct Rules {
    pub program: &'static str,
    pub ifindex: Option<u32>,
    pub published: Vec<Published>,
    pub host_addrs: Vec<[u8; 4]>,
    /// Containers delivered to directly from their own network.
    pub same_network: Vec<[u8; 4]>,
    /// NAT kinds the program may follow for this direction.
    pub nat_kinds: &'static [NatKind],
}

impl Rules {
    pub fn publish(
        &mut self,
        dp: &mut Datapath,
        host_ip: [u8; 4],
        port: u16,
        protocol: u8,
        target: PublishedValue,
    ) {
        dp.publish(host_ip, port, protocol, target);
        self.published.push(Published {
            host_ip,
            port,
            protocol,
            target,
        });
    }

    /// Invariant (b): why `input` may leave as `out`, or what is wrong.
    pub fn redirect_allowed(
        &self,
        dp: &mut Datapath,
        input: &[u8],
        out: &[u8],
    ) -> Result<(), String> {
        let (Some(before), Some(after)) = (Tuple::of(input), Tuple::of(out)) else {
            return Err("a frame that is no IPv4 packet (before or after) was redirected".into());
        };
        let kept_source =
            (after.src, after.ports.map(|p| p.0)) == (before.src, before.ports.map(|p| p.0));
        // A published port: the client's address kept, the target's put in.
        if let Some((_, dport)) = before.ports
            && kept_source
            && self.published.iter().any(|p| {
                p.protocol == before.protocol
                    && p.port == dport
                    && (p.host_ip == before.dst
                        || p.host_ip == [0; 4] && self.host_addrs.contains(&before.dst))
                    && (after.dst, after.ports.map(|p| p.1))
                        == (p.target.container_ip, Some(p.target.container_port))
            })
        {
            return Ok(());
        }
        // The flow's NAT entry, of a kind this direction may use.
        if let Some(key) = before.flow_key()
            && let Some(entry) = dp.nat_get(&key)
            && self.nat_kinds.iter().any(|kind| *kind as u8 == entry.kind)
            && before.translated_by(&entry, &after)
        {
            return Ok(());
        }
        // A peer container on the same network, the packet as it was.
        if self.same_network.contains(&before.dst) && forwarded_unchanged(input, out) {
            return Ok(());
        }
        // An error the datapath answered itself ("time exceeded", or
        // "fragmentation needed"): back to the sender, quoting its packet.
        if after.is_icmp_error() && after.dst == before.src && quotes(out, input) {
            return Ok(());
        }
        // A later fragment follows its first one's flow: addresses only.
        if before.later_fragment
            && dp.nat_entries().iter().any(|(key, entry)| {
                (key.src_ip, key.dst_ip, key.protocol) == (before.src, before.dst, before.protocol)
                    && self.nat_kinds.iter().any(|kind| *kind as u8 == entry.kind)
                    && before.addresses_translated_by(entry, &after)
            })
        {
            return Ok(());
        }
        // An ICMP error about a tracked flow goes to one of its ends.
        if before.is_icmp_error() {
            let ends: Vec<[u8; 4]> = dp.nat_entries().iter().map(|(_, e)| e.new_dst_ip).collect();
            if ends.contains(&after.dst) || self.same_network.contains(&after.dst) {
                return Ok(());
            }
        }
        Err(format!(
            "redirected as {after:?} (from {before:?}) with no map entry allowing it"
        ))
    }
}

/// Runs every mutant of `bases` through `rules.program` and checks each
/// outcome; returns (frames run, redirects checked).
pub fn run(
    dp: &mut Datapath,
    rules: &Rules,
    bases: &[(&str, Vec<u8>)],
    interesting: &Interesting,
) -> (usize, usize) {
    let seed = env_or("EBPFNET_PACKET_FUZZ_SEED", DEFAULT_SEED);
    let frames = env_or("EBPFNET_PACKET_FUZZ_FRAMES", DEFAULT_FRAMES);
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let (mut run, mut redirects, mut drops) = (0, 0, 0);
    while run < frames && started.elapsed() < TIME_LIMIT {
        let (name, base) = &bases[rng.below(bases.len())];
        // Now and then the frame as built: the paths it takes stay covered.
        let input = if rng.chance(5) {
            base.clone()
        } else {
            mutate(base, &mut rng, interesting)
        };
        let outcome = match dp.try_run(rules.program, &input, rules.ifindex) {
            Ok(outcome) => outcome,
            Err(e) => panic!(
                "{}: the kernel refused frame {run} (a mutant of {name}): {e:?}\n{}",
                rules.program,
                hex(&input)
            ),
        };
        let verdict = outcome.verdict;
        let mut check = checksums_kept(&input, verdict, &outcome.out);
        if !KNOWN_VERDICTS.contains(&verdict) {
            check = Err(format!(
                "verdict {} is none of the known ones",
                verdict as i32
            ));
        } else if check.is_ok() && verdict == TC_ACT_REDIRECT {
            redirects += 1;
            check = rules.redirect_allowed(dp, &input, &outcome.out);
        }
        drops += usize::from(verdict == TC_ACT_SHOT);
        if let Err(problem) = check {
            panic!(
                "{}: {problem}\nframe {run} (a mutant of {name}), EBPFNET_PACKET_FUZZ_SEED={seed}, verdict {}\n\
                 input ({} bytes):\n{}\noutput ({} bytes):\n{}",
                rules.program,
                verdict as i32,
                input.len(),
                hex(&input),
                outcome.out.len(),
                hex(&outcome.out)
            );
        }
        run += 1;
    }
    println!(
        "{}: {run} frames in {:.1} s (EBPFNET_PACKET_FUZZ_SEED={seed}): {redirects} redirects checked, {drops} drops",
        rules.program,
        started.elapsed().as_secs_f64()
    );
    // A fuzzer that never reaches the translation paths checks nothing.
    assert!(
        run >= 1000.min(frames),
        "only {run} frames ran in {TIME_LIMIT:?}"
    );
    assert!(
        redirects * 50 >= run,
        "only {redirects} of {run} frames were redirected: the bases miss the maps"
    );
    assert!(
        drops * 50 >= run,
        "only {drops} of {run} frames were dropped"
    );
    (run, redirects)
}

/// Whether the ICMP message in `out` quotes the IPv4 header of `input`.
fn quotes(out: &[u8], input: &[u8]) -> bool {
    const ETH: usize = 14;
    let (Some(&out_vihl), Some(&in_vihl)) = (out.get(ETH), input.get(ETH)) else {
        return false;
    };
    let quote_at = ETH + usize::from(out_vihl & 0x0f) * 4 + 8;
    let header = usize::from(in_vihl & 0x0f) * 4;
    match (
        out.get(quote_at..quote_at + header),
        input.get(ETH..ETH + header),
    ) {
        (Some(quoted), Some(original)) => quoted == original,
        _ => false,
    }
}
