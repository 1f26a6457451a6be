//! Everything the controller asks of the host, as one trait: links,
//! addresses and routes of the host's namespace, named and adopted
//! namespaces and the interfaces inside them, per-interface sysctls,
//! `/etc/netns` files and probing host ports. `NetlinkHost`
//! (netlink_host.rs) is the real host; the controller's unit tests use an
//! in-memory one.

use std::{
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
};

use async_trait::async_trait;

use super::{
    HostError,
    netlink::{HostAddress, Route},
    netlink6::Route6,
    netns::NsId,
};
use crate::{
    lan::{LanNetwork, MadeParent},
    portspec::Protocol,
};

/// A container's veth pair: the host side enslaved to a bridge, the peer
/// born inside the namespace at `peer_netns` with its name and MAC.
pub struct VethSpec<'a> {
    pub host_name: &'a str,
    pub bridge_index: u32,
    pub peer_name: &'a str,
    pub peer_mac: [u8; 6],
    pub peer_netns: &'a Path,
    /// MTU of both ends (overlay networks: 1450); the kernel's default
    /// when `None`.
    pub mtu: Option<u32>,
}

/// A container's interface on the parent of a macvlan or ipvlan network,
/// born inside the namespace at `netns` under its final name.
pub struct LanDeviceSpec<'a> {
    pub lan: &'a LanNetwork,
    pub parent_index: u32,
    /// Its name in the container (`eth0`).
    pub ifname: &'a str,
    /// macvlan only (ipvlan devices have their parent's address); the
    /// kernel picks one when `None`.
    pub mac: Option<[u8; 6]>,
    pub netns: &'a Path,
}

/// The address (and default route) of an interface inside a namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceAddress {
    /// Its IPv4 address; `None` on an IPv6-only network.
    pub ip: Option<Ipv4Addr>,
    pub prefix: u8,
    /// The default route's gateway, for a container's first interface
    /// with IPv4.
    pub default_route: Option<Ipv4Addr>,
    /// Its IPv6 address too, on a network with IPv6.
    pub ipv6: Option<InterfaceAddress6>,
}

/// An interface's IPv6 address (without duplicate address detection) and
/// IPv6 default route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InterfaceAddress6 {
    pub ip: Ipv6Addr,
    pub prefix: u8,
    pub default_route: Option<Ipv6Addr>,
}

/// What binding a host socket on a candidate address and port said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Probe {
    Free,
    /// EADDRINUSE: a process on the host holds the port.
    InUse,
    /// EADDRNOTAVAIL: the address is not one of the host's.
    NotLocal,
    Failed(String),
}

/// What the controller needs from the host. Removals of what is not there
/// are not errors.
#[async_trait]
pub trait Host: Send + Sync {
    /// The index of interface `name` in the host's namespace.
    async fn link_index(&self, name: &str) -> Result<Option<u32>, HostError>;
    async fn link_name(&self, index: u32) -> Result<Option<String>, HostError>;
    /// Creates bridge `name` if missing, with MAC `mac`, the IPv4
    /// `gateway/prefix` on it (none on an IPv6-only network), forwarding on
    /// and router advertisements off, and up.
    async fn ensure_bridge(
        &self,
        name: &str,
        mac: [u8; 6],
        gateway: Option<(Ipv4Addr, u8)>,
    ) -> Result<u32, HostError>;
    /// Puts `gateway/prefix` on bridge `name` (made by `ensure_bridge`)
    /// without duplicate address detection, IPv6 on, RAs off.
    async fn ensure_bridge6(
        &self,
        name: &str,
        gateway: Ipv6Addr,
        prefix: u8,
    ) -> Result<(), HostError>;
    /// Creates a veth pair; returns the host side's index.
    async fn create_veth(&self, spec: &VethSpec<'_>) -> Result<u32, HostError>;
    async fn delete_link(&self, name: &str) -> Result<(), HostError>;
    /// Makes the host's collect-metadata VXLAN device `name` (UDP 4789)
    /// unless it exists; answers its index.
    async fn ensure_vxlan(&self, name: &str) -> Result<u32, HostError>;
    /// The unicast IPv4 routes of the main table.
    async fn routes(&self) -> Result<Vec<Route>, HostError>;
    /// The unicast IPv6 routes of the main table (not link-local).
    async fn routes6(&self) -> Result<Vec<Route6>, HostError>;
    /// Every IPv4 address, an interface's primary one first.
    async fn ipv4_addresses(&self) -> Result<Vec<HostAddress>, HostError>;
    /// The usable global IPv6 addresses (address, ifindex).
    async fn ipv6_addresses(&self) -> Result<Vec<(Ipv6Addr, u32)>, HostError>;

    /// IPv4 forwarding on for one interface (`conf/IF/forwarding`).
    fn enable_forwarding(&self, ifname: &str) -> Result<(), HostError>;
    /// `conf/IF/accept_ra` = 0 (CVE-2020-13401).
    fn refuse_router_advertisements(&self, ifname: &str) -> Result<(), HostError>;
    /// `net.ipv4.ip_local_port_range`, as its file has it ("" if unreadable).
    fn ip_local_port_range(&self) -> String;
    /// The cookie of the host's network namespace.
    fn netns_cookie(&self) -> Result<u64, HostError>;

    fn netns_exists(&self, name: &str) -> bool;
    /// Creates the named namespace `/run/netns/NAME`; fails if it exists.
    fn create_netns(&self, name: &str) -> Result<PathBuf, HostError>;
    fn delete_netns(&self, name: &str) -> Result<(), HostError>;
    /// The identity of the namespace at `path`.
    fn ns_id(&self, path: &Path) -> std::io::Result<NsId>;
    /// Whether `path` is a network namespace one can enter.
    fn is_netns(&self, path: &Path) -> Result<(), HostError>;
    /// Brings `lo` up inside the namespace at `netns`.
    async fn loopback_up(&self, netns: &Path) -> Result<(), HostError>;
    /// Inside `netns`: `lo` up, `address` on `ifname`, `ifname` up, and
    /// the default route if asked for.
    async fn configure_interface(
        &self,
        netns: &Path,
        ifname: &str,
        address: InterfaceAddress,
    ) -> Result<(), HostError>;
    /// The names of the interfaces inside `netns`.
    async fn interface_names(&self, netns: &Path) -> Result<Vec<String>, HostError>;

    /// Makes the parent ebpfnet owns for a macvlan or ipvlan network (a
    /// dummy, a VLAN sub-interface) if missing, brings it up; its index.
    async fn ensure_lan_parent(&self, name: &str, made: &MadeParent) -> Result<u32, HostError>;
    /// Creates a macvlan or ipvlan interface on its parent, inside the
    /// container's namespace.
    async fn create_lan_device(&self, spec: &LanDeviceSpec<'_>) -> Result<(), HostError>;
    /// Deletes `ifname` inside `netns` if it is a macvlan or ipvlan
    /// interface (an adopted namespace may have made another of that name).
    async fn delete_lan_device(&self, netns: &Path, ifname: &str) -> Result<(), HostError>;
    /// Inside `netns`: the default route out of `ifname`, with no gateway
    /// (ipvlan l3 and l3s: the host routes for the container).
    async fn add_device_default_route(&self, netns: &Path, ifname: &str) -> Result<(), HostError>;
    /// Sets the IPv6 default route of the namespace at `netns` to leave
    /// by `ifname` via `gateway` (replacing the one it had).
    async fn set_default_route6(
        &self,
        netns: &Path,
        ifname: &str,
        gateway: Ipv6Addr,
    ) -> Result<(), HostError>;

    /// Writes `/etc/netns/NAME/FILE` when it differs; whether it wrote.
    fn write_etc_file(&self, name: &str, file: &str, content: &str) -> Result<bool, HostError>;
    /// Removes ebpfnet's `/etc/netns/NAME` files.
    fn remove_etc_files(&self, name: &str) -> Result<(), HostError>;

    /// Whether a host socket could bind `addr` for `protocol`.
    fn probe_port(&self, protocol: Protocol, addr: SocketAddr) -> Probe;
    /// The host's sockets of `protocol` that hold ports, to answer
    /// `probe_port` for many ports at once (bound.rs).
    fn bound_sockets(&self, protocol: Protocol) -> Result<super::bound::BoundSockets, HostError>;
}
