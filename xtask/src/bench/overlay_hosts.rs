//! The overlay phase's two "hosts": network namespaces joined by one veth
//! pair (the underlay; nothing of the real host's network, bridges or
//! netfilter between them), each running its own ebpfnet daemon joined to
//! one etcd, and the three paths measured between them.
//!
//! ```text
//! underlay:  ebnb-o-h1 eth0 198.18.10.1 <-> eth0 198.18.10.2 ebnb-o-h2
//!            etcd in ebnb-o-h1 on 198.18.10.1; a daemon in each host
//! overlay:   ebnb-o-c1 10.210.0.2 -[ebpfnet, VXLAN 4789]- 10.210.0.3 ebnb-o-c2
//! vxlan:     ebnb-x-c1 10.211.0.1 - vbr0 + vx0 (kernel VXLAN, VNI 4242,
//!            UDP 4790, static remote) ... vx0 + vbr0 - 10.211.0.2 ebnb-x-c2
//! ```
//!
//! The plain VXLAN device uses UDP 4790: ebpfnet's collect-metadata device
//! holds 4789 in the same namespaces. All three paths cross the same
//! underlay and the daemons' uplink programs on `eth0`.

use std::path::Path;
use std::thread::sleep;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};

use super::etcd;
use super::lab::{Lab, quiet};
use super::load::{self, Test};
use super::netns_daemon::NetnsDaemon;
use super::phase::PhasePath;
use super::topology::{SERVER_PORT, in_ns, ip_n, tune_ns, up, veth};
use crate::interrupt::check_interrupted;

/// The two hosts' namespaces.
pub const HOSTS: [&str; 2] = ["ebnb-o-h1", "ebnb-o-h2"];
/// ebpfnet's containers (one per host), made by the daemons.
pub const OVERLAY_CONTAINERS: [&str; 2] = ["ebnb-o-c1", "ebnb-o-c2"];
const OVERLAY_IPS: [&str; 2] = ["10.210.0.2", "10.210.0.3"];
const OVERLAY_NETWORK: &str = "ebnb-ovl";
const OVERLAY_SUBNET: &str = "10.210.0.0/24";
/// The plain VXLAN's "containers".
pub const VXLAN_CONTAINERS: [&str; 2] = ["ebnb-x-c1", "ebnb-x-c2"];
const VXLAN_IPS: [&str; 2] = ["10.211.0.1", "10.211.0.2"];
const VXLAN_PORT: &str = "4790";
const VXLAN_VNI: &str = "4242";
/// VXLAN's 50 bytes off a 1500-byte underlay, as ebpfnet's overlay.
const MTU: &str = "1450";

pub fn underlay_ip(host: usize) -> String {
    format!("198.18.10.{}", host + 1)
}

/// The measured paths, client on host 1, server on host 2.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HostPath {
    Overlay,
    Vxlan,
    Underlay,
}

impl HostPath {
    pub const ALL: [HostPath; 3] = [HostPath::Overlay, HostPath::Vxlan, HostPath::Underlay];

    /// (client namespace, server namespace, server address).
    fn ends(self) -> (&'static str, &'static str, String) {
        let (client, server, ip) = match self {
            HostPath::Overlay => (
                OVERLAY_CONTAINERS[0],
                OVERLAY_CONTAINERS[1],
                OVERLAY_IPS[1].to_string(),
            ),
            HostPath::Vxlan => (
                VXLAN_CONTAINERS[0],
                VXLAN_CONTAINERS[1],
                VXLAN_IPS[1].to_string(),
            ),
            HostPath::Underlay => (HOSTS[0], HOSTS[1], underlay_ip(1)),
        };
        (client, server, format!("{ip}:{SERVER_PORT}"))
    }

    pub fn run(self, loadgen: &Path, test: Test, seconds: f64) -> Result<load::Sample> {
        let (client, _, target) = self.ends();
        load::run_client(loadgen, client, test, &target, seconds)
    }
}

impl PhasePath for HostPath {
    fn name(self) -> &'static str {
        match self {
            HostPath::Overlay => "ebpfnet-overlay",
            HostPath::Vxlan => "kernel-vxlan",
            HostPath::Underlay => "underlay",
        }
    }

    fn title(self) -> &'static str {
        match self {
            HostPath::Overlay => "ebpfnet overlay (VXLAN by the eBPF programs)",
            HostPath::Vxlan => "kernel VXLAN device + bridge (static remote)",
            HostPath::Underlay => "underlay, host to host (no encapsulation)",
        }
    }
}

/// The underlay: the hosts' namespaces and the veth pair between them.
fn underlay(lab: &mut Lab) -> Result<()> {
    for ns in HOSTS {
        lab.add_netns(ns)?;
    }
    veth(HOSTS[0], "eth0", HOSTS[1], "eth0")?;
    for (host, ns) in HOSTS.iter().enumerate() {
        ip_n(
            ns,
            &[
                "addr",
                "add",
                &format!("{}/24", underlay_ip(host)),
                "dev",
                "eth0",
            ],
        )?;
        up(ns, &["lo", "eth0"])?;
        tune_ns(ns, false)?;
    }
    Ok(())
}

/// A kernel VXLAN device and a bridge in each host, a namespace behind
/// each as the container.
fn plain_vxlan(lab: &mut Lab) -> Result<()> {
    for (host, ns) in HOSTS.iter().enumerate() {
        let container = VXLAN_CONTAINERS[host];
        lab.add_netns(container)?;
        let (local, remote) = (underlay_ip(host), underlay_ip(1 - host));
        // With br_netfilter loaded (as on a Docker host) a new namespace's
        // bridges hand IPv4 to netfilter; the plain VXLAN's bridge is
        // measured without that detour (per namespace, kernel 5.3+).
        quiet(in_ns(ns, "sysctl").args([
            "-qew",
            "net.bridge.bridge-nf-call-iptables=0",
            "net.bridge.bridge-nf-call-arptables=0",
        ]))?;
        ip_n(
            ns,
            &[
                "link", "add", "vx0", "type", "vxlan", "id", VXLAN_VNI, "local", &local, "remote",
                &remote, "dstport", VXLAN_PORT, "dev", "eth0",
            ],
        )?;
        ip_n(ns, &["link", "set", "vx0", "mtu", MTU])?;
        ip_n(ns, &["link", "add", "vbr0", "type", "bridge"])?;
        veth(ns, "vc0", container, "eth0")?;
        for link in ["vx0", "vc0"] {
            ip_n(ns, &["link", "set", link, "master", "vbr0"])?;
        }
        ip_n(ns, &["link", "set", "vc0", "mtu", MTU])?;
        up(ns, &["vx0", "vc0", "vbr0"])?;
        let cidr = format!("{}/24", VXLAN_IPS[host]);
        ip_n(container, &["link", "set", "eth0", "mtu", MTU])?;
        ip_n(container, &["addr", "add", &cidr, "dev", "eth0"])?;
        up(container, &["lo", "eth0"])?;
        tune_ns(container, false)?;
    }
    Ok(())
}

/// Everything of the phase, the servers started; answers the daemons.
pub fn create(lab: &mut Lab, binary: &Path, loadgen: &Path) -> Result<Vec<NetnsDaemon>> {
    underlay(lab)?;
    let etcd = etcd::start(lab, HOSTS[0], &underlay_ip(0))?;
    let daemons: Vec<NetnsDaemon> = HOSTS
        .iter()
        .map(|ns| NetnsDaemon::new(binary, ns))
        .collect();
    let store = format!("etcd://{etcd}");
    for (host, daemon) in daemons.iter().enumerate() {
        let advertise = underlay_ip(host);
        daemon.start(
            lab,
            &[
                "--uplink",
                "eth0",
                "--cluster-store",
                &store,
                "--advertise-addr",
                &advertise,
            ],
        )?;
    }
    quiet(&mut daemons[0].cli(&[
        "network",
        "create",
        "-d",
        "overlay",
        "--subnet",
        OVERLAY_SUBNET,
        OVERLAY_NETWORK,
    ]))?;
    for (host, daemon) in daemons.iter().enumerate() {
        // The other host learns of the network through its watch.
        let create = [
            "container",
            "create",
            OVERLAY_CONTAINERS[host],
            "--network",
            OVERLAY_NETWORK,
            "--ip",
            OVERLAY_IPS[host],
        ];
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(err) = quiet(&mut daemon.cli(&create)) {
            check_interrupted()?;
            if Instant::now() > deadline {
                return Err(err.context(format!("creating {}", OVERLAY_CONTAINERS[host])));
            }
            sleep(Duration::from_millis(200));
        }
        tune_ns(OVERLAY_CONTAINERS[host], false)?;
    }
    plain_vxlan(lab)?;
    for path in HostPath::ALL {
        let (_, server, _) = path.ends();
        let listen = format!("0.0.0.0:{SERVER_PORT}");
        lab.spawn(
            &format!("{}-server", path.name()),
            in_ns(server, loadgen).args(["server", "--listen", &listen]),
        )?;
    }
    // The overlay works once each host has the other's container in its
    // map (a second or two after the create).
    for path in HostPath::ALL {
        let deadline = Instant::now() + Duration::from_secs(15);
        while let Err(err) = path.run(loadgen, Test::Rr, 0.2) {
            check_interrupted()?;
            lab.check_children()?;
            if Instant::now() > deadline {
                bail!("{} does not work: {err:#}", path.name());
            }
            sleep(Duration::from_millis(300));
        }
    }
    Ok(daemons)
}
