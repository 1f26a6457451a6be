//! A container's attachment to a network: veth pair, address, route, datapath.

use std::path::Path;

use ebpfnet_common::ProgramId;

use super::{Controller, GuardInterfaces, Result};
use crate::{
    datapath::encoding::endpoint_info,
    host::{HostError, InterfaceAddress, VethSpec},
    lan::LanNetwork,
    state::{Endpoint, Network},
};

impl Controller {
    /// Plumbs `endpoint` into the namespace at `netns_path`; returns the
    /// index of the veth's host side. On failure the host side of the veth is
    /// removed again (which takes its peer along).
    pub(super) async fn plumb_endpoint(
        &mut self,
        netns_path: &Path,
        endpoint: &Endpoint,
        network: &Network,
        routes: DefaultRoutes,
    ) -> Result<u32> {
        if let Some(lan) = &network.lan {
            return self
                .plumb_lan_endpoint(netns_path, endpoint, network, lan, routes)
                .await;
        }
        let made = async {
            let mtu = network.overlay.map(|_| super::overlay::OVERLAY_MTU);
            let host_index = self
                .create_endpoint_veth(endpoint, network, &endpoint.ifname, netns_path, mtu)
                .await?;
            // The program is in place before the container's side comes up, so
            // its very first packet meets anti-spoofing and isolation; it may
            // route packets out (masquerade) only with forwarding on.
            self.program_endpoint_entry(endpoint, network, host_index)?;
            self.write_endpoint6(host_index, endpoint)?;
            self.attach_endpoint_programs(&endpoint.host_veth, host_index)?;
            let address = interface_address(endpoint, network, routes);
            self.host
                .configure_interface(netns_path, &endpoint.ifname, address)
                .await?;
            Ok(host_index)
        }
        .await;
        if made.is_err() {
            self.undo_failed_plumb(endpoint).await;
        }
        made
    }

    /// Best effort, after a failed [`Self::plumb_endpoint`]: whatever of
    /// `endpoint` was made, out again.
    async fn undo_failed_plumb(&mut self, endpoint: &Endpoint) {
        let _ = self.datapath.detach(&endpoint.host_veth);
        let index = self
            .host
            .link_index(&endpoint.host_veth)
            .await
            .ok()
            .flatten();
        if let Some(index) = index {
            let _ = self.datapath.remove_endpoint6(index);
            let _ = self.datapath.remove_endpoint(index);
        }
        match self.host.delete_link(&endpoint.host_veth).await {
            Ok(()) => self.forget_counters(index, &endpoint.host_veth),
            Err(undo) => log::error!(
                "cannot remove {} after a failed attach: {undo}",
                endpoint.host_veth
            ),
        }
    }

    /// Makes `endpoint`'s veth pair on `network`'s bridge, the peer named
    /// `peer_name` in the namespace at `peer_netns`; returns the index of
    /// the host side.
    pub(super) async fn create_endpoint_veth(
        &mut self,
        endpoint: &Endpoint,
        network: &Network,
        peer_name: &str,
        peer_netns: &Path,
        mtu: Option<u32>,
    ) -> Result<u32> {
        let bridge_index = self
            .host
            .link_index(&network.bridge)
            .await?
            .ok_or_else(|| HostError::NoSuchLink(network.bridge.clone()))?;
        let spec = VethSpec {
            host_name: &endpoint.host_veth,
            bridge_index,
            peer_name,
            peer_mac: endpoint.mac,
            peer_netns,
            mtu,
        };
        Ok(self.host.create_veth(&spec).await?)
    }

    /// The host side of `endpoint`'s veth (index `host_index`) forwards and
    /// takes no router advertisements; the datapath has its entry.
    pub(super) fn program_endpoint_entry(
        &mut self,
        endpoint: &Endpoint,
        network: &Network,
        host_index: u32,
    ) -> Result<()> {
        self.host.enable_forwarding(&endpoint.host_veth)?;
        self.host
            .refuse_router_advertisements(&endpoint.host_veth)?;
        self.datapath
            .set_endpoint(host_index, endpoint_info(endpoint, network))?;
        Ok(())
    }

    /// The programs on a container's host-side veth: anti-spoofing,
    /// isolation and NAT on what it sends; with `--guard-interfaces all`,
    /// the guard on what the host forwards to it (one a previous daemon
    /// attached is taken off under `uplinks`).
    pub(super) fn attach_endpoint_programs(&mut self, host_veth: &str, index: u32) -> Result<()> {
        self.datapath
            .attach(ProgramId::ContainerIngress, host_veth, index)?;
        match self.config.guard_interfaces {
            GuardInterfaces::All => {
                self.datapath
                    .attach(ProgramId::ContainerEgress, host_veth, index)?;
            }
            GuardInterfaces::Uplinks => {
                self.datapath
                    .detach_program(ProgramId::ContainerEgress, host_veth)?;
            }
        }
        Ok(())
    }

    /// Takes an endpoint down whatever its network's driver; `netns_path`
    /// is the container's namespace (a macvlan or ipvlan interface is in
    /// there, and goes with an owned one anyway).
    pub(super) async fn take_down_endpoint(
        &mut self,
        netns_path: Option<&Path>,
        endpoint: &Endpoint,
    ) -> Result<()> {
        let on_lan = self
            .state
            .networks
            .get(&endpoint.network)
            .is_some_and(|n| n.lan.is_some());
        if on_lan {
            self.unplumb_lan_endpoint(netns_path, endpoint).await
        } else {
            self.unplumb_endpoint(endpoint).await
        }
    }

    /// Removes an endpoint's veth pair, its datapath attachment and entry.
    pub(super) async fn unplumb_endpoint(&mut self, endpoint: &Endpoint) -> Result<()> {
        self.datapath.detach(&endpoint.host_veth)?;
        let index = self.host.link_index(&endpoint.host_veth).await?;
        if let Some(index) = index {
            self.datapath.remove_endpoint6(index)?;
            self.datapath.remove_endpoint(index)?;
        }
        self.host.delete_link(&endpoint.host_veth).await?;
        self.forget_counters(index, &endpoint.host_veth);
        // After the veth: no packet of the address can start a flow again.
        if let Some(ip) = endpoint.ip {
            let flows = self.datapath.remove_flows_of(ip)?;
            if flows > 0 {
                log::info!("removed {flows} NAT entries of {ip}");
            }
        }
        if let Some(ip6) = endpoint.ip6 {
            let flows = self.datapath.remove_flows_of6(ip6)?;
            if flows > 0 {
                log::info!("removed {flows} NAT entries of {ip6}");
            }
        }
        Ok(())
    }

    /// Frees the counters of `ifname`, an interface just deleted whose
    /// index was `index` (if it had one): its slots and its entry would
    /// otherwise stay, and the next interface given that index would
    /// start with its counts. A failure is logged and nothing more: the
    /// interface is gone whatever its counters say.
    pub(super) fn forget_counters(&mut self, index: Option<u32>, ifname: &str) {
        if let Some(index) = index
            && let Err(e) = self.datapath.forget_interface(index)
        {
            log::warn!("cannot clear the counters of {ifname} (#{index}): {e}");
        }
    }
}

/// The default routes an endpoint's interface holds. As Docker's gateway
/// endpoint, per family: the container's first endpoint with an IPv4
/// address gives it its IPv4 default route, the first with an IPv6 address
/// its IPv6 one (a container that joins an IPv6 network later gets its
/// IPv6 route there).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(super) struct DefaultRoutes {
    pub v4: bool,
    pub v6: bool,
}

impl DefaultRoutes {
    /// Those of `endpoint` among the container's `endpoints` (in order;
    /// `endpoint` is among them, or about to be added after them).
    pub fn of(endpoints: &[Endpoint], endpoint: &Endpoint) -> Self {
        let before: Vec<&Endpoint> = endpoints
            .iter()
            .take_while(|e| e.id != endpoint.id)
            .collect();
        Self {
            v4: endpoint.ip.is_some() && !before.iter().any(|e| e.ip.is_some()),
            v6: endpoint.ip6.is_some() && !before.iter().any(|e| e.ip6.is_some()),
        }
    }

    /// Those of an interface on `lan` (macvlan or ipvlan `network`):
    /// through the gateway where the LAN routes so, none on an internal
    /// network; and whether the interface holds a device IPv4 default
    /// route instead (an L3 ipvlan network routes without a gateway).
    pub fn on_lan(self, network: &Network, lan: &LanNetwork) -> (Self, bool) {
        let v4 = self.v4 && !network.internal;
        let via_gateway = lan.routes_via_gateway();
        let routes = Self {
            v4: v4 && via_gateway,
            v6: self.v6 && !network.internal && via_gateway,
        };
        (routes, v4 && !via_gateway)
    }
}

/// The addresses and default routes of an endpoint's interface.
pub(super) fn interface_address(
    endpoint: &Endpoint,
    network: &Network,
    routes: DefaultRoutes,
) -> InterfaceAddress {
    let v4 = network.ipv4();
    InterfaceAddress {
        ip: endpoint.ip,
        prefix: v4.map_or(0, |v4| v4.subnet.prefix()),
        default_route: v4.filter(|_| routes.v4).map(|v4| v4.gateway),
        ipv6: super::ipv6::interface_address6(endpoint, network, routes.v6),
    }
}
