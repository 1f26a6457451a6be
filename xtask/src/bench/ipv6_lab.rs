//! The IPv6 phase's lab: the same published-port and masquerade paths as
//! the IPv4 phases, over IPv6, each variant in namespaces of its own (the
//! ebpfnet daemon too, so nothing of the host's network is touched).
//!
//! ```text
//! direct:  ebnb-6d-out eth0 fd00:eb:0::1 <-> eth0 fd00:eb:0::2 ebnb-6d-srv
//! rules:   ebnb-6X-out eth0 2001:db8:eb:N::2 <-> up0 2001:db8:eb:N::1
//!          [ebnb-6X-host: ip6tables-nft or nft rules, forwarding]
//!          br0 fd00:eb:N::1 -- vsrv <-> eth0 fd00:eb:N::2 ebnb-6X-srv
//! ebpfnet: ebnb-6e-out eth0 2001:db8:eb:3::2 <-> eth0 2001:db8:eb:3::1
//!          [ebnb-6e-host: daemon, uplink eth0]; network ebnb6
//!          (fd00:eb:3::/64), container ebnb-6e-srv fd00:eb:3::2
//! ```
//!
//! The outside namespaces have no route to the ULA subnets: replies come
//! back only through the variant's NAT (DNAT for published ports, NAT66
//! masquerade outbound).

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::lab::{DIR, Lab, quiet};
use super::load::{self, Sample, Test};
use super::netns_daemon::NetnsDaemon;
use super::phase::PhasePath;
use super::rules::{self, Addressing, Mapping};
use super::topology::{OUTSIDE_PORT, PUBLISHED_PORT, SERVER_PORT, in_ns, ip_n, tune_ns, up, veth};
use crate::interrupt::check_interrupted;

const EBPFNET_NETWORK: &str = "ebnb6";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Path6 {
    Direct,
    Ip6tablesNft,
    NftMap,
    Ebpfnet,
}

impl PhasePath for Path6 {
    fn name(self) -> &'static str {
        match self {
            Path6::Direct => "direct-veth",
            Path6::Ip6tablesNft => "ip6tables-nft",
            Path6::NftMap => "nft-map",
            Path6::Ebpfnet => "ebpfnet",
        }
    }

    fn title(self) -> &'static str {
        match self {
            Path6::Direct => "direct veth (no NAT)",
            Path6::Ip6tablesNft => "ip6tables-nft (Docker's rules)",
            Path6::NftMap => "nft, one verdict map",
            Path6::Ebpfnet => "ebpfnet",
        }
    }
}

impl Path6 {
    pub const ALL: [Path6; 4] = [
        Path6::Direct,
        Path6::Ip6tablesNft,
        Path6::NftMap,
        Path6::Ebpfnet,
    ];

    fn index(self) -> u8 {
        self as u8
    }

    fn tag(self) -> &'static str {
        ["6d", "6n", "6m", "6e"][self as usize]
    }

    fn ns(self, role: &str) -> String {
        format!("ebnb-{}-{role}", self.tag())
    }

    /// The server ("container") namespace.
    pub fn srv_ns(self) -> String {
        self.ns("srv")
    }

    fn out_ns(self) -> String {
        self.ns("out")
    }

    /// The "host" namespace (rules or the ebpfnet daemon).
    pub fn host_ns(self) -> String {
        self.ns("host")
    }

    fn subnet(self) -> String {
        format!("fd00:eb:{}::/64", self.index())
    }

    fn server_ip(self) -> String {
        format!("fd00:eb:{}::2", self.index())
    }

    /// The host's (or, direct, the client's) address on the outside link.
    fn outside_host_ip(self) -> String {
        match self {
            Path6::Direct => format!("fd00:eb:{}::1", self.index()),
            _ => format!("2001:db8:eb:{}::1", self.index()),
        }
    }

    fn outside_client_ip(self) -> String {
        match self {
            Path6::Direct => self.outside_host_ip(),
            _ => format!("2001:db8:eb:{}::2", self.index()),
        }
    }

    fn addressing(self) -> Addressing {
        Addressing {
            family: "ip6",
            subnet: self.subnet(),
            server_ip: self.server_ip(),
            host_bits: 128,
            loopback: "::1/128",
        }
    }

    /// One run of `test`: inbound tests from the outside namespace to the
    /// published port, masquerade from the container out.
    pub fn run(self, loadgen: &Path, test: Test, seconds: f64) -> Result<Sample> {
        let (ns, target) = match test {
            Test::MasqCrr => (
                self.srv_ns(),
                format!("[{}]:{OUTSIDE_PORT}", self.outside_client_ip()),
            ),
            _ if self == Path6::Direct => (
                self.out_ns(),
                format!("[{}]:{SERVER_PORT}", self.server_ip()),
            ),
            _ => (
                self.out_ns(),
                format!("[{}]:{PUBLISHED_PORT}", self.outside_host_ip()),
            ),
        };
        load::run_client(loadgen, &ns, test, &target, seconds)
    }
}

/// `ip -n NS -6 addr add CIDR dev DEV nodad` (usable at once).
fn addr6(ns: &str, cidr: &str, dev: &str) -> Result<()> {
    ip_n(ns, &["-6", "addr", "add", cidr, "dev", dev, "nodad"])
}

/// The published mapping (and nothing else: the IPv4 phases measure
/// scaling).
const MAPPING: Mapping = Mapping {
    host_port: PUBLISHED_PORT,
    container_port: SERVER_PORT,
};

/// A variant with rules: host namespace, bridge, server behind it.
fn ruled(lab: &mut Lab, path: Path6) -> Result<()> {
    let (out, host, srv) = (path.out_ns(), path.host_ns(), path.srv_ns());
    for ns in [&out, &host, &srv] {
        lab.add_netns(ns)?;
    }
    veth(&host, "up0", &out, "eth0")?;
    veth(&host, "vsrv", &srv, "eth0")?;
    ip_n(&host, &["link", "add", "br0", "type", "bridge"])?;
    ip_n(&host, &["link", "set", "vsrv", "master", "br0"])?;
    addr6(&host, &format!("{}/64", path.outside_host_ip()), "up0")?;
    addr6(&host, &format!("fd00:eb:{}::1/64", path.index()), "br0")?;
    addr6(&out, &format!("{}/64", path.outside_client_ip()), "eth0")?;
    addr6(&srv, &format!("{}/64", path.server_ip()), "eth0")?;
    up(&host, &["lo", "up0", "br0", "vsrv"])?;
    up(&out, &["lo", "eth0"])?;
    up(&srv, &["lo", "eth0"])?;
    let gateway = format!("fd00:eb:{}::1", path.index());
    ip_n(&srv, &["-6", "route", "add", "default", "via", &gateway])?;
    quiet(in_ns(&host, "sysctl").args(["-qw", "net.ipv6.conf.all.forwarding=1"]))?;
    let to = path.addressing();
    let (file, mut load) = if path == Path6::NftMap {
        let file = format!("{DIR}/ipv6-nft-map.nft");
        std::fs::write(&file, rules::nft_ruleset(&to, &[MAPPING]))?;
        let mut cmd = in_ns(&host, "nft");
        cmd.arg("-f");
        (file, cmd)
    } else {
        let file = format!("{DIR}/ipv6-ip6tables-nft.rules");
        std::fs::write(&file, rules::iptables_ruleset(&to, &[MAPPING]))?;
        (file, in_ns(&host, "ip6tables-nft-restore"))
    };
    quiet(load.arg(&file))?;
    tune_ns(&out, false)?;
    tune_ns(&host, true)?;
    tune_ns(&srv, false)
}

fn direct(lab: &mut Lab) -> Result<()> {
    let (out, srv) = (Path6::Direct.out_ns(), Path6::Direct.srv_ns());
    lab.add_netns(&out)?;
    lab.add_netns(&srv)?;
    veth(&out, "eth0", &srv, "eth0")?;
    addr6(
        &out,
        &format!("{}/64", Path6::Direct.outside_host_ip()),
        "eth0",
    )?;
    addr6(&srv, &format!("{}/64", Path6::Direct.server_ip()), "eth0")?;
    up(&out, &["lo", "eth0"])?;
    up(&srv, &["lo", "eth0"])?;
    tune_ns(&out, false)?;
    tune_ns(&srv, false)
}

fn ebpfnet(lab: &mut Lab, binary: &Path) -> Result<NetnsDaemon> {
    let path = Path6::Ebpfnet;
    let (out, host, srv) = (path.out_ns(), path.host_ns(), path.srv_ns());
    lab.add_netns(&out)?;
    lab.add_netns(&host)?;
    veth(&host, "eth0", &out, "eth0")?;
    // The uplink has IPv4 too, as a real host's: the default network
    // needs it, the measured paths do not use it.
    ip_n(&host, &["addr", "add", "198.18.13.1/24", "dev", "eth0"])?;
    ip_n(&out, &["addr", "add", "198.18.13.2/24", "dev", "eth0"])?;
    addr6(&host, &format!("{}/64", path.outside_host_ip()), "eth0")?;
    addr6(&out, &format!("{}/64", path.outside_client_ip()), "eth0")?;
    up(&host, &["lo", "eth0"])?;
    up(&out, &["lo", "eth0"])?;
    tune_ns(&out, false)?;
    let daemon = NetnsDaemon::new(binary, &host);
    daemon.start(
        lab,
        &["--uplink", "eth0", "--default-subnet", "10.213.0.0/24"],
    )?;
    let subnet = path.subnet();
    quiet(&mut daemon.cli(&[
        "network",
        "create",
        "--ipv6",
        "--subnet",
        "10.223.0.0/24",
        "--subnet",
        &subnet,
        EBPFNET_NETWORK,
    ]))?;
    let ip6 = path.server_ip();
    quiet(&mut daemon.cli(&[
        "container",
        "create",
        &srv,
        "--network",
        EBPFNET_NETWORK,
        "--ip6",
        &ip6,
    ]))?;
    tune_ns(&srv, false)?;
    let spec = format!("[::]:{PUBLISHED_PORT}:{SERVER_PORT}");
    quiet(&mut daemon.cli(&["publish", &spec, "--container", &srv]))?;
    Ok(daemon)
}

/// Everything of the phase, servers started and every path probed;
/// answers the ebpfnet daemon.
pub fn create(lab: &mut Lab, binary: &Path, loadgen: &Path) -> Result<NetnsDaemon> {
    direct(lab)?;
    ruled(lab, Path6::Ip6tablesNft)?;
    ruled(lab, Path6::NftMap)?;
    let daemon = ebpfnet(lab, binary)?;
    for path in Path6::ALL {
        lab.spawn(
            &format!("ipv6-{}-server", path.name()),
            in_ns(&path.srv_ns(), loadgen).args([
                "server",
                "--listen",
                &format!("[::]:{SERVER_PORT}"),
            ]),
        )?;
        lab.spawn(
            &format!("ipv6-{}-outside-server", path.name()),
            in_ns(&path.out_ns(), loadgen).args([
                "server",
                "--listen",
                &format!("[::]:{OUTSIDE_PORT}"),
            ]),
        )?;
    }
    for path in Path6::ALL {
        for test in [Test::Rr, Test::MasqCrr] {
            let deadline = Instant::now() + Duration::from_secs(10);
            while let Err(err) = path.run(loadgen, test, 0.2) {
                check_interrupted()?;
                lab.check_children()?;
                if Instant::now() > deadline {
                    bail!(
                        "IPv6 {} does not work for {}: {err:#}",
                        test.name(),
                        path.name()
                    );
                }
                sleep(Duration::from_millis(300));
            }
        }
    }
    Ok(daemon)
}
