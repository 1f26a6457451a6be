//! What the fake host holds: the links of the host's namespace with their
//! addresses and sysctls, namespaces with the interfaces inside them,
//! routes, `/etc/netns` files and the ports host processes hold.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    path::PathBuf,
};

use ipnetwork::Ipv6Network;

use crate::{
    host::{
        bound::{BoundSocket, BoundSockets},
        netlink::Route,
        netlink6::Route6,
        netns::NsId,
    },
    lan::LanKind,
    portspec::Protocol,
};

/// Everything the fake host holds; two snapshots compare equal when the
/// host is the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct HostWorld {
    /// Interfaces of the host's namespace, by name.
    pub links: BTreeMap<String, Link>,
    /// Routes besides the connected ones of addressed links.
    pub static_routes: Vec<Route>,
    /// IPv6 routes besides the connected ones of addressed links.
    pub static_routes6: Vec<Route6>,
    /// Namespaces, named (`/run/netns/NAME`) or adopted, by path.
    pub namespaces: BTreeMap<PathBuf, Namespace>,
    /// `/etc/netns` files: (container, file) -> content.
    pub etc_files: BTreeMap<(String, String), String>,
    /// Ports host processes hold: sockets without `IPV6_V6ONLY` on IPv4
    /// addresses, with it on IPv6 ones.
    pub busy_ports: Vec<(Protocol, SocketAddr)>,
    /// `ip_local_port_range`'s text.
    pub port_range: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub kind: LinkKind,
    pub mac: Option<[u8; 6]>,
    pub addresses: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses, each added without duplicate address detection.
    pub addresses6: Vec<(Ipv6Addr, u8)>,
    pub up: bool,
    /// `conf/IF/forwarding`.
    pub forwarding: bool,
    /// `conf/IF/accept_ra`.
    pub accept_ra: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkKind {
    /// A device the host had (an uplink).
    Device,
    Bridge,
    /// The host side of a veth; its peer is inside `peer_netns`.
    Veth {
        bridge: u32,
        peer: String,
        peer_netns: PathBuf,
    },
    /// The parent ebpfnet made for a macvlan or ipvlan network.
    Dummy,
    /// The collect-metadata VXLAN device of overlay networks.
    Vxlan,
    /// A VLAN sub-interface on the link of index `link`.
    Vlan {
        link: u32,
        id: u16,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Namespace {
    pub id: NsId,
    pub links: BTreeMap<String, NsLink>,
    /// The default route: its gateway (0.0.0.0 for a route out of the
    /// device, with none) and the interface it goes out of (it goes with
    /// that interface).
    pub default_route: Option<(Ipv4Addr, String)>,
    /// The IPv6 default route: its gateway and interface.
    pub default_route6: Option<(Ipv6Addr, String)>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NsLink {
    pub mac: Option<[u8; 6]>,
    pub addresses: Vec<(Ipv4Addr, u8)>,
    /// IPv6 addresses; the interface has `accept_dad` 0 once it has one.
    pub addresses6: Vec<(Ipv6Addr, u8)>,
    pub up: bool,
    /// A macvlan or ipvlan interface: its kind and its parent's index
    /// (it goes with the parent).
    pub lan: Option<(LanKind, u32)>,
}

impl HostWorld {
    /// The fake's `ensure_bridge6`: the gateway on an existing bridge.
    pub(super) fn ensure_bridge6(
        &mut self,
        name: &str,
        gateway: Ipv6Addr,
        prefix: u8,
    ) -> Result<(), crate::host::HostError> {
        let link = self
            .links
            .get_mut(name)
            .filter(|l| l.kind == LinkKind::Bridge)
            .ok_or_else(|| crate::host::HostError::NoSuchLink(name.to_string()))?;
        if !link.addresses6.contains(&(gateway, prefix)) {
            link.addresses6.push((gateway, prefix));
        }
        link.accept_ra = false;
        Ok(())
    }

    /// The fake's `routes6`: the static ones and those of addressed links.
    pub(super) fn routes6(&self) -> Result<Vec<Route6>, String> {
        let mut routes = self.static_routes6.clone();
        for link in self.links.values() {
            for (ip, prefix) in &link.addresses6 {
                let net = Ipv6Network::new(*ip, *prefix).map_err(|e| e.to_string())?;
                let destination =
                    Ipv6Network::new(net.network(), *prefix).map_err(|e| e.to_string())?;
                routes.push(Route6 {
                    destination,
                    output: Some(link.index),
                });
            }
        }
        Ok(routes)
    }

    pub fn link_by_index(&self, index: u32) -> Option<(&String, &Link)> {
        self.links.iter().find(|(_, l)| l.index == index)
    }

    /// Removes a host link; a veth takes its peer along, a parent the
    /// macvlan and ipvlan interfaces on it.
    pub(super) fn remove_link(&mut self, name: &str) {
        let Some(link) = self.links.remove(name) else {
            return;
        };
        if let LinkKind::Veth {
            peer, peer_netns, ..
        } = link.kind
            && let Some(ns) = self.namespaces.get_mut(&peer_netns)
        {
            ns.remove_link(&peer);
        }
        for ns in self.namespaces.values_mut() {
            let on_it: Vec<String> = ns
                .links
                .iter()
                .filter(|(_, l)| l.lan.is_some_and(|(_, parent)| parent == link.index))
                .map(|(n, _)| n.clone())
                .collect();
            for name in on_it {
                ns.remove_link(&name);
            }
        }
    }
}

impl Namespace {
    /// Removes an interface, and the default route out of it.
    pub(super) fn remove_link(&mut self, name: &str) {
        self.links.remove(name);
        if self
            .default_route
            .as_ref()
            .is_some_and(|(_, dev)| *dev == name)
        {
            self.default_route = None;
        }
        if self
            .default_route6
            .as_ref()
            .is_some_and(|(_, dev)| *dev == name)
        {
            self.default_route6 = None;
        }
    }
}

pub(super) fn new_link(index: u32, kind: LinkKind, mac: Option<[u8; 6]>) -> Link {
    Link {
        index,
        kind,
        mac,
        addresses: Vec::new(),
        addresses6: Vec::new(),
        up: false,
        forwarding: false,
        accept_ra: true,
    }
}

impl HostWorld {
    /// The sockets of `busy_ports` as sock_diag would show them.
    pub fn bound_sockets(&self, protocol: Protocol) -> BoundSockets {
        let held = self.busy_ports.iter().filter(|(p, _)| *p == protocol);
        let sockets = held.map(|(_, addr)| BoundSocket {
            local: addr.ip(),
            port: addr.port(),
            v6only: Some(addr.is_ipv6()),
            device: false,
        });
        BoundSockets::new(protocol, sockets, 1024)
    }
}
