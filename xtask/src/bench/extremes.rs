//! The scales users reach, measured after the usual scales: every port of
//! one address published (TCP and UDP, 65,535 each) and a million flows
//! resident in the NAT tables, each beside the direct veth in interleaved
//! repetitions; the control plane at 65,535 ports; the maps' memory.
//!
//! The every-port mappings are on the bench uplink's address only
//! (198.18.4.1), so no port of the machine's own addresses is taken. With
//! every TCP port of that address published, no masquerade port is left on
//! it (a masquerade port never shadows a published one), so these runs have
//! no masquerade test. The resident flows are UDP flows sprayed from 16
//! addresses of the outside link to the published UDP port 80 (the
//! container's server discards them); each repetition sprays them again, so
//! none idles out (30 s unanswered) while the runs go on.

use std::collections::BTreeSet;
use std::fs;
use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::control::{CpRow, timed};
use super::ebpfnet::Ebpfnet;
use super::lab::{Lab, PIN_DIR, quiet};
use super::load::{self, Test};
use super::report::Run;
use super::topology::{FILLER_BASE, HTTP_PUBLISHED_PORT, Kind, PUBLISHED_PORT, in_ns};
use crate::cmd::{command, output};
use crate::interrupt::check_interrupted;

/// The bench uplink's address: every port of it gets published.
const ADDRESS: &str = "198.18.4.1";
/// Every port of an address.
pub const EVERY_PORT: u32 = 65_535;
/// Flows kept resident, and the addresses they come from.
pub const RESIDENT_FLOWS: u32 = 1_000_000;
const SPRAY_SOURCES: u32 = 16;
const FIRST_SPRAY_SOURCE: &str = "198.18.4.100";
/// The NAT table size the bench daemon runs with: a flow takes two
/// entries, so a million UDP flows need two million in `NAT_OTHER`.
pub const NAT_TABLE_SIZE: u32 = 2_400_000;
const TESTS: [Test; 3] = [Test::Rr, Test::Crr, Test::Stream];
const KINDS: [Kind; 2] = [Kind::Direct, Kind::Ebpfnet];

/// One eBPF map of the bench daemon, as `bpftool map show` reports it.
pub struct MapMemory {
    pub name: String,
    pub max_entries: u64,
    pub bytes: u64,
}

pub struct Extremes {
    /// Runs with every port of the address published (scale 65,535).
    pub every_port: Vec<Run>,
    /// Runs with the million flows resident (scale = flows resident).
    pub resident: Vec<Run>,
    /// Flows in the UDP table after each spray, and how long each took.
    pub resident_counts: Vec<u64>,
    pub spray_seconds: Vec<f64>,
    pub maps: Vec<MapMemory>,
    /// TCP and UDP ports published on the address (65,535 less the host's).
    pub published: [u32; 2],
}

/// Ports bound by the host's own sockets (listening TCP, bound UDP, on
/// any address, from /proc/net): the daemon refuses to publish those, as
/// Docker would, so "every port" means every port but these.
fn host_ports_in_use(protocol: &str) -> Result<BTreeSet<u32>> {
    let mut ports = BTreeSet::new();
    for table in [protocol.to_string(), format!("{protocol}6")] {
        let path = format!("/proc/net/{table}");
        let text = fs::read_to_string(&path).with_context(|| format!("reading {path}"))?;
        for line in text.lines().skip(1) {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let (Some(local), Some(state)) = (fields.get(1), fields.get(3)) else {
                continue;
            };
            // TCP: only listeners (0A); UDP: every bound socket.
            if protocol == "tcp" && *state != "0A" {
                continue;
            }
            let port = local.rsplit(':').next().unwrap_or_default();
            if let Ok(port) = u32::from_str_radix(port, 16) {
                ports.insert(port);
            }
        }
    }
    Ok(ports)
}

/// Port specs (`ADDRESS:A-B:A-B/PROTOCOL`) for every port of `1..=65535`
/// outside `taken`, in runs.
fn specs_around(taken: &BTreeSet<u32>, protocol: &str) -> Vec<String> {
    let mut specs = Vec::new();
    let mut run_start = None;
    for port in 1..=EVERY_PORT + 1 {
        let free = port <= EVERY_PORT && !taken.contains(&port);
        match (free, run_start) {
            (true, None) => run_start = Some(port),
            (false, Some(first)) => {
                let last = port - 1;
                specs.push(format!(
                    "{ADDRESS}:{first}-{last}:{first}-{last}/{protocol}"
                ));
                run_start = None;
            }
            _ => {}
        }
    }
    specs
}

/// How many ports the specs of [`specs_around`] cover.
fn ports_in(taken: &BTreeSet<u32>) -> u32 {
    EVERY_PORT - taken.range(1..=EVERY_PORT).count() as u32
}

/// Publishes every port of the address (TCP and UDP) on `container`, with
/// the control-plane figures of the UDP ports: all in one command, and one
/// more port when all but one exist. TCP 8080, 8081 (nginx) and the fillers
/// `FILLER_BASE..FILLER_BASE + fillers` are published on every address
/// already; they count among the TCP ports.
fn publish_every_port(
    ebpfnet: &Ebpfnet,
    container: &str,
    fillers: u32,
    reps: usize,
) -> Result<(Vec<CpRow>, [u32; 2])> {
    let mut tcp_taken = host_ports_in_use("tcp")?;
    let tcp_in_use = ports_in(&tcp_taken);
    tcp_taken.insert(u32::from(PUBLISHED_PORT));
    tcp_taken.insert(u32::from(HTTP_PUBLISHED_PORT));
    tcp_taken.extend(u32::from(FILLER_BASE)..u32::from(FILLER_BASE) + fillers);
    let udp_taken = host_ports_in_use("udp")?;
    let counts = [tcp_in_use, ports_in(&udp_taken)];
    println!(
        "bench: every port of {ADDRESS}: publishing {} TCP and {} UDP ports (all but the \
         host's own)",
        counts[0], counts[1]
    );
    let mut tcp = ebpfnet.cli(["publish", "--container", container]);
    quiet(tcp.args(specs_around(&tcp_taken, "tcp")))?;
    let udp_specs = specs_around(&udp_taken, "udp");
    let mut bulk = Vec::new();
    for rep in 0..reps {
        bulk.push(timed(
            ebpfnet
                .cli(["publish", "--container", container])
                .args(&udp_specs),
        )?);
        if rep + 1 < reps {
            quiet(
                ebpfnet
                    .cli(["unpublish", "--container", container])
                    .args(&udp_specs),
            )?;
        }
    }
    let Some(last) = (1..=EVERY_PORT).rev().find(|p| !udp_taken.contains(p)) else {
        bail!("the host binds every UDP port");
    };
    let one = format!("{ADDRESS}:{last}:{last}/udp");
    let mut more = Vec::new();
    for _ in 0..reps {
        quiet(&mut ebpfnet.unpublish(&one, container))?;
        more.push(timed(&mut ebpfnet.publish(&one, container))?);
    }
    let rows = vec![
        CpRow {
            what: "publish N ports, one command",
            tool: "ebpfnet publish IP:A-B:A-B/udp ... (all but the host's)".into(),
            ports: counts[1],
            seconds: bulk,
            done_in_cap: None,
        },
        CpRow {
            what: "add 1 port when all others of an address exist",
            tool: "ebpfnet publish (CLI)".into(),
            ports: 1,
            seconds: more,
            done_in_cap: None,
        },
    ];
    Ok((rows, counts))
}

/// The UDP flows the datapath holds now: `NAT_OTHER` entries over two.
fn resident_flows(ebpfnet: &Ebpfnet) -> Result<u64> {
    let json = output(&mut ebpfnet.cli(["--format", "json", "status"]))?;
    let status: Value = serde_json::from_str(&json).context("ebpfnet status --format json")?;
    let maps = status.get("Maps").and_then(Value::as_array);
    let entries = maps
        .into_iter()
        .flatten()
        .find(|m| m.get("Name").and_then(Value::as_str) == Some("NAT_OTHER"))
        .and_then(|m| m.get("Entries"))
        .and_then(Value::as_u64)
        .context("ebpfnet status shows no NAT_OTHER map")?;
    Ok(entries / 2)
}

/// Sends one datagram from each resident flow's source; returns the time.
fn spray(loadgen: &Path) -> Result<f64> {
    check_interrupted()?;
    let target = format!("{ADDRESS}:80");
    let (sources, flows) = (SPRAY_SOURCES.to_string(), RESIDENT_FLOWS.to_string());
    let out = output(in_ns(&Kind::Ebpfnet.out_ns(), loadgen).args([
        "spray",
        "--target",
        &target,
        "--first-source",
        FIRST_SPRAY_SOURCE,
        "--sources",
        &sources,
        "--flows",
        &flows,
    ]))?;
    let json: Value =
        serde_json::from_str(out.trim()).with_context(|| format!("the spray printed {out:?}"))?;
    json.get("seconds")
        .and_then(Value::as_f64)
        .context("the spray printed no time")
}

/// One interleaved repetition of the tests on the direct veth and ebpfnet.
fn repetition(
    loadgen: &Path,
    rep: usize,
    seconds: f64,
    scale: u32,
    into: &mut Vec<Run>,
) -> Result<()> {
    for i in 0..KINDS.len() {
        let kind = KINDS[(i + rep) % KINDS.len()];
        for test in TESTS {
            let sample = load::run(loadgen, kind, test, seconds)?;
            println!(
                "  {scale:>7} rep {} {:<12} {:<7} {:>10.1} {}",
                rep + 1,
                kind.name(),
                test.name(),
                sample.value,
                test.unit()
            );
            into.push(Run {
                kind,
                scale,
                test,
                sample,
            });
        }
    }
    Ok(())
}

/// The bench daemon's maps (pinned under the bench's pin dir) and the
/// memory the kernel charges for each.
fn map_memory() -> Result<Vec<MapMemory>> {
    let mut maps = Vec::new();
    let mut dirs = vec![Path::new(PIN_DIR).to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in fs::read_dir(&dir).with_context(|| format!("{}", dir.display()))? {
            let path = entry?.path();
            if path.is_dir() {
                if path.file_name().is_some_and(|n| n != "links") {
                    dirs.push(path);
                }
                continue;
            }
            let Ok(json) = output(
                command("bpftool")
                    .args(["-j", "map", "show", "pinned"])
                    .arg(&path),
            ) else {
                // Not a map (a program pin).
                continue;
            };
            let map: Value = serde_json::from_str(&json).context("bpftool map show")?;
            let get = |field: &str| map.get(field).and_then(Value::as_u64).unwrap_or(0);
            // The pin's file name: the kernel keeps only 15 bytes of a map's
            // name (PUBLISHED_STATS6 shows as PUBLISHED_STATS).
            let pinned = path.file_name().map(|n| n.to_string_lossy().into_owned());
            let kernel_name = map.get("name").and_then(Value::as_str).map(str::to_string);
            maps.push(MapMemory {
                name: pinned.or(kernel_name).unwrap_or_else(|| "?".into()),
                max_entries: get("max_entries"),
                bytes: get("bytes_memlock"),
            });
        }
    }
    maps.sort_by_key(|m| std::cmp::Reverse(m.bytes));
    Ok(maps)
}

/// Runs both conditions; `fillers` TCP ports are published on every
/// address already, `reps` repetitions of `seconds` each.
pub fn measure(
    lab: &mut Lab,
    ebpfnet: &Ebpfnet,
    loadgen: &Path,
    fillers: u32,
    reps: usize,
    seconds: f64,
) -> Result<(Extremes, Vec<CpRow>)> {
    let container = Kind::Ebpfnet.srv_ns();
    let (control, published) = publish_every_port(ebpfnet, &container, fillers, reps)?;
    let mut extremes = Extremes {
        every_port: Vec::new(),
        resident: Vec::new(),
        resident_counts: Vec::new(),
        spray_seconds: Vec::new(),
        maps: Vec::new(),
        published,
    };
    for rep in 0..reps {
        lab.check_children()?;
        repetition(loadgen, rep, seconds, EVERY_PORT, &mut extremes.every_port)?;
    }
    println!("bench: {RESIDENT_FLOWS} UDP flows resident");
    for rep in 0..reps {
        lab.check_children()?;
        extremes.spray_seconds.push(spray(loadgen)?);
        let flows = resident_flows(ebpfnet)?;
        if flows < u64::from(RESIDENT_FLOWS) {
            bail!(
                "only {flows} of the {RESIDENT_FLOWS} sprayed flows are in the NAT table \
                 (NAT table size {NAT_TABLE_SIZE}); see `ebpfnet stats` drops"
            );
        }
        extremes.resident_counts.push(flows);
        repetition(
            loadgen,
            rep,
            seconds,
            RESIDENT_FLOWS,
            &mut extremes.resident,
        )?;
    }
    extremes.maps = map_memory()?;
    Ok((extremes, control))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_cover_every_port_but_the_taken_ones() {
        let taken: BTreeSet<u32> = [80, 2024, 2025, 8080].into_iter().collect();
        assert_eq!(
            specs_around(&taken, "tcp"),
            [
                "198.18.4.1:1-79:1-79/tcp",
                "198.18.4.1:81-2023:81-2023/tcp",
                "198.18.4.1:2026-8079:2026-8079/tcp",
                "198.18.4.1:8081-65535:8081-65535/tcp",
            ]
        );
        assert_eq!(ports_in(&taken), EVERY_PORT - 4);
    }

    #[test]
    fn nothing_taken_is_one_range() {
        assert_eq!(
            specs_around(&BTreeSet::new(), "udp"),
            ["198.18.4.1:1-65535:1-65535/udp"]
        );
        let last_taken: BTreeSet<u32> = [1, 65_535].into_iter().collect();
        assert_eq!(
            specs_around(&last_taken, "udp"),
            ["198.18.4.1:2-65534:2-65534/udp"]
        );
    }
}
