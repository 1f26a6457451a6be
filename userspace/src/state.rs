//! Desired state (networks, containers, addresses, ports) and its store.
//!
//! The store writes a new file and renames it over the old one, with fsyncs
//! around, so a crash at any moment leaves either the old or the new state.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr},
    path::PathBuf,
};

use ipnetwork::{Ipv4Network, Ipv6Network};
use serde::{Deserialize, Serialize};

mod port_runs;
mod store;

#[cfg(test)]
use store::STATE_FILE;
pub use store::{Store, StoreError, decode, encode};

use crate::{
    netconf::{HostEntry, LinkSpec},
    portspec::PortMapping,
};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub id: String,
    pub name: String,
    /// The network's IPv4 subnet and gateway; both `None` on an IPv6-only
    /// network (`--ipv4=false`), both there on every other.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Ipv4Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    pub internal: bool,
    /// Host bridge device.
    pub bridge: String,
    /// RFC 3339.
    pub created: String,
    /// Small number naming the network in the datapath's maps
    /// (`network_id`); 0 in files written before it existed, until the
    /// daemon assigns one at start.
    #[serde(default)]
    pub number: u32,
    /// A macvlan or ipvlan network (`-d macvlan|ipvlan`); `None` for a
    /// bridge network. Such a network has no bridge (`bridge` is empty).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lan: Option<Box<crate::lan::LanNetwork>>,
    /// Who removes it when not ebpfnet's own commands: `None` in files
    /// written before owners were kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<NetworkOwner>,
    /// The network's IPv6 subnet and gateway (`--ipv6`); `None` for an
    /// IPv4-only network (and in files written before IPv6 existed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Config>,
    /// This host's side of a global overlay network (`-d overlay`, kept
    /// in the cluster store): a bridge as a bridge network has, whose
    /// containers reach the network's containers on other hosts over
    /// VXLAN. `None` for a local network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlay: Option<OverlayLink>,
    /// IPv6 routed mode (`-o com.docker.network.bridge.gateway_mode_ipv6=routed`):
    /// its containers' IPv6 leaves with their own addresses (no NAT66) and
    /// outside hosts reach their published container ports directly.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub routed6: bool,
}

/// A network's IPv4 side: its subnet and the gateway address on its bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ipv4Config {
    pub subnet: Ipv4Network,
    pub gateway: Ipv4Addr,
}

impl Network {
    /// Its IPv4 subnet and gateway; `None` on an IPv6-only network.
    pub fn ipv4(&self) -> Option<Ipv4Config> {
        Some(Ipv4Config {
            subnet: self.subnet?,
            gateway: self.gateway?,
        })
    }

    /// Its bridge's MAC: 02:42 + the gateway's IPv4 address (its IPv6
    /// one's last 32 bits on an IPv6-only network), as containers' MACs are
    /// 02:42 + theirs (the gateway is never a container's address). Fixed,
    /// as Docker sets it: a bridge without an address of its own takes its
    /// ports' lowest and changes it as veths come and go.
    pub fn bridge_mac(&self) -> [u8; 6] {
        match (self.gateway, self.ipv6) {
            (Some(gateway), _) => crate::ids::mac_for(gateway),
            (None, Some(six)) => crate::ids::mac_for6(six.gateway),
            (None, None) => crate::ids::mac_for(Ipv4Addr::UNSPECIFIED),
        }
    }
}

/// A network another program made through ebpfnet and removes itself.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NetworkOwner {
    /// `docker network create -d ebpfnet`: Docker's network id.
    Docker { network_id: String },
}

/// A network's IPv6 side: its subnet and the gateway address on its bridge.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Config {
    pub subnet: Ipv6Network,
    pub gateway: Ipv6Addr,
}

/// What makes a network an overlay network's side on this host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OverlayLink {
    /// The network's VXLAN network identifier, as the cluster store has it.
    pub vni: u32,
}

/// A container's attachment to one network.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub id: String,
    pub network: String,
    /// Its IPv4 address; `None` on an IPv6-only network.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<Ipv4Addr>,
    /// Its IPv6 address, on a network with IPv6.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    pub mac: [u8; 6],
    /// Interface name inside the container (`eth0`, `eth1`, …).
    pub ifname: String,
    /// Host side of the veth pair, enslaved to the network's bridge.
    pub host_veth: String,
    /// More names the container has on this network (`--alias`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub aliases: Vec<String>,
}

/// Whose network namespace a container uses, as Docker's network modes.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NetMode {
    /// A namespace ebpfnet made (`/run/netns/NAME`), with endpoints.
    #[default]
    Owned,
    /// A namespace ebpfnet made with only `lo` (`--network none`).
    None,
    /// The host's namespace (`--network host`): nothing of its own.
    Host,
    /// Another container's namespace (`--network container:OTHER`).
    Container { container: String },
    /// A namespace ebpfnet did not make (`--netns PATH`, `--pid PID`):
    /// ebpfnet adds and removes its endpoints only. `dev`/`ino` identify
    /// the namespace, so a different one at the same path is never taken
    /// for it.
    Adopted {
        path: PathBuf,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        pid: Option<i32>,
        dev: u64,
        ino: u64,
    },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub created: String,
    pub endpoints: Vec<Endpoint>,
    #[serde(default, with = "port_runs")]
    pub ports: Vec<PortMapping>,
    #[serde(default)]
    pub mode: NetMode,
    /// `--hostname`; the short id when not given, as Docker.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hostname: Option<String>,
    /// `--add-host NAME:IP` entries for its /etc/hosts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<HostEntry>,
    /// `--dns`: its resolvers (default bridge) or the upstreams its queries
    /// are forwarded to (user networks).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<Ipv4Addr>,
    /// `--link NAME[:ALIAS]` (default bridge network only).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<LinkSpec>,
    /// Docker's `Config.Labels` (the CNI plugin marks its containers).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
}

impl Container {
    pub fn endpoint(&self, network: &str) -> Option<&Endpoint> {
        self.endpoints.iter().find(|e| e.network == network)
    }

    pub fn hostname(&self) -> &str {
        self.hostname
            .as_deref()
            .unwrap_or_else(|| crate::ids::short_id(&self.id))
    }
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct State {
    pub networks: BTreeMap<String, Network>,
    pub containers: BTreeMap<String, Container>,
    /// Docker's predefined networks `host` and `none` (the network modes),
    /// listed and inspected as networks: their ids, made once.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub predefined: BTreeMap<String, PredefinedNetwork>,
}

/// The id and creation time of `host` or `none`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PredefinedNetwork {
    pub id: String,
    /// RFC 3339.
    pub created: String,
}

/// The predefined networks' names, in `network ls` order, and their drivers.
pub const PREDEFINED_NETWORKS: [(&str, &str); 2] = [("host", "host"), ("none", "null")];

impl State {
    /// Containers with an endpoint on `network`, by name.
    pub fn containers_on<'a>(&'a self, network: &'a str) -> impl Iterator<Item = &'a Container> {
        self.containers
            .values()
            .filter(move |c| c.endpoint(network).is_some())
    }

    /// The endpoints on `network`, one a container attached to it.
    pub fn endpoints_on<'a>(&'a self, network: &'a str) -> impl Iterator<Item = &'a Endpoint> {
        self.containers
            .values()
            .filter_map(move |c| c.endpoint(network))
    }

    /// Containers that use `name`'s network namespace (`container:NAME`).
    pub fn sharers_of<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Container> {
        self.containers.values().filter(
            move |c| matches!(&c.mode, NetMode::Container { container } if container == name),
        )
    }

    /// The lowest network number (>= 1) no network uses.
    pub fn free_network_number(&self) -> u32 {
        let used: std::collections::BTreeSet<u32> =
            self.networks.values().map(|n| n.number).collect();
        (1..)
            .find(|n| !used.contains(n))
            .expect("fewer networks than numbers")
    }
}

#[cfg(test)]
#[path = "state_tests.rs"]
mod tests;
