//! `ebpfnet daemon`.

use std::path::PathBuf;

use clap::Args;
use ipnetwork::Ipv4Network;

use crate::{
    controller::{GuardInterfaces, masquerade::MasqueradeOptions},
    daemon::{self, DaemonOptions},
    datapath::MapSizes,
};

#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Host interface where outside traffic arrives (repeatable; default:
    /// the interface of the default route).
    #[arg(long = "uplink", value_name = "IFACE")]
    pub uplinks: Vec<String>,
    /// Where the desired state is saved.
    #[arg(long, default_value = "/var/lib/ebpfnet")]
    pub state_dir: PathBuf,
    /// Where maps and links are pinned (on bpffs).
    #[arg(long, default_value = "/sys/fs/bpf/ebpfnet")]
    pub pin_dir: PathBuf,
    /// Subnet of the default `bridge` network (Docker's is 172.17.0.0/16).
    #[arg(long, default_value = "10.214.0.0/16")]
    pub default_subnet: Ipv4Network,
    /// Bridge device of the default network, made at first start (Docker's
    /// `dockerd --bridge`); lets two daemons with separate state share a host.
    #[arg(long, default_value = crate::names::DEFAULT_BRIDGE, value_parser = parse_bridge)]
    pub bridge: String,
    /// Entries in each NAT table (TCP, and UDP/ICMP); a flow takes two.
    /// Tables never evict a flow: when full, new flows are refused.
    #[arg(long, value_name = "ENTRIES", default_value_t = ebpfnet_common::names::NAT_CAPACITY,
          value_parser = clap::value_parser!(u32).range(1024..=1 << 26))]
    pub nat_table_size: u32,
    /// Masquerade source ports (default: every port above the host's
    /// net.ipv4.ip_local_port_range); must lie outside that range.
    #[arg(long, value_name = "LOW-HIGH", value_parser = parse_port_range)]
    pub masquerade_port_range: Option<(u16, u16)>,
    /// Masquerade ports one container may hold towards one destination
    /// (address, port, protocol); default: half the range.
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub masquerade_ports_per_destination: Option<u16>,
    /// Host interfaces kept from reaching container addresses directly:
    /// `all` drops what the host forwards to a container from any interface
    /// that is not a container's; `uplinks` guards only the uplinks, for
    /// hosts that route to containers on purpose.
    #[arg(long, value_enum, default_value = "all")]
    pub guard_interfaces: GuardInterfaces,
}

fn parse_port_range(text: &str) -> Result<(u16, u16), String> {
    let parsed = text
        .split_once('-')
        .and_then(|(low, high)| Some((low.parse().ok()?, high.parse().ok()?)));
    match parsed {
        Some((low, high)) if low <= high => Ok((low, high)),
        _ => Err("a port range LOW-HIGH, such as 61000-65535".into()),
    }
}

fn parse_bridge(name: &str) -> Result<String, String> {
    let valid = !name.is_empty()
        && name.len() <= 15
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if valid {
        Ok(name.to_string())
    } else {
        Err("an interface name: 1 to 15 letters, digits, '-', '_' or '.'".into())
    }
}

pub async fn run(args: DaemonArgs, socket: PathBuf) -> anyhow::Result<()> {
    daemon::run(DaemonOptions {
        socket,
        uplinks: args.uplinks,
        state_dir: args.state_dir,
        pin_dir: args.pin_dir,
        default_subnet: args.default_subnet,
        default_bridge: args.bridge,
        map_sizes: MapSizes {
            nat_entries: args.nat_table_size,
        },
        masquerade: MasqueradeOptions {
            range: args.masquerade_port_range,
            per_destination: args.masquerade_ports_per_destination,
        },
        guard_interfaces: args.guard_interfaces,
    })
    .await
}
