//! The datapath seen by the controller: programs attached to interfaces and
//! the maps they use. [`AyaDatapath`] is the kernel one.

mod aya_impl;
mod batch;
mod cgroup;
pub mod collector;
pub mod encoding;
pub mod family;
mod lan_maps;
mod maps;
mod maps6;
pub mod nat;
pub mod nat46;
pub mod nat6;
mod nat6_tables;
mod nat_collector;
mod nat_tables;
mod overlay_maps;
mod pins;
mod published;
mod routed6;
mod stats;
mod take;
mod tc_attach;
mod tc_netlink;
mod types;

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr},
};

pub use aya_impl::AyaDatapath;
pub use collector::{Collector, GcPlan};
use ebpfnet_common::{
    ProgramId,
    maps::{Config, EndpointInfo, NetworkInfo, PublishedKey, PublishedValue, UplinkInfo},
    maps6::NetworkInfo6,
    overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey, OverlayPeerKey6},
    published6::{PublishedKey6, PublishedValue6},
};
use ipnetwork::{Ipv4Network, Ipv6Network};
pub use pins::{MapSizes, remove_pins};
pub use routed6::Routed6;
pub use tc_attach::{TcAttachMode, TcPath};
use thiserror::Error;
pub use types::{
    Attachment, DatapathStats, DatapathStatus, DropCount, InterfaceCounters, MapFill, NatRecord,
    NatRecord6, NatRecordOf, ProgramCounters,
};

#[derive(Debug, Error)]
pub enum DatapathError {
    #[error(
        "this ebpfnet binary was built without its eBPF object; build it with `cargo xtask build`"
    )]
    NoObject,
    #[error("cannot load the eBPF programs: {0}")]
    Load(#[source] aya::EbpfError),
    #[error("eBPF program {0} is missing from the object")]
    MissingProgram(&'static str),
    #[error("eBPF program {name}: {source}")]
    Program {
        name: &'static str,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("cannot attach {program} to {ifname}: {source}")]
    Attach {
        program: &'static str,
        ifname: String,
        #[source]
        source: aya::programs::ProgramError,
    },
    #[error("cannot pin {what} at {path}: {source}")]
    Pin {
        what: String,
        path: String,
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    #[error(
        "pinned map {path} has a different layout ({found}) than this ebpfnet expects ({expected}); \
         remove it with `ebpfnet system reset` or use another --pin-dir"
    )]
    LayoutMismatch {
        path: String,
        found: String,
        expected: String,
    },
    #[error("map {name}: {source}")]
    Map {
        name: &'static str,
        #[source]
        source: aya::maps::MapError,
    },
    #[error(
        "map {0} is missing from the eBPF object; rebuild it with `cargo xtask build-ebpf` and then ebpfnet"
    )]
    MissingMap(&'static str),
    #[error("cannot {action} in map {name}: {source}")]
    MapWrite {
        name: &'static str,
        action: String,
        #[source]
        source: Box<aya::maps::MapError>,
    },
    #[error("{action}: {source}")]
    Io {
        action: String,
        #[source]
        source: std::io::Error,
    },
}

/// A macvlan container in `LAN_HOSTS`: (parent ifindex, MAC, address).
pub type LanHost = (u32, [u8; 6], [u8; 4]);
/// A macvlan container in `LAN_HOSTS6`: (parent ifindex, MAC, address).
pub type LanHost6 = (u32, [u8; 6], Ipv6Addr);

/// Declares [`Datapath`] as the sum of its parts, with the blanket impl
/// that makes every type having all of them one: the list is written once.
macro_rules! datapath_of_parts {
    ($($part:ident),+ $(,)?) => {
        /// What the controller needs from a datapath, in parts by what they
        /// touch (each family's topology, publishing and flows apart). Map
        /// writers replace whole entries; removing an entry that is not
        /// there is not an error.
        pub trait Datapath: $($part +)+ Send + Sync {}

        impl<T: $($part +)+ Send + Sync> Datapath for T {}
    };
}

datapath_of_parts!(
    Programs,
    Topology,
    Topology6,
    LanHosts,
    Routed6,
    Publishing,
    Publishing6,
    Flows,
    Flows6,
    Counters,
    Overlay,
);

/// The programs on interfaces.
pub trait Programs {
    /// Attaches `program` to the interface, replacing atomically what a
    /// previous daemon attached there, so no packet goes unhandled.
    fn attach(
        &mut self,
        program: ProgramId,
        ifname: &str,
        ifindex: u32,
    ) -> Result<(), DatapathError>;
    /// Detaches every program from the interface.
    fn detach(&mut self, ifname: &str) -> Result<(), DatapathError>;
    /// Detaches `program` from the interface, if it is attached there.
    fn detach_program(&mut self, program: ProgramId, ifname: &str) -> Result<(), DatapathError>;
    /// Drops attachments left by an earlier daemon on interfaces not in `keep`.
    fn prune(&mut self, keep: &[String]) -> Result<(), DatapathError>;
    fn status(&self) -> Result<DatapathStatus, DatapathError>;
}

/// What the programs know of the host: `CONFIG`, `NETWORKS`, `ENDPOINTS`
/// (and `ENDPOINT_IPS`), `UPLINKS`, `HOST_ADDRS`.
pub trait Topology {
    fn set_config(&mut self, config: Config) -> Result<(), DatapathError>;
    fn set_network(&mut self, subnet: Ipv4Network, info: NetworkInfo) -> Result<(), DatapathError>;
    fn remove_network(&mut self, subnet: Ipv4Network) -> Result<(), DatapathError>;
    fn networks(&self) -> Result<Vec<Ipv4Network>, DatapathError>;
    /// Keyed by the host-side veth's ifindex.
    fn set_endpoint(&mut self, ifindex: u32, info: EndpointInfo) -> Result<(), DatapathError>;
    fn remove_endpoint(&mut self, ifindex: u32) -> Result<(), DatapathError>;
    fn endpoints(&self) -> Result<Vec<u32>, DatapathError>;
    fn set_uplink(&mut self, ifindex: u32, info: UplinkInfo) -> Result<(), DatapathError>;
    fn remove_uplink(&mut self, ifindex: u32) -> Result<(), DatapathError>;
    fn uplinks(&self) -> Result<Vec<(u32, UplinkInfo)>, DatapathError>;
    /// Makes `HOST_ADDRS` exactly `addrs` (address, ifindex).
    fn set_host_addrs(&mut self, addrs: &[(Ipv4Addr, u32)]) -> Result<(), DatapathError>;
}

/// The IPv6 topology: `NETWORKS6`, `ENDPOINTS6` and `ENDPOINT_IPS6`.
pub trait Topology6 {
    fn set_network6(
        &mut self,
        subnet: Ipv6Network,
        info: NetworkInfo6,
    ) -> Result<(), DatapathError>;
    fn remove_network6(&mut self, subnet: Ipv6Network) -> Result<(), DatapathError>;
    fn networks6(&self) -> Result<Vec<Ipv6Network>, DatapathError>;
    /// A container's IPv6 address behind the host-side veth `ifindex`
    /// (whose `ENDPOINTS` entry has its MAC).
    fn set_endpoint6(
        &mut self,
        ifindex: u32,
        ip: Ipv6Addr,
        mac: [u8; 6],
    ) -> Result<(), DatapathError>;
    fn remove_endpoint6(&mut self, ifindex: u32) -> Result<(), DatapathError>;
    fn endpoints6(&self) -> Result<Vec<u32>, DatapathError>;
    /// `UPLINKS6`: the IPv6 address NAT66 masquerades behind on an uplink.
    fn set_uplink6(&mut self, ifindex: u32, ip: Ipv6Addr) -> Result<(), DatapathError>;
    fn remove_uplink6(&mut self, ifindex: u32) -> Result<(), DatapathError>;
    fn uplinks6(&self) -> Result<Vec<(u32, Ipv6Addr)>, DatapathError>;
}

/// The macvlan containers the program on their network's parent checks,
/// of either family.
pub trait LanHosts {
    /// `LAN_HOSTS` and `LAN_IPS`: a macvlan container's MAC and address on
    /// its network's parent (by ifindex).
    fn set_lan_host(&mut self, parent: u32, mac: [u8; 6], ip: [u8; 4])
    -> Result<(), DatapathError>;
    /// Removes a macvlan container's entries, whatever parent they are on.
    fn remove_lan_host(&mut self, mac: [u8; 6], ip: [u8; 4]) -> Result<(), DatapathError>;
    /// Every (parent, MAC, address) in `LAN_HOSTS`.
    fn lan_hosts(&self) -> Result<Vec<LanHost>, DatapathError>;
    /// `LAN_HOSTS6` and `LAN_IPS6`: a macvlan container's global IPv6
    /// address on its network's parent (by ifindex).
    fn set_lan_host6(
        &mut self,
        parent: u32,
        mac: [u8; 6],
        ip: Ipv6Addr,
    ) -> Result<(), DatapathError>;
    /// Removes a macvlan container's IPv6 entries (by its MAC), whatever
    /// parent they are on.
    fn remove_lan_host6(&mut self, mac: [u8; 6]) -> Result<(), DatapathError>;
    /// Every (parent, MAC, address) in `LAN_HOSTS6`.
    fn lan_hosts6(&self) -> Result<Vec<LanHost6>, DatapathError>;
}

/// `PUBLISHED`.
pub trait Publishing {
    fn publish(&mut self, key: PublishedKey, value: PublishedValue) -> Result<(), DatapathError>;
    /// Removes mappings, their counters, and both directions of every flow
    /// that came in through them (established flows are cut at once),
    /// reading each NAT table once whatever the number of mappings. Goes
    /// on past a mapping it cannot remove and returns the first error;
    /// else how many NAT entries went.
    fn unpublish(&mut self, keys: &[PublishedKey]) -> Result<usize, DatapathError>;
    fn published(&self) -> Result<Vec<(PublishedKey, PublishedValue)>, DatapathError>;
}

/// `PUBLISHED6` and `HOST_ADDRS6`: publishing on IPv6 host addresses.
pub trait Publishing6 {
    fn publish6(&mut self, key: PublishedKey6, value: PublishedValue6)
    -> Result<(), DatapathError>;
    /// As [`Publishing::unpublish`]: the mappings, then both directions
    /// of every IPv6 flow that came in through them.
    fn unpublish6(&mut self, keys: &[PublishedKey6]) -> Result<usize, DatapathError>;
    fn published6(&self) -> Result<Vec<(PublishedKey6, PublishedValue6)>, DatapathError>;
    /// Makes `HOST_ADDRS6` exactly `addrs` (address, ifindex).
    fn set_host_addrs6(&mut self, addrs: &[(Ipv6Addr, u32)]) -> Result<(), DatapathError>;
}

/// The NAT tables.
pub trait Flows {
    /// Every entry of `NAT_TCP` and `NAT_OTHER`.
    fn flows(&self) -> Result<Vec<NatRecord>, DatapathError>;
    /// A collector of idle flows of both families with handles of its own
    /// on the tables, for a pass that runs while the controller goes on.
    fn collector(&self) -> Result<Box<dyn Collector>, DatapathError>;
    /// Removes flows idle too long (both directions, both families) in one
    /// pass; `now_ns` is CLOCK_MONOTONIC, the clock of the entries' stamps.
    /// Returns how many NAT entries went.
    fn gc(&mut self, now_ns: u64) -> Result<usize, DatapathError> {
        collector::collect(self.collector()?.as_mut(), now_ns)
    }
    /// Removes both directions of every flow to, from or through `ip` (a
    /// container address going away). Returns how many NAT entries went.
    fn remove_flows_of(&mut self, ip: Ipv4Addr) -> Result<usize, DatapathError>;
}

/// The IPv6 NAT tables (`NAT6_TCP`, `NAT6_OTHER`).
pub trait Flows6 {
    /// Every entry of `NAT6_TCP` and `NAT6_OTHER`. (Idle IPv6 flows go
    /// with IPv4's, through [`Flows::collector`].)
    fn flows6(&self) -> Result<Vec<NatRecord6>, DatapathError>;
    /// Removes both directions of every IPv6 flow of `ip` (a container
    /// address going away).
    fn remove_flows_of6(&mut self, ip: Ipv6Addr) -> Result<usize, DatapathError>;
}

/// The overlay maps: `OVERLAY_NETWORKS`, `OVERLAY_VNIS`, `OVERLAY_PEERS`,
/// `OVERLAY_PEERS6`.
pub trait Overlay {
    /// Overlay network `network_id` is VNI `info.vni`, encapsulated
    /// through the VXLAN device `info.vxlan_ifindex`.
    fn set_overlay_network(
        &mut self,
        network_id: u32,
        info: OverlayNetwork,
    ) -> Result<(), DatapathError>;
    /// Removes the network, its VNI and its remote containers.
    fn remove_overlay_network(&mut self, network_id: u32) -> Result<(), DatapathError>;
    /// Makes `OVERLAY_PEERS` exactly `peers`; answers how many entries
    /// were added, changed or removed.
    fn set_overlay_peers(
        &mut self,
        peers: &BTreeMap<OverlayPeerKey, OverlayPeer>,
    ) -> Result<usize, DatapathError>;
    fn overlay_peers(&self) -> Result<BTreeMap<OverlayPeerKey, OverlayPeer>, DatapathError>;
    /// Makes `OVERLAY_PEERS6` exactly `peers` (the IPv6 addresses of the
    /// remote containers of dual-stack overlay networks).
    fn set_overlay_peers6(
        &mut self,
        peers: &BTreeMap<OverlayPeerKey6, OverlayPeer>,
    ) -> Result<usize, DatapathError>;
    fn overlay_peers6(&self) -> Result<BTreeMap<OverlayPeerKey6, OverlayPeer>, DatapathError>;
}

/// The counters, each summed over the CPUs.
pub trait Counters {
    fn stats(&self) -> Result<DatapathStats, DatapathError>;
    /// Forgets the counters of an interface gone from the host (by its
    /// ifindex): its `IFACE_SLOTS` slot on every CPU where it holds it
    /// (freed for another interface) and its `IFACE_STATS` entry.
    fn forget_interface(&mut self, ifindex: u32) -> Result<(), DatapathError>;
}
