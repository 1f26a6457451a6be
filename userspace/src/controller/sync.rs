//! Keeping the datapath's maps in line with the state and the host:
//! CONFIG, NETWORKS, UPLINKS and HOST_ADDRS, and dropping what an earlier
//! daemon left that the state no longer wants.

use std::{collections::BTreeSet, fmt::Display, net::Ipv4Addr};

use ebpfnet_common::published::PublishedKeyOf;

use super::{Controller, ControllerError, Result, masquerade, uplinks};
use crate::{
    datapath::{
        encoding::{describe_key, network_info, network_info6, published_key, uplink_info},
        family::Family,
    },
    host::netlink::HostAddress,
    state::{Container, Network},
};

impl Controller {
    /// The mappings of one family in the datapath (`current`) that no
    /// container of the state has (`keys_of`: a container's keys), each logged.
    pub(super) fn stale_mappings<A: Family, V>(
        &self,
        keys_of: fn(&Container) -> Vec<PublishedKeyOf<A>>,
        current: Vec<(PublishedKeyOf<A>, V)>,
    ) -> Vec<PublishedKeyOf<A>> {
        let wanted: BTreeSet<_> = self.state.containers.values().flat_map(keys_of).collect();
        let stale: Vec<_> = current
            .into_iter()
            .map(|(key, _)| key)
            .filter(|key| !wanted.contains(key))
            .collect();
        for key in &stale {
            log::info!(
                "removing stale mapping {} from the datapath",
                describe_key(key)
            );
        }
        stale
    }

    /// Gives a number to networks saved before numbers existed.
    pub(super) fn number_networks(&mut self) -> Result<()> {
        if self.state.networks.values().all(|n| n.number != 0) {
            return Ok(());
        }
        let mut next = self.state.clone();
        let unnumbered: Vec<String> = next
            .networks
            .values()
            .filter(|n| n.number == 0)
            .map(|n| n.name.clone())
            .collect();
        for name in unnumbered {
            let number = next.free_network_number();
            if let Some(n) = next.networks.get_mut(&name) {
                n.number = number;
            }
        }
        self.commit(next)
    }

    /// At start, before the containers come back: CONFIG, every network,
    /// the uplinks and the host's addresses.
    pub(super) async fn sync_topology(&mut self) -> Result<()> {
        self.number_networks()?;
        self.write_config()?;
        let networks: Vec<Network> = self.state.networks.values().cloned().collect();
        // macvlan and ipvlan subnets are the LAN's: no container subnet
        // the programs would guard or isolate.
        for network in networks.iter().filter(|n| n.lan.is_none()) {
            if let Some(v4) = network.ipv4() {
                self.datapath
                    .set_network(v4.subnet, network_info(network))?;
            }
            if let Some((subnet, info)) = network_info6(network) {
                self.datapath.set_network6(subnet, info)?;
            }
        }
        let addresses = self.host.ipv4_addresses().await?;
        for uplink in &self.uplinks {
            let ip = first_address(&addresses, uplink.ifindex).ok_or_else(|| {
                ControllerError::Refused(format!("uplink {} has no IPv4 address", uplink.name))
            })?;
            self.datapath.set_uplink(uplink.ifindex, uplink_info(ip))?;
            self.uplink_ips.insert(uplink.ifindex, ip);
        }
        self.sync_uplinks6().await?;
        self.host_addrs.clear();
        self.write_host_addrs(addresses)
    }

    fn write_host_addrs(&mut self, mut addresses: Vec<HostAddress>) -> Result<()> {
        addresses.sort();
        addresses.dedup_by_key(|a| a.ip);
        if addresses == self.host_addrs {
            return Ok(());
        }
        let pairs: Vec<(Ipv4Addr, u32)> = addresses.iter().map(|a| (a.ip, a.ifindex)).collect();
        self.datapath.set_host_addrs(&pairs)?;
        self.host_addrs = addresses;
        Ok(())
    }

    /// `CONFIG` from the host's port range: refused when no masquerade
    /// range disjoint from the host's ephemeral ports is left.
    fn write_config(&mut self) -> Result<()> {
        let options = self.config.masquerade;
        let range = masquerade::masquerade_range(&self.host.ip_local_port_range(), options.range)
            .map_err(ControllerError::Refused)?;
        // The host's namespace never changes: read its cookie once.
        let cookie = match self.datapath_config {
            Some(config) => config.host_netns_cookie,
            None => self.host.netns_cookie()?,
        };
        let config = masquerade::datapath_config(range, options.per_destination, cookie);
        if self.datapath_config != Some(config) {
            self.datapath.set_config(config)?;
            self.datapath_config = Some(config);
        }
        Ok(())
    }

    /// Follows a change of `ip_local_port_range` while running: the
    /// masquerade range moves out of the host's new one, or, when none is
    /// left, stays and says so (a running daemon cannot refuse to start).
    pub fn refresh_port_range(&mut self) {
        let before = self.datapath_config;
        match self.write_config() {
            Ok(()) if before != self.datapath_config => {
                if let Some(config) = self.datapath_config {
                    log::info!(
                        "masquerade ports now {}-{} ({} changed)",
                        config.masq_port_min,
                        config.masq_port_max,
                        masquerade::PORT_RANGE_SYSCTL
                    );
                }
            }
            Ok(()) => {}
            Err(e) => log::error!("masquerade ports unchanged: {e}"),
        }
    }

    /// Follows the uplinks to their current interfaces, re-reads the
    /// host's addresses and the uplinks' and writes what changed. Run when
    /// netlink reports a link or address change, after bridges come or go,
    /// and now and then as a safety net.
    pub async fn refresh_host(&mut self) -> Result<()> {
        self.follow_uplinks().await?;
        let addresses = self.host.ipv4_addresses().await?;
        let uplinks = self.uplinks.clone();
        for uplink in uplinks.iter().filter(|u| u.ifindex != uplinks::ABSENT) {
            let current = first_address(&addresses, uplink.ifindex);
            match current {
                Some(ip) if self.uplink_ips.get(&uplink.ifindex) != Some(&ip) => {
                    log::info!("uplink {} now masquerades as {ip}", uplink.name);
                    self.datapath.set_uplink(uplink.ifindex, uplink_info(ip))?;
                    self.uplink_ips.insert(uplink.ifindex, ip);
                }
                None if self.uplink_ips.contains_key(&uplink.ifindex) => {
                    log::warn!(
                        "uplink {} lost its IPv4 address; masquerade keeps the old one",
                        uplink.name
                    );
                    self.uplink_ips.remove(&uplink.ifindex);
                }
                _ => {}
            }
        }
        self.refresh_uplinks6().await?;
        self.write_host_addrs(addresses)
    }

    /// After the containers came back: removes the map entries of networks,
    /// endpoints, mappings and uplinks the state no longer has.
    pub(super) async fn prune_stale(&mut self) -> Result<()> {
        let networks = &self.state.networks;
        let subnets: BTreeSet<_> = networks.values().filter_map(|n| n.subnet).collect();
        let subnets6: BTreeSet<_> = networks
            .values()
            .filter_map(|n| n.ipv6.map(|six| six.subnet))
            .collect();
        let dp = &mut self.datapath;
        remove_stale(dp.networks()?, &subnets, "network ", |s| {
            dp.remove_network(s)
        })?;
        remove_stale(dp.networks6()?, &subnets6, "network ", |s| {
            dp.remove_network6(s)
        })?;
        let mut endpoints = BTreeSet::new();
        let mut endpoints6 = BTreeSet::new();
        for container in self.state.containers.values() {
            for endpoint in &container.endpoints {
                if let Some(index) = self.host.link_index(&endpoint.host_veth).await? {
                    endpoints.insert(index);
                    if endpoint.ip6.is_some() {
                        endpoints6.insert(index);
                    }
                }
            }
        }
        let dp = &mut self.datapath;
        remove_stale(dp.endpoints6()?, &endpoints6, "IPv6 endpoint #", |i| {
            dp.remove_endpoint6(i)
        })?;
        remove_stale(dp.endpoints()?, &endpoints, "endpoint #", |i| {
            dp.remove_endpoint(i)
        })?;
        let stale = self.stale_mappings(
            |c| c.ports.iter().filter_map(published_key).collect(),
            self.datapath.published()?,
        );
        if !stale.is_empty() {
            self.datapath.unpublish(&stale)?;
        }
        self.prune_stale_published6()?;
        let uplinks: BTreeSet<u32> = self.uplinks.iter().map(|u| u.ifindex).collect();
        let found: Vec<u32> = self
            .datapath
            .uplinks()?
            .into_iter()
            .map(|(i, _)| i)
            .collect();
        let dp = &mut self.datapath;
        remove_stale(found, &uplinks, "uplink #", |i| dp.remove_uplink(i))
    }
}

/// Removes, with `remove`, each of `found` (map entries an earlier daemon
/// may have left) that is not in `wanted`, saying so as `what` (`network`,
/// `endpoint #`…) followed by it.
fn remove_stale<T: Ord + Display + Copy, E>(
    found: Vec<T>,
    wanted: &BTreeSet<T>,
    what: &str,
    mut remove: impl FnMut(T) -> std::result::Result<(), E>,
) -> Result<()>
where
    ControllerError: From<E>,
{
    for item in found.into_iter().filter(|item| !wanted.contains(item)) {
        log::info!("removing stale {what}{item} from the datapath");
        remove(item)?;
    }
    Ok(())
}

fn first_address(addresses: &[HostAddress], ifindex: u32) -> Option<Ipv4Addr> {
    addresses
        .iter()
        .find(|a| a.ifindex == ifindex)
        .map(|a| a.ip)
}
