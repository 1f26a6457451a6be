//! A datapath in memory: which program is attached where, and the entries
//! of every map the controller writes, as the kernel maps would hold them.

use std::{
    collections::{BTreeMap, BTreeSet},
    io,
    net::{Ipv4Addr, Ipv6Addr},
    sync::{Arc, Mutex},
};

use ebpfnet_common::{
    ProgramId,
    maps::{Config, EndpointInfo, NetworkInfo, PublishedKey, PublishedValue, UplinkInfo},
    maps6::NetworkInfo6,
    overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey, OverlayPeerKey6},
    published6::{PublishedKey6, PublishedValue6},
};
use ipnetwork::{Ipv4Network, Ipv6Network};

use super::{Faults, lock};
use crate::datapath::{
    Attachment, Counters, DatapathError, DatapathStats, DatapathStatus, LanHost, LanHost6,
    NatRecord, NatRecord6, Programs, Topology, Topology6,
};

/// Everything the fake datapath holds; two snapshots compare equal when
/// the datapath is the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DatapathWorld {
    /// (interface, program name) -> ifindex.
    pub attached: BTreeMap<(String, &'static str), u32>,
    pub config: Option<Config>,
    pub networks: BTreeMap<Ipv4Network, NetworkInfo>,
    pub endpoints: BTreeMap<u32, EndpointInfo>,
    /// `NETWORKS6`.
    pub networks6: BTreeMap<Ipv6Network, NetworkInfo6>,
    /// `ENDPOINTS6` with the MAC `ENDPOINT_IPS6` holds: ifindex -> (address, MAC).
    pub endpoints6: BTreeMap<u32, (Ipv6Addr, [u8; 6])>,
    /// `LAN_HOSTS` and `LAN_IPS`: (parent ifindex, MAC, address).
    pub lan_hosts: BTreeSet<LanHost>,
    /// `LAN_HOSTS6` and `LAN_IPS6`.
    pub lan_hosts6: BTreeSet<LanHost6>,
    pub uplinks: BTreeMap<u32, UplinkInfo>,
    /// `UPLINKS6`.
    pub uplinks6: BTreeMap<u32, Ipv6Addr>,
    pub host_addrs: BTreeMap<Ipv4Addr, u32>,
    /// `PUBLISHED`.
    pub published: BTreeMap<PublishedKey, PublishedValue>,
    /// `PUBLISHED6` and `HOST_ADDRS6`.
    pub published6: BTreeMap<PublishedKey6, PublishedValue6>,
    pub host_addrs6: BTreeMap<Ipv6Addr, u32>,
    /// Both NAT tables.
    pub flows: Vec<NatRecord>,
    /// Both IPv6 NAT tables.
    pub flows6: Vec<NatRecord6>,
    /// `OVERLAY_NETWORKS` (with `OVERLAY_VNIS` derived from it).
    pub overlay_networks: BTreeMap<u32, OverlayNetwork>,
    pub overlay_peers: BTreeMap<OverlayPeerKey, OverlayPeer>,
    pub overlay_peers6: BTreeMap<OverlayPeerKey6, OverlayPeer>,
    /// `ROUTED6`.
    pub routed6: BTreeMap<ebpfnet_common::routed6::RoutedPortKey6, u32>,
    /// The interfaces (ifindex) `IFACE_SLOTS` and `IFACE_STATS` count:
    /// packets put them there, so tests do, with [`FakeDatapath::edit`].
    pub counted: BTreeSet<u32>,
}

impl DatapathWorld {
    /// The programs attached to `ifname`.
    pub fn programs_on(&self, ifname: &str) -> Vec<&'static str> {
        self.attached
            .keys()
            .filter(|(i, _)| i == ifname)
            .map(|(_, p)| *p)
            .collect()
    }
}

#[derive(Clone)]
pub struct FakeDatapath {
    pub(super) world: Arc<Mutex<DatapathWorld>>,
    faults: Faults,
}

impl FakeDatapath {
    pub fn new(world: DatapathWorld, faults: Faults) -> Self {
        Self {
            world: Arc::new(Mutex::new(world)),
            faults,
        }
    }

    pub fn world(&self) -> DatapathWorld {
        lock(&self.world).clone()
    }

    /// Changes the maps behind the controller's back.
    pub fn edit(&self, change: impl FnOnce(&mut DatapathWorld)) {
        change(&mut lock(&self.world));
    }

    pub(super) fn check(&self, op: &str) -> Result<(), DatapathError> {
        self.faults.check(op).map_err(|why| DatapathError::Io {
            action: op.to_string(),
            source: io::Error::other(why),
        })
    }

    pub(super) fn with<T>(
        &self,
        op: &str,
        f: impl FnOnce(&mut DatapathWorld) -> T,
    ) -> Result<T, DatapathError> {
        self.check(op)?;
        Ok(f(&mut lock(&self.world)))
    }
}

impl Programs for FakeDatapath {
    fn attach(
        &mut self,
        program: ProgramId,
        ifname: &str,
        ifindex: u32,
    ) -> Result<(), DatapathError> {
        self.with("attach", |w| {
            w.attached
                .insert((ifname.to_string(), program.program_name()), ifindex);
        })
    }

    fn detach(&mut self, ifname: &str) -> Result<(), DatapathError> {
        self.with("detach", |w| w.attached.retain(|(i, _), _| i != ifname))
    }

    fn detach_program(&mut self, program: ProgramId, ifname: &str) -> Result<(), DatapathError> {
        self.with("detach_program", |w| {
            w.attached
                .remove(&(ifname.to_string(), program.program_name()));
        })
    }

    fn prune(&mut self, keep: &[String]) -> Result<(), DatapathError> {
        self.with("prune", |w| w.attached.retain(|(i, _), _| keep.contains(i)))
    }

    fn status(&self) -> Result<DatapathStatus, DatapathError> {
        self.check("status")?;
        let world = lock(&self.world);
        let programs = world
            .attached
            .iter()
            .map(|((interface, program), ifindex)| Attachment {
                program,
                interface: interface.clone(),
                ifindex: *ifindex,
            })
            .collect();
        Ok(DatapathStatus {
            tc_attach: "tcx",
            programs,
            maps: Vec::new(),
            counters: Vec::new(),
            interfaces: Vec::new(),
        })
    }
}

impl Topology for FakeDatapath {
    fn set_config(&mut self, config: Config) -> Result<(), DatapathError> {
        self.with("set_config", |w| w.config = Some(config))
    }

    fn set_network(&mut self, subnet: Ipv4Network, info: NetworkInfo) -> Result<(), DatapathError> {
        self.with("set_network", |w| {
            w.networks.insert(subnet, info);
        })
    }

    fn remove_network(&mut self, subnet: Ipv4Network) -> Result<(), DatapathError> {
        self.with("remove_network", |w| {
            w.networks.remove(&subnet);
        })
    }

    fn networks(&self) -> Result<Vec<Ipv4Network>, DatapathError> {
        self.check("networks")?;
        Ok(lock(&self.world).networks.keys().copied().collect())
    }

    fn set_endpoint(&mut self, ifindex: u32, info: EndpointInfo) -> Result<(), DatapathError> {
        self.with("set_endpoint", |w| {
            w.endpoints.insert(ifindex, info);
        })
    }

    fn remove_endpoint(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        self.with("remove_endpoint", |w| {
            w.endpoints.remove(&ifindex);
        })
    }

    fn endpoints(&self) -> Result<Vec<u32>, DatapathError> {
        self.check("endpoints")?;
        Ok(lock(&self.world).endpoints.keys().copied().collect())
    }

    fn set_uplink(&mut self, ifindex: u32, info: UplinkInfo) -> Result<(), DatapathError> {
        self.with("set_uplink", |w| {
            w.uplinks.insert(ifindex, info);
        })
    }

    fn remove_uplink(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        self.with("remove_uplink", |w| {
            w.uplinks.remove(&ifindex);
        })
    }

    fn uplinks(&self) -> Result<Vec<(u32, UplinkInfo)>, DatapathError> {
        self.check("uplinks")?;
        Ok(lock(&self.world)
            .uplinks
            .iter()
            .map(|(i, u)| (*i, *u))
            .collect())
    }

    fn set_host_addrs(&mut self, addrs: &[(Ipv4Addr, u32)]) -> Result<(), DatapathError> {
        self.with("set_host_addrs", |w| {
            w.host_addrs = addrs.iter().copied().collect();
        })
    }
}

impl Topology6 for FakeDatapath {
    fn set_network6(
        &mut self,
        subnet: Ipv6Network,
        info: NetworkInfo6,
    ) -> Result<(), DatapathError> {
        self.with("set_network6", |w| {
            w.networks6.insert(subnet, info);
        })
    }

    fn remove_network6(&mut self, subnet: Ipv6Network) -> Result<(), DatapathError> {
        self.with("remove_network6", |w| {
            w.networks6.remove(&subnet);
        })
    }

    fn networks6(&self) -> Result<Vec<Ipv6Network>, DatapathError> {
        self.check("networks6")?;
        Ok(lock(&self.world).networks6.keys().copied().collect())
    }

    fn set_endpoint6(
        &mut self,
        ifindex: u32,
        ip: Ipv6Addr,
        mac: [u8; 6],
    ) -> Result<(), DatapathError> {
        self.with("set_endpoint6", |w| {
            w.endpoints6.insert(ifindex, (ip, mac));
        })
    }

    fn remove_endpoint6(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        self.with("remove_endpoint6", |w| {
            w.endpoints6.remove(&ifindex);
        })
    }

    fn endpoints6(&self) -> Result<Vec<u32>, DatapathError> {
        self.check("endpoints6")?;
        Ok(lock(&self.world).endpoints6.keys().copied().collect())
    }

    fn set_uplink6(&mut self, ifindex: u32, ip: Ipv6Addr) -> Result<(), DatapathError> {
        self.with("set_uplink6", |w| {
            w.uplinks6.insert(ifindex, ip);
        })
    }

    fn remove_uplink6(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        self.with("remove_uplink6", |w| {
            w.uplinks6.remove(&ifindex);
        })
    }

    fn uplinks6(&self) -> Result<Vec<(u32, Ipv6Addr)>, DatapathError> {
        self.check("uplinks6")?;
        Ok(lock(&self.world)
            .uplinks6
            .iter()
            .map(|(i, ip)| (*i, *ip))
            .collect())
    }
}

impl Counters for FakeDatapath {
    fn stats(&self) -> Result<DatapathStats, DatapathError> {
        self.check("stats")?;
        Ok(DatapathStats::default())
    }

    fn forget_interface(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        self.with("forget_interface", |w| {
            w.counted.remove(&ifindex);
        })
    }
}
