//! A container's attachment to a network: veth pair, address, route, datapath.

use std::path::Path;

use ebpfnet_common::ProgramId;

use super::{Controller, GuardInterfaces, Result, sync::endpoint_info};
use crate::{
    host::{
        HostError,
        netlink::{self, VethSpec},
        netns,
    },
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
            if let Ok(Some(index)) = netlink::link_index(&self.host, &endpoint.host_veth).await {
                let _ = self.datapath.remove_endpoint(index);
            }
            if let Err(undo) = netlink::delete_link(&self.host, &endpoint.host_veth).await {
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
        let ns = netns::open_netns(netns_path)?;
        let bridge_index = netlink::require_link(&self.host, &network.bridge).await?;
        let host_index = netlink::create_veth(
            &self.host,
            &VethSpec {
                host_name: &endpoint.host_veth,
                bridge_index,
                peer_name: &endpoint.ifname,
                peer_mac: endpoint.mac,
                peer_netns: &ns,
            },
        )
        .await?;
        // The program is in place before the container's side comes up, so
        // its very first packet meets anti-spoofing and isolation; it may
        // route packets out (masquerade) only with forwarding on.
        crate::host::enable_forwarding(&endpoint.host_veth)?;
        crate::host::refuse_router_advertisements(&endpoint.host_veth)?;
        self.datapath
            .set_endpoint(host_index, endpoint_info(endpoint, network))?;
        self.attach_endpoint_programs(&endpoint.host_veth, host_index)?;
        let ifname = endpoint.ifname.clone();
        let (ip, prefix, gateway) = (endpoint.ip, network.subnet.prefix(), network.gateway);
        netns::in_netns(netns_path, move |handle| async move {
            let lo = netlink::require_link(&handle, "lo").await?;
            netlink::set_up(&handle, lo, "lo").await?;
            let index = netlink::require_link(&handle, &ifname).await?;
            netlink::add_address(&handle, index, ip, prefix).await?;
            netlink::set_up(&handle, index, &ifname).await?;
            if default_route {
                netlink::add_default_route(&handle, gateway).await?;
            }
            Ok::<_, HostError>(())
        })
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

    /// Removes an endpoint's veth pair, its datapath attachment and entry.
    pub(super) async fn unplumb_endpoint(&mut self, endpoint: &Endpoint) -> Result<()> {
        self.datapath.detach(&endpoint.host_veth)?;
        if let Some(index) = netlink::link_index(&self.host, &endpoint.host_veth).await? {
            self.datapath.remove_endpoint(index)?;
        }
        netlink::delete_link(&self.host, &endpoint.host_veth).await?;
        // After the veth: no packet of the address can start a flow again.
        let flows = self.datapath.remove_flows_of(endpoint.ip)?;
        if flows > 0 {
            log::info!("removed {flows} NAT entries of {}", endpoint.ip);
        }
        Ok(())
    }
}
