//! The variants' namespaces and links. Docker-style variants get a whole
//! "host" namespace of their own (bridge, uplink veth, rules), so the real
//! host's iptables and nftables are never touched; only ebpfnet runs in the
//! host namespace, as it would in production.
//!
//! ```text
//! direct:   ebnb-d-out eth0 10.200.0.1 <-> eth0 10.200.0.2 ebnb-d-srv
//! docker:   ebnb-X-out eth0 198.18.N.2 <-> up0 198.18.N.1 [ebnb-X-host, rules]
//!           br0 10.20N.0.1 -- vsrv <-> eth0 10.20N.0.2 ebnb-X-srv
//! ebpfnet:  ebnb-e-out eth0 198.18.4.2 <-> ebnb-up0 198.18.4.1 [host]
//!           daemon: bridge ebnb-br0, 10.204.0.0/24, container ebnb-e-srv
//! ```

use std::path::Path;
use std::process::Command;

use anyhow::Result;

use super::lab::{Lab, quiet};
use crate::cmd::command;

/// Port the servers listen on in the server namespaces.
pub const SERVER_PORT: u16 = 80;
/// Host port published for the measured mapping (-> SERVER_PORT).
pub const PUBLISHED_PORT: u16 = 8080;
/// Port nginx listens on in the server namespaces (test `http`).
pub const HTTP_SERVER_PORT: u16 = 81;
/// Host port published for nginx (-> HTTP_SERVER_PORT), on every variant.
pub const HTTP_PUBLISHED_PORT: u16 = 8081;
/// Port of the echo server in the outside namespace (masquerade runs).
pub const OUTSIDE_PORT: u16 = 9000;
/// First host port of the filler mappings used to scale.
pub const FILLER_BASE: u16 = 20000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Direct,
    IptablesNft,
    IptablesLegacy,
    NftMap,
    Ebpfnet,
}

impl Kind {
    pub const ALL: [Kind; 5] = [
        Kind::Direct,
        Kind::IptablesNft,
        Kind::IptablesLegacy,
        Kind::NftMap,
        Kind::Ebpfnet,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Kind::Direct => "direct-veth",
            Kind::IptablesNft => "iptables-nft",
            Kind::IptablesLegacy => "iptables-legacy",
            Kind::NftMap => "nft-map",
            Kind::Ebpfnet => "ebpfnet",
        }
    }

    /// Index in the address plan (198.18.N.0/24, 10.20N.0.0/24).
    pub fn index(self) -> u8 {
        self as u8
    }

    fn tag(self) -> &'static str {
        ["d", "nft", "leg", "map", "e"][self as usize]
    }

    pub fn out_ns(self) -> String {
        format!("ebnb-{}-out", self.tag())
    }

    /// The namespace holding the rules (not used by direct and ebpfnet).
    pub fn host_ns(self) -> String {
        format!("ebnb-{}-host", self.tag())
    }

    /// The server ("container") namespace.
    pub fn srv_ns(self) -> String {
        format!("ebnb-{}-srv", self.tag())
    }

    pub fn subnet(self) -> String {
        format!("10.20{}.0.0/24", self.index())
    }

    pub fn server_ip(self) -> String {
        format!("10.20{}.0.2", self.index())
    }

    /// Where the outside client connects for the published port.
    pub fn inbound_target(self) -> String {
        match self {
            Kind::Direct => format!("{}:{SERVER_PORT}", self.server_ip()),
            _ => format!("198.18.{}.1:{PUBLISHED_PORT}", self.index()),
        }
    }

    /// Where wrk connects for nginx's published port.
    pub fn http_target(self) -> String {
        match self {
            Kind::Direct => format!("{}:{HTTP_SERVER_PORT}", self.server_ip()),
            _ => format!("198.18.{}.1:{HTTP_PUBLISHED_PORT}", self.index()),
        }
    }

    /// Where the container connects out to (through masquerade).
    pub fn outbound_target(self) -> String {
        match self {
            Kind::Direct => format!("10.200.0.1:{OUTSIDE_PORT}"),
            _ => format!("198.18.{}.2:{OUTSIDE_PORT}", self.index()),
        }
    }
}

/// The ebpfnet variant's uplink in the host namespace.
pub const EBPFNET_UPLINK: &str = "ebnb-up0";
pub const EBPFNET_BRIDGE: &str = "ebnb-br0";

/// `ip -n NS ARGS`.
pub fn ip_n(ns: &str, args: &[&str]) -> Result<()> {
    quiet(command("ip").args(["-n", ns]).args(args))
}

/// `ip netns exec NS PROGRAM ARGS`.
pub fn in_ns(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut cmd = command("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

/// Settings for connection-rate runs (DESIGN §6): without them port reuse
/// meets TIME_WAIT sockets and conntrack entries and SYNs are retransmitted.
/// Set inside the bench's own namespaces, which go away at the end.
pub fn tune_ns(ns: &str, conntrack: bool) -> Result<()> {
    let mut settings = vec!["net.ipv4.tcp_max_tw_buckets=0"];
    if conntrack {
        settings.push("net.netfilter.nf_conntrack_tcp_timeout_time_wait=1");
    }
    quiet(in_ns(ns, "sysctl").arg("-qw").args(settings))
}

pub fn veth(ns_a: &str, a: &str, ns_b: &str, b: &str) -> Result<()> {
    let mut cmd = command("ip");
    cmd.args(["link", "add", a]);
    if !ns_a.is_empty() {
        cmd.args(["netns", ns_a]);
    }
    cmd.args(["type", "veth", "peer", "name", b, "netns", ns_b]);
    quiet(&mut cmd)
}

pub fn up(ns: &str, links: &[&str]) -> Result<()> {
    for link in links {
        ip_n(ns, &["link", "set", link, "up"])?;
    }
    Ok(())
}

/// Namespaces and links of one variant (not ebpfnet's container, which
/// its daemon makes).
pub fn create(lab: &mut Lab, kind: Kind) -> Result<()> {
    let out = kind.out_ns();
    let srv = kind.srv_ns();
    let n = kind.index();
    lab.add_netns(&out)?;
    match kind {
        Kind::Direct => {
            lab.add_netns(&srv)?;
            veth(&out, "eth0", &srv, "eth0")?;
            ip_n(&out, &["addr", "add", "10.200.0.1/24", "dev", "eth0"])?;
            ip_n(&srv, &["addr", "add", "10.200.0.2/24", "dev", "eth0"])?;
            up(&out, &["lo", "eth0"])?;
            up(&srv, &["lo", "eth0"])?;
            tune_ns(&out, false)?;
            tune_ns(&srv, false)?;
        }
        Kind::Ebpfnet => {
            lab.track_link(EBPFNET_UPLINK);
            veth("", EBPFNET_UPLINK, &out, "eth0")?;
            let host_addr = format!("198.18.{n}.1/24");
            quiet(command("ip").args(["addr", "add", &host_addr, "dev", EBPFNET_UPLINK]))?;
            quiet(command("ip").args(["link", "set", EBPFNET_UPLINK, "up"]))?;
            ip_n(
                &out,
                &["addr", "add", &format!("198.18.{n}.2/24"), "dev", "eth0"],
            )?;
            up(&out, &["lo", "eth0"])?;
            tune_ns(&out, false)?;
        }
        _ => {
            let host = kind.host_ns();
            lab.add_netns(&host)?;
            lab.add_netns(&srv)?;
            veth(&host, "up0", &out, "eth0")?;
            veth(&host, "vsrv", &srv, "eth0")?;
            ip_n(&host, &["link", "add", "br0", "type", "bridge"])?;
            ip_n(&host, &["link", "set", "vsrv", "master", "br0"])?;
            ip_n(
                &host,
                &["addr", "add", &format!("198.18.{n}.1/24"), "dev", "up0"],
            )?;
            ip_n(
                &host,
                &["addr", "add", &format!("10.20{n}.0.1/24"), "dev", "br0"],
            )?;
            up(&host, &["lo", "up0", "br0", "vsrv"])?;
            ip_n(
                &out,
                &["addr", "add", &format!("198.18.{n}.2/24"), "dev", "eth0"],
            )?;
            up(&out, &["lo", "eth0"])?;
            ip_n(
                &srv,
                &["addr", "add", &format!("10.20{n}.0.2/24"), "dev", "eth0"],
            )?;
            up(&srv, &["lo", "eth0"])?;
            ip_n(
                &srv,
                &["route", "add", "default", "via", &format!("10.20{n}.0.1")],
            )?;
            quiet(in_ns(&host, "sysctl").args(["-qw", "net.ipv4.ip_forward=1"]))?;
            tune_ns(&out, false)?;
            tune_ns(&host, true)?;
            tune_ns(&srv, false)?;
        }
    }
    Ok(())
}

/// Starts the echo/sink servers: in the server namespace on SERVER_PORT and
/// in the outside namespace on OUTSIDE_PORT.
pub fn start_servers(lab: &mut Lab, kind: Kind, loadgen: &Path) -> Result<()> {
    let srv_listen = format!("0.0.0.0:{SERVER_PORT}");
    let out_listen = format!("0.0.0.0:{OUTSIDE_PORT}");
    let srv = kind.srv_ns();
    let out = kind.out_ns();
    lab.spawn(
        &format!("{}-server", kind.name()),
        in_ns(&srv, loadgen).args(["server", "--listen", &srv_listen]),
    )?;
    lab.spawn(
        &format!("{}-outside-server", kind.name()),
        in_ns(&out, loadgen).args(["server", "--listen", &out_listen]),
    )
}
