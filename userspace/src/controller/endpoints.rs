//! A container's attachment to a network: veth pair, address, route, datapath.

use std::path::Path;

use ebpfnet_common::ProgramId;

use super::{Controller, GuardInterfaces, Result};
use crate::{
    datapath::encoding::endpoint_info,
    host::{HostError, InterfaceAddress, VethSpec},
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
        default_route: bool,
    ) -> Result<u32> {
        if let Some(lan) = &network.lan {
            return self
                .plumb_lan_endpoint(netns_path, endpoint, network, lan, default_route)
                .await;
        }
        let made = self
            .plumb_endpoint_inner(netns_path, endpoint, network, default_route)
            .await;
        if made.is_err() {
            let _ = self.datapath.detach(&endpoint.host_veth);
            if let Ok(Some(index)) = self.host.link_index(&endpoint.host_veth).await {
                let _ = self.datapath.remove_endpoint6(index);
                let _ = self.datapath.remove_endpoint(index);
            }
            if let Err(undo) = self.host.delete_link(&endpoint.host_veth).await {
                log::error!(
                    "cannot remove {} after a failed attach: {undo}",
                    endpoint.host_veth
                );
            }
        }
        made
    }

    async fn plumb_endpoint_inner(
        &mut self,
        netns_path: &Path,
        endpoint: &Endpoint,
        network: &Network,
        default_route: bool,
    ) -> Result<u32> {
        let bridge_index = self
            .host
            .link_index(&network.bridge)
            .await?
            .ok_or_else(|| HostError::NoSuchLink(network.bridge.clone()))?;
        let host_index = self
            .host
            .create_veth(&VethSpec {
                host_name: &endpoint.host_veth,
                bridge_index,
                peer_name: &endpoint.ifname,
                peer_mac: endpoint.mac,
                peer_netns: netns_path,
                mtu: network.overlay.map(|_| super::overlay::OVERLAY_MTU),
            })
            .await?;
        // The program is in place before the container's side comes up, so
        // its very first packet meets anti-spoofing and isolation; it may
        // route packets out (masquerade) only with forwarding on.
        self.host.enable_forwarding(&endpoint.host_veth)?;
        self.host
            .refuse_router_advertisements(&endpoint.host_veth)?;
        self.datapath
            .set_endpoint(host_index, endpoint_info(endpoint, network))?;
        self.write_endpoint6(host_index, endpoint)?;
        self.attach_endpoint_programs(&endpoint.host_veth, host_index)?;
        let address = InterfaceAddress {
            ip: endpoint.ip,
            prefix: network.subnet.prefix(),
            default_route: default_route.then_some(network.gateway),
            ipv6: super::ipv6::interface_address6(endpoint, network, default_route),
        };
        self.host
            .configure_interface(netns_path, &endpoint.ifname, address)
            .await?;
        Ok(host_index)
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
        if let Some(index) = self.host.link_index(&endpoint.host_veth).await? {
            self.datapath.remove_endpoint6(index)?;
            self.datapath.remove_endpoint(index)?;
        }
        self.host.delete_link(&endpoint.host_veth).await?;
        // After the veth: no packet of the address can start a flow again.
        let flows = self.datapath.remove_flows_of(endpoint.ip)?;
        if flows > 0 {
            log::info!("removed {flows} NAT entries of {}", endpoint.ip);
        }
        if let Some(ip6) = endpoint.ip6 {
            let flows = self.datapath.remove_flows_of6(ip6)?;
            if flows > 0 {
                log::info!("removed {flows} NAT entries of {ip6}");
            }
        }
        Ok(())
    }
}
