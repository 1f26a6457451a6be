//! Control plane: time to publish 1,000 and 10,000 ports, and one more when
//! 10,000 exist — ebpfnet through its CLI (one range spec, or one call per
//! port), iptables as dockerd does it (two commands per port), with
//! iptables-restore, and nft -f / nft add element. iptables and nft run in
//! the variants' own "host" namespaces (a thread that entered the namespace
//! spawns them, so no `ip netns exec` is timed).

use std::fs::{self, File};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use nix::sched::{CloneFlags, setns};

use super::ebpfnet::{Ebpfnet, range_spec};
use super::lab::{DIR, quiet};
use super::rules::{self, Addressing, Mapping, NFT_TABLE};
use super::topology::Kind;
use crate::cmd::{command, output};
use crate::interrupt::check_interrupted;

/// The container that the control-plane runs publish to.
pub const CP_CONTAINER: &str = "ebnb-e-cp";
const CP_CONTAINER_IP: &str = "10.204.0.3";
const CP_BASE: u32 = 30000;
const ONE_MORE: u16 = 40000;

/// One control-plane figure: seconds per repetition.
pub struct CpRow {
    pub what: &'static str,
    pub tool: String,
    pub ports: u32,
    pub seconds: Vec<f64>,
    /// Set when a per-command run hit the time cap: ports done in that time.
    pub done_in_cap: Option<u32>,
}

pub struct Plan {
    pub reps: usize,
    pub sizes: Vec<u32>,
    /// Longest a one-command-per-port run may take.
    pub cap: Duration,
}

/// Runs `f` on a thread that has entered network namespace `ns`.
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> Result<T> + Send) -> Result<T> {
    let netns = File::open(format!("/run/netns/{ns}")).with_context(|| format!("netns {ns}"))?;
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                setns(&netns, CloneFlags::CLONE_NEWNET).context("setns")?;
                f()
            })
            .join()
            .map_err(|_| anyhow::anyhow!("thread in {ns} panicked"))?
    })
}

/// A command, timed, in seconds.
pub(super) fn timed(cmd: &mut Command) -> Result<f64> {
    check_interrupted()?;
    let start = Instant::now();
    output(cmd)?;
    Ok(start.elapsed().as_secs_f64())
}

fn iptables(kind: Kind) -> &'static str {
    if kind == Kind::IptablesLegacy {
        "iptables-legacy"
    } else {
        "iptables-nft"
    }
}

fn write_file(name: &str, text: &str) -> Result<String> {
    let path = format!("{DIR}/{name}");
    fs::write(&path, text).with_context(|| format!("writing {path}"))?;
    Ok(path)
}

/// Replaces the nat and filter tables of `kind`'s host namespace.
pub fn iptables_restore(kind: Kind, maps: &[Mapping]) -> Result<f64> {
    let file = write_file(
        &format!("{}.rules", kind.name()),
        &rules::iptables_ruleset(&Addressing::v4(kind), maps),
    )?;
    in_netns(&kind.host_ns(), || {
        timed(command(format!("{}-restore", iptables(kind))).arg(&file))
    })
}

/// Replaces the nft table of the nft-map variant.
pub fn nft_load(maps: &[Mapping]) -> Result<f64> {
    let kind = Kind::NftMap;
    let file = write_file(
        "nft-map.nft",
        &rules::nft_ruleset(&Addressing::v4(kind), maps),
    )?;
    in_netns(&kind.host_ns(), || {
        let _ = output(command("nft").args(["delete", "table", "ip", NFT_TABLE]));
        timed(command("nft").args(["-f", &file]))
    })
}

/// Docker's way: `iptables -t nat -A …` and `iptables -A …` per port, until
/// done or `cap`; returns the ports done and the time.
fn iptables_per_rule(kind: Kind, ports: u32, cap: Duration) -> Result<(u32, f64)> {
    iptables_restore(kind, &[])?;
    let maps = rules::mappings(ports);
    in_netns(&kind.host_ns(), || {
        let start = Instant::now();
        for (done, m) in maps.iter().enumerate() {
            if start.elapsed() > cap {
                return Ok((done as u32, start.elapsed().as_secs_f64()));
            }
            check_interrupted()?;
            for args in rules::docker_commands(kind, *m) {
                output(command(iptables(kind)).args(&args))?;
            }
        }
        Ok((ports, start.elapsed().as_secs_f64()))
    })
}

fn ebpfnet_per_port(ebpfnet: &Ebpfnet, ports: u32, cap: Duration) -> Result<(u32, f64)> {
    let start = Instant::now();
    for i in 0..ports {
        if start.elapsed() > cap {
            return Ok((i, start.elapsed().as_secs_f64()));
        }
        check_interrupted()?;
        let port = CP_BASE + i;
        output(&mut ebpfnet.publish(&format!("{port}:{port}"), CP_CONTAINER))?;
    }
    Ok((ports, start.elapsed().as_secs_f64()))
}

/// A fresh container without mappings (removing it drops them all).
fn fresh_container(ebpfnet: &Ebpfnet, exists: bool) -> Result<()> {
    if exists {
        ebpfnet.remove_container(CP_CONTAINER)?;
    }
    ebpfnet.create_container(CP_CONTAINER, CP_CONTAINER_IP)
}

pub fn measure(ebpfnet: &Ebpfnet, plan: &Plan) -> Result<Vec<CpRow>> {
    let mut rows: Vec<CpRow> = Vec::new();
    let mut add =
        |what: &'static str, tool: &str, ports: u32, secs: f64, cap: Option<u32>| match rows
            .iter_mut()
            .find(|r| r.what == what && r.tool == tool && r.ports == ports)
        {
            Some(row) => row.seconds.push(secs),
            None => rows.push(CpRow {
                what,
                tool: tool.to_string(),
                ports,
                seconds: vec![secs],
                done_in_cap: cap,
            }),
        };
    const BULK: &str = "publish N ports, one command";
    const EACH: &str = "publish N ports, one command per port";
    const ONE: &str = "add 1 port when 10,000 exist";
    fresh_container(ebpfnet, false)?;
    let ipt = [Kind::IptablesNft, Kind::IptablesLegacy];
    println!("bench: control plane, bulk ({} reps)", plan.reps);
    for _ in 0..plan.reps {
        for &n in &plan.sizes {
            let spec = range_spec(CP_BASE, n);
            let secs = timed(&mut ebpfnet.publish(&spec, CP_CONTAINER))?;
            add(BULK, "ebpfnet publish A-B:A-B", n, secs, None);
            quiet(&mut ebpfnet.unpublish(&spec, CP_CONTAINER))?;
            for kind in ipt {
                iptables_restore(kind, &[])?;
                let secs = iptables_restore(kind, &rules::mappings(n))?;
                add(BULK, &format!("{}-restore", iptables(kind)), n, secs, None);
            }
            add(
                BULK,
                "nft -f (map)",
                n,
                nft_load(&rules::mappings(n))?,
                None,
            );
        }
    }
    if plan.sizes.contains(&10_000) {
        println!("bench: control plane, one more port at 10,000");
        let spec = range_spec(CP_BASE, 10_000);
        quiet(&mut ebpfnet.publish(&spec, CP_CONTAINER))?;
        for kind in ipt {
            iptables_restore(kind, &rules::mappings(10_000))?;
        }
        nft_load(&rules::mappings(10_000))?;
        let extra = Mapping {
            host_port: ONE_MORE,
            container_port: ONE_MORE,
        };
        let one = format!("{ONE_MORE}:{ONE_MORE}");
        for _ in 0..plan.reps {
            let secs = timed(&mut ebpfnet.publish(&one, CP_CONTAINER))?;
            add(ONE, "ebpfnet publish (CLI)", 1, secs, None);
            quiet(&mut ebpfnet.unpublish(&one, CP_CONTAINER))?;
            for kind in ipt {
                let secs = in_netns(&kind.host_ns(), || {
                    let start = Instant::now();
                    for args in rules::docker_commands(kind, extra) {
                        output(command(iptables(kind)).args(&args))?;
                    }
                    let secs = start.elapsed().as_secs_f64();
                    for args in rules::docker_commands(kind, extra) {
                        let delete = args.iter().map(|a| if a == "-A" { "-D" } else { a });
                        output(command(iptables(kind)).args(delete))?;
                    }
                    Ok(secs)
                })?;
                add(
                    ONE,
                    &format!("{} -A (nat + filter)", iptables(kind)),
                    1,
                    secs,
                    None,
                );
            }
            let element = format!(
                "{{ {} }}",
                rules::nft_element(&Addressing::v4(Kind::NftMap), extra)
            );
            let secs = in_netns(&Kind::NftMap.host_ns(), || {
                let nft = |verb: &str| {
                    let mut cmd = command("nft");
                    cmd.args([verb, "element", "ip", NFT_TABLE, "published", &element]);
                    cmd
                };
                let secs = timed(&mut nft("add"))?;
                output(&mut nft("delete"))?;
                Ok(secs)
            })?;
            add(ONE, "nft add element", 1, secs, None);
        }
    }
    println!(
        "bench: control plane, one command per port (cap {:?} each)",
        plan.cap
    );
    for &n in &plan.sizes {
        fresh_container(ebpfnet, true)?;
        let (done, secs) = ebpfnet_per_port(ebpfnet, n, plan.cap)?;
        add(
            EACH,
            "ebpfnet publish P:P",
            n,
            secs,
            (done < n).then_some(done),
        );
        for kind in ipt {
            let (done, secs) = iptables_per_rule(kind, n, plan.cap)?;
            let tool = format!("{} -A (Docker)", iptables(kind));
            add(EACH, &tool, n, secs, (done < n).then_some(done));
        }
    }
    ebpfnet.remove_container(CP_CONTAINER)?;
    if rows.is_empty() {
        bail!("no control-plane figure was measured");
    }
    Ok(rows)
}
