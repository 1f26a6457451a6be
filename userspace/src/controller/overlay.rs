//! This host's side of overlay networks. A global network (kept in the
//! cluster store) gets a local side when a container of this host first
//! joins it: a bridge with the network's gateway, as a bridge network
//! has (so masquerade and published ports work as for bridge
//! containers), container interfaces with MTU [`OVERLAY_MTU`], and the
//! host's one collect-metadata VXLAN device, through which the programs
//! reach the network's containers on other hosts (`OVERLAY_PEERS`, and
//! `OVERLAY_PEERS6` for the IPv6 addresses of a dual-stack or IPv6-only
//! network).

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr},
};

use super::{Controller, ControllerError, Result};
use crate::{
    datapath::encoding::network_info,
    dns::remote::RemoteName,
    ids,
    state::{Ipv4Config, Ipv6Config, Network, OverlayLink},
};
use ebpfnet_common::{
    ProgramId,
    overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey, OverlayPeerKey6},
};

/// Container interfaces on overlay networks: 1500 less VXLAN's 50 bytes
/// (outer IPv4 20, UDP 8, VXLAN 8, inner Ethernet 14).
pub const OVERLAY_MTU: u32 = 1450;
/// The host's collect-metadata VXLAN device (UDP 4789).
pub const VXLAN_DEVICE: &str = "ebpfnet-vxlan";

/// A global network as the cluster store has it.
#[derive(Debug, Clone)]
pub struct OverlaySpec {
    pub name: String,
    pub id: String,
    /// Its IPv4 subnet and gateway; none on an IPv6-only network.
    pub ipv4: Option<Ipv4Config>,
    /// On a network with IPv6: its IPv6 subnet and gateway.
    pub ipv6: Option<Ipv6Config>,
    pub internal: bool,
    pub vni: u32,
}

/// A container of this host on an overlay network, as it is advertised.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct LocalOverlayEndpoint {
    pub network: String,
    /// None on an IPv6-only network.
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub mac: [u8; 6],
    pub container: String,
    pub aliases: Vec<String>,
}

/// A container of another host on an overlay network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteOverlayEndpoint {
    pub network: String,
    /// None on an IPv6-only network.
    pub ip: Option<Ipv4Addr>,
    /// On a network with IPv6.
    pub ip6: Option<Ipv6Addr>,
    pub mac: [u8; 6],
    pub host: Ipv4Addr,
    /// Its container name, then its aliases (for the name servers).
    pub names: Vec<String>,
}

impl Controller {
    /// Makes the local side of `spec` unless it exists.
    pub async fn ensure_overlay_network(&mut self, spec: &OverlaySpec) -> Result<()> {
        match self.state.networks.get(&spec.name) {
            Some(network) if network.overlay.is_some() && network.id == spec.id => return Ok(()),
            Some(_) => {
                return Err(ControllerError::Refused(format!(
                    "network {} exists on this host as a local network; it cannot also be the \
                     overlay network of that name",
                    spec.name
                )));
            }
            None => {}
        }
        let routes = self.foreign_routes().await?;
        if let Some(v4) = spec.ipv4 {
            self.check_subnet_free(v4.subnet, &routes).await?;
        }
        if let Some(six) = spec.ipv6 {
            let routes6 = self.foreign_routes6().await?;
            self.check_subnet6_free(six.subnet, &routes6)?;
        }
        let vxlan_index = self.ensure_vxlan_device().await?;
        let network = Network {
            bridge: ids::bridge_name(&spec.id),
            overlay: Some(OverlayLink { vni: spec.vni }),
            ipv6: spec.ipv6,
            ..self.network_record(&spec.id, &spec.name, spec.ipv4, spec.internal)
        };
        let made = self.plumb_overlay_network(&network, vxlan_index).await;
        let mut next = self.state.clone();
        next.networks.insert(spec.name.clone(), network.clone());
        if let Err(e) = made.and_then(|()| self.commit(next)) {
            self.unplumb_overlay_network(&network).await;
            return Err(e);
        }
        log::info!(
            "overlay network {} (VNI {}) set up on this host",
            spec.name,
            spec.vni
        );
        self.refresh_host_logged().await;
        Ok(())
    }

    async fn plumb_overlay_network(&mut self, network: &Network, vxlan_index: u32) -> Result<()> {
        self.ensure_network_bridge(network).await?;
        if let Some(v4) = network.ipv4() {
            self.datapath
                .set_network(v4.subnet, network_info(network))?;
        }
        // The IPv6 gateway on the bridge and `NETWORKS6`, as a bridge
        // network with IPv6 has them.
        self.make_network6(network).await?;
        let vni = network.overlay.map_or(0, |o| o.vni);
        let info = OverlayNetwork {
            vni,
            vxlan_ifindex: vxlan_index,
        };
        self.datapath.set_overlay_network(network.number, info)?;
        Ok(())
    }

    /// Takes the local side down (the bridge, its maps' entries, and the
    /// VXLAN device when no other overlay network is left); goes on past
    /// failures, which are logged.
    pub(super) async fn unplumb_overlay_network(&mut self, network: &Network) {
        if let Err(e) = self.datapath.remove_overlay_network(network.number) {
            log::error!("overlay network {}: {e}", network.name);
        }
        if let Some(v4) = network.ipv4()
            && let Err(e) = self.datapath.remove_network(v4.subnet)
        {
            log::error!("overlay network {}: {e}", network.name);
        }
        if let Some(six) = network.ipv6
            && let Err(e) = self.datapath.remove_network6(six.subnet)
        {
            log::error!("overlay network {}: {e}", network.name);
        }
        if let Err(e) = self.host.delete_link(&network.bridge).await {
            log::error!("overlay network {}: {e}", network.name);
        }
        let others = self
            .state
            .networks
            .values()
            .any(|n| n.overlay.is_some() && n.name != network.name);
        if !others {
            if let Err(e) = self.datapath.detach(VXLAN_DEVICE) {
                log::error!("{VXLAN_DEVICE}: {e}");
            }
            let index = self.host.link_index(VXLAN_DEVICE).await.ok().flatten();
            match self.host.delete_link(VXLAN_DEVICE).await {
                Ok(()) => self.forget_counters(index, VXLAN_DEVICE),
                Err(e) => log::error!("{VXLAN_DEVICE}: {e}"),
            }
        }
    }

    /// The VXLAN device, made if missing, with `overlay_ingress` on it.
    async fn ensure_vxlan_device(&mut self) -> Result<u32> {
        let index = self.host.ensure_vxlan(VXLAN_DEVICE).await?;
        self.datapath
            .attach(ProgramId::OverlayIngress, VXLAN_DEVICE, index)?;
        Ok(index)
    }

    /// At start: the VXLAN device and the overlay maps of the saved
    /// overlay networks (their bridges are made with the others'). Answers
    /// the device's name when there is one to keep attached.
    pub(super) async fn restore_overlay(&mut self) -> Result<Option<String>> {
        let overlays: Vec<Network> = self
            .state
            .networks
            .values()
            .filter(|n| n.overlay.is_some())
            .cloned()
            .collect();
        if overlays.is_empty() {
            return Ok(None);
        }
        let index = self.ensure_vxlan_device().await?;
        for network in &overlays {
            self.plumb_overlay_network(network, index).await?;
        }
        Ok(Some(VXLAN_DEVICE.to_string()))
    }

    /// The containers of this host on overlay networks.
    pub fn overlay_endpoints(&self) -> Vec<LocalOverlayEndpoint> {
        let mut list = Vec::new();
        for container in self.state.containers.values() {
            for endpoint in &container.endpoints {
                let on_overlay = self
                    .state
                    .networks
                    .get(&endpoint.network)
                    .is_some_and(|n| n.overlay.is_some());
                // IPv4, dual-stack or IPv6-only.
                if on_overlay && (endpoint.ip.is_some() || endpoint.ip6.is_some()) {
                    list.push(LocalOverlayEndpoint {
                        network: endpoint.network.clone(),
                        ip: endpoint.ip,
                        ip6: endpoint.ip6,
                        mac: endpoint.mac,
                        container: container.name.clone(),
                        aliases: endpoint.aliases.clone(),
                    });
                }
            }
        }
        list.sort();
        list
    }

    /// Makes `OVERLAY_PEERS` hold exactly `remote` (those of networks
    /// with a local side), and the name servers answer their names;
    /// answers how many map entries changed.
    pub fn set_overlay_peers(&mut self, remote: &[RemoteOverlayEndpoint]) -> Result<usize> {
        let mut peers = BTreeMap::new();
        let mut peers6 = BTreeMap::new();
        let mut names = Vec::new();
        for endpoint in remote {
            let Some(network) = self.state.networks.get(&endpoint.network) else {
                continue;
            };
            if network.overlay.is_none() {
                continue;
            }
            let peer = OverlayPeer {
                host_ip: endpoint.host.octets(),
                mac: endpoint.mac,
                _pad: [0; 2],
            };
            // Each address where this host's side has its subnet.
            let ip = endpoint
                .ip
                .filter(|ip| network.subnet.is_some_and(|s| s.contains(*ip)));
            if let Some(ip) = ip {
                let key = OverlayPeerKey {
                    network_id: network.number,
                    ip: ip.octets(),
                };
                peers.insert(key, peer);
            }
            let ip6 = endpoint
                .ip6
                .filter(|ip6| network.ipv6.is_some_and(|six| six.subnet.contains(*ip6)));
            if let Some(ip6) = ip6 {
                let key6 = OverlayPeerKey6 {
                    network_id: network.number,
                    ip: ip6.octets(),
                };
                peers6.insert(key6, peer);
            }
            if ip.is_none() && ip6.is_none() {
                continue;
            }
            names.push(RemoteName {
                network: endpoint.network.clone(),
                ip,
                ip6,
                names: endpoint.names.clone(),
            });
        }
        let changed =
            self.datapath.set_overlay_peers(&peers)? + self.datapath.set_overlay_peers6(&peers6)?;
        self.names.set_remote(&self.state, names);
        Ok(changed)
    }

    /// Removes the local side of an overlay network that left the cluster
    /// store, once no container of this host is on it.
    pub async fn drop_overlay_network(&mut self, name: &str) -> Result<bool> {
        let Some(network) = self.state.networks.get(name).cloned() else {
            return Ok(false);
        };
        if network.overlay.is_none() || self.state.containers_on(name).next().is_some() {
            return Ok(false);
        }
        self.unplumb_overlay_network(&network).await;
        let mut next = self.state.clone();
        next.networks.remove(name);
        self.commit(next)?;
        self.refresh_host_logged().await;
        Ok(true)
    }
}
