//! A host in memory: the links of the host's namespace with their
//! addresses and sysctls, namespaces with the interfaces inside them,
//! routes, `/etc/netns` files and the ports host processes hold. It keeps
//! the kernel's rules the controller relies on: names are unique, a veth's
//! two ends go together, a namespace takes its veths along when it goes.

use std::{
    io,
    net::{Ipv4Addr, Ipv6Addr, SocketAddr},
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicU32, AtomicU64, Ordering},
    },
};

use async_trait::async_trait;
use ipnetwork::Ipv4Network;

use super::{
    Faults,
    host_world::{HostWorld, LinkKind, new_link},
    lock,
    ns_world::refused,
};
use crate::{
    host::{
        Host, HostError, InterfaceAddress, LanDeviceSpec, Probe, VethSpec,
        bound::{BoundSockets, Verdict},
        netlink::{HostAddress, Route},
        netlink6::Route6,
        netns::{self, NsId},
    },
    lan::MadeParent,
    portspec::Protocol,
};

/// The identity `/proc/self/ns/net` has: the host's namespace.
pub const HOST_NS: NsId = NsId { dev: 4, ino: 1 };

#[derive(Clone)]
pub struct FakeHost {
    world: Arc<Mutex<HostWorld>>,
    faults: Faults,
    next_index: Arc<AtomicU32>,
    next_ino: Arc<AtomicU64>,
}

impl FakeHost {
    pub fn new(world: HostWorld, faults: Faults) -> Self {
        let next = world.links.values().map(|l| l.index).max().unwrap_or(1) + 1;
        Self {
            world: Arc::new(Mutex::new(world)),
            faults,
            next_index: Arc::new(AtomicU32::new(next)),
            next_ino: Arc::new(AtomicU64::new(100)),
        }
    }

    /// A copy of what the host holds now.
    pub fn world(&self) -> HostWorld {
        lock(&self.world).clone()
    }

    /// Changes the host behind the controller's back (a crash, an admin).
    pub fn edit(&self, change: impl FnOnce(&mut HostWorld)) {
        change(&mut lock(&self.world));
    }

    /// A namespace made by someone else (for adoption), at `path`, with
    /// `lo` up as runtimes leave it.
    pub fn add_namespace(&self, path: &Path) -> NsId {
        let id = self.new_ns_id();
        lock(&self.world).insert_namespace(path, id, true);
        id
    }

    fn new_ns_id(&self) -> NsId {
        NsId {
            dev: 4,
            ino: self.next_ino.fetch_add(1, Ordering::Relaxed),
        }
    }

    fn check(&self, op: &str) -> Result<(), HostError> {
        self.faults.check(op).map_err(|why| refused(op, why))
    }
}

#[async_trait]
impl Host for FakeHost {
    async fn link_index(&self, name: &str) -> Result<Option<u32>, HostError> {
        self.check("link_index")?;
        Ok(lock(&self.world).links.get(name).map(|l| l.index))
    }

    async fn link_name(&self, index: u32) -> Result<Option<String>, HostError> {
        self.check("link_name")?;
        Ok(lock(&self.world)
            .link_by_index(index)
            .map(|(n, _)| n.clone()))
    }

    async fn ensure_bridge(
        &self,
        name: &str,
        mac: [u8; 6],
        gateway: Option<(Ipv4Addr, u8)>,
    ) -> Result<u32, HostError> {
        self.check("ensure_bridge")?;
        let mut world = lock(&self.world);
        let mac = Some(mac);
        let link = world.links.entry(name.to_string()).or_insert_with(|| {
            let index = self.next_index.fetch_add(1, Ordering::Relaxed);
            new_link(index, LinkKind::Bridge, mac)
        });
        if link.kind != LinkKind::Bridge {
            return Err(refused("ensure_bridge", format!("{name} is no bridge")));
        }
        if let Some(address) = gateway
            && !link.addresses.contains(&address)
        {
            link.addresses.push(address);
        }
        link.mac = mac;
        (link.forwarding, link.accept_ra, link.up) = (true, false, true);
        Ok(link.index)
    }

    async fn ensure_bridge6(
        &self,
        name: &str,
        gateway: Ipv6Addr,
        prefix: u8,
    ) -> Result<(), HostError> {
        self.check("ensure_bridge6")?;
        lock(&self.world).ensure_bridge6(name, gateway, prefix)
    }

    async fn create_veth(&self, spec: &VethSpec<'_>) -> Result<u32, HostError> {
        self.check("create_veth")?;
        let next = || self.next_index.fetch_add(1, Ordering::Relaxed);
        lock(&self.world).create_veth(spec, next)
    }

    async fn ensure_vxlan(&self, name: &str) -> Result<u32, HostError> {
        self.check("ensure_vxlan")?;
        let mut world = lock(&self.world);
        let link = world.links.entry(name.to_string()).or_insert_with(|| {
            let index = self.next_index.fetch_add(1, Ordering::Relaxed);
            new_link(index, LinkKind::Vxlan, None)
        });
        if link.kind != LinkKind::Vxlan {
            return Err(refused(
                "ensure_vxlan",
                format!("{name} is no VXLAN device"),
            ));
        }
        link.up = true;
        Ok(link.index)
    }

    async fn delete_link(&self, name: &str) -> Result<(), HostError> {
        self.check("delete_link")?;
        lock(&self.world).remove_link(name);
        Ok(())
    }

    async fn routes(&self) -> Result<Vec<Route>, HostError> {
        self.check("routes")?;
        let world = lock(&self.world);
        let mut routes = world.static_routes.clone();
        for link in world.links.values() {
            for (ip, prefix) in &link.addresses {
                let net =
                    Ipv4Network::new(*ip, *prefix).map_err(|e| refused("routes", e.to_string()))?;
                routes.push(Route {
                    destination: Ipv4Network::new(net.network(), *prefix)
                        .map_err(|e| refused("routes", e.to_string()))?,
                    output: Some(link.index),
                });
            }
        }
        Ok(routes)
    }

    async fn routes6(&self) -> Result<Vec<Route6>, HostError> {
        self.check("routes6")?;
        lock(&self.world)
            .routes6()
            .map_err(|why| refused("routes6", why))
    }

    async fn ipv4_addresses(&self) -> Result<Vec<HostAddress>, HostError> {
        self.check("ipv4_addresses")?;
        let world = lock(&self.world);
        Ok(world
            .links
            .values()
            .flat_map(|l| {
                l.addresses.iter().map(|(ip, _)| HostAddress {
                    ip: *ip,
                    ifindex: l.index,
                })
            })
            .collect())
    }

    /// The fake host's links carry IPv4 addresses only.
    async fn ipv6_addresses(&self) -> Result<Vec<(Ipv6Addr, u32)>, HostError> {
        self.check("ipv6_addresses")?;
        Ok(Vec::new())
    }

    fn enable_forwarding(&self, ifname: &str) -> Result<(), HostError> {
        self.check("enable_forwarding")?;
        let mut world = lock(&self.world);
        let link = world
            .links
            .get_mut(ifname)
            .ok_or_else(|| HostError::NoSuchLink(ifname.to_string()))?;
        link.forwarding = true;
        Ok(())
    }

    fn refuse_router_advertisements(&self, ifname: &str) -> Result<(), HostError> {
        self.check("refuse_router_advertisements")?;
        if let Some(link) = lock(&self.world).links.get_mut(ifname) {
            link.accept_ra = false;
        }
        Ok(())
    }

    fn ip_local_port_range(&self) -> String {
        lock(&self.world).port_range.clone()
    }

    fn netns_cookie(&self) -> Result<u64, HostError> {
        self.check("netns_cookie")?;
        Ok(4096)
    }

    fn netns_exists(&self, name: &str) -> bool {
        lock(&self.world)
            .namespaces
            .contains_key(&netns::netns_path(name))
    }

    fn create_netns(&self, name: &str) -> Result<PathBuf, HostError> {
        self.check("create_netns")?;
        let path = netns::netns_path(name);
        let mut world = lock(&self.world);
        if world.namespaces.contains_key(&path) {
            return Err(HostError::NetnsExists(name.to_string()));
        }
        world.insert_namespace(&path, self.new_ns_id(), false);
        Ok(path)
    }

    fn delete_netns(&self, name: &str) -> Result<(), HostError> {
        self.check("delete_netns")?;
        lock(&self.world).delete_netns(&netns::netns_path(name));
        Ok(())
    }

    fn ns_id(&self, path: &Path) -> io::Result<NsId> {
        self.faults.check("ns_id").map_err(io::Error::other)?;
        if path == Path::new("/proc/self/ns/net") {
            return Ok(HOST_NS);
        }
        lock(&self.world)
            .namespaces
            .get(path)
            .map(|ns| ns.id)
            .ok_or_else(|| io::Error::from(io::ErrorKind::NotFound))
    }

    fn is_netns(&self, path: &Path) -> Result<(), HostError> {
        self.check("is_netns")?;
        let world = lock(&self.world);
        if world.namespaces.contains_key(path) || path == Path::new("/proc/self/ns/net") {
            return Ok(());
        }
        Err(refused(
            "is_netns",
            format!("{} is no namespace", path.display()),
        ))
    }

    async fn loopback_up(&self, netns: &Path) -> Result<(), HostError> {
        self.check("loopback_up")?;
        let mut world = lock(&self.world);
        let ns = world.namespace_mut(netns, "loopback_up")?;
        ns.links.entry("lo".into()).or_default().up = true;
        Ok(())
    }

    async fn configure_interface(
        &self,
        netns: &Path,
        ifname: &str,
        address: InterfaceAddress,
    ) -> Result<(), HostError> {
        self.check("configure_interface")?;
        lock(&self.world).configure_interface(netns, ifname, address)
    }

    async fn interface_names(&self, netns: &Path) -> Result<Vec<String>, HostError> {
        self.check("interface_names")?;
        let world = lock(&self.world);
        let ns = world
            .namespaces
            .get(netns)
            .ok_or_else(|| refused("interface_names", "no such namespace"))?;
        Ok(ns.links.keys().cloned().collect())
    }

    async fn ensure_lan_parent(&self, name: &str, made: &MadeParent) -> Result<u32, HostError> {
        self.check("ensure_lan_parent")?;
        let next = || self.next_index.fetch_add(1, Ordering::Relaxed);
        lock(&self.world)
            .ensure_lan_parent(name, made, next)
            .map_err(|why| refused("ensure_lan_parent", why))
    }

    async fn create_lan_device(&self, spec: &LanDeviceSpec<'_>) -> Result<(), HostError> {
        self.check("create_lan_device")?;
        lock(&self.world)
            .create_lan_device(spec)
            .map_err(|why| refused("create_lan_device", why))
    }

    async fn delete_lan_device(&self, netns: &Path, ifname: &str) -> Result<(), HostError> {
        self.check("delete_lan_device")?;
        lock(&self.world).delete_lan_device(netns, ifname);
        Ok(())
    }

    async fn add_device_default_route(&self, netns: &Path, ifname: &str) -> Result<(), HostError> {
        self.check("add_device_default_route")?;
        lock(&self.world)
            .add_device_default_route(netns, ifname)
            .map_err(|why| refused("add_device_default_route", why))
    }

    async fn set_default_route6(
        &self,
        netns: &Path,
        ifname: &str,
        gateway: Ipv6Addr,
    ) -> Result<(), HostError> {
        self.check("set_default_route6")?;
        lock(&self.world).set_default_route6(netns, ifname, gateway)
    }

    fn write_etc_file(&self, name: &str, file: &str, content: &str) -> Result<bool, HostError> {
        self.check("write_etc_file")?;
        let key = (name.to_string(), file.to_string());
        let mut world = lock(&self.world);
        if world.etc_files.get(&key).is_some_and(|old| old == content) {
            return Ok(false);
        }
        world.etc_files.insert(key, content.to_string());
        Ok(true)
    }

    fn remove_etc_files(&self, name: &str) -> Result<(), HostError> {
        self.check("remove_etc_files")?;
        lock(&self.world)
            .etc_files
            .retain(|(owner, _), _| owner != name);
        Ok(())
    }

    fn probe_port(&self, protocol: Protocol, addr: SocketAddr) -> Probe {
        let world = lock(&self.world);
        let local = addr.ip().is_unspecified()
            || addr.ip().is_loopback()
            || world
                .links
                .values()
                .any(|l| l.addresses.iter().any(|(ip, _)| addr.ip() == *ip));
        if !local {
            return Probe::NotLocal;
        }
        // The kernel's rules over the held ports; where a dump is unsure
        // (a wildcard UDP bind against an address), the short-slot answer.
        match world.bound_sockets(protocol).verdict(addr) {
            Verdict::Free => Probe::Free,
            Verdict::InUse | Verdict::Unsure => Probe::InUse,
        }
    }

    fn bound_sockets(&self, protocol: Protocol) -> Result<BoundSockets, HostError> {
        self.check("bound_sockets")?;
        Ok(lock(&self.world).bound_sockets(protocol))
    }
}
