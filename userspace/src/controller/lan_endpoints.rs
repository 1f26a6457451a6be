//! Containers' interfaces on macvlan and ipvlan networks: made on the
//! parent inside the container's namespace, entered in `LAN_HOSTS` (macvlan)
//! before they come up, removed on `rm` and `disconnect`.

use std::path::Path;

use super::{
    Controller, ControllerError, Result,
    endpoints::{DefaultRoutes, interface_address},
};
use crate::{
    host::LanDeviceSpec,
    lan::{LanKind, LanNetwork},
    state::{Endpoint, Network},
};

fn refused(message: String) -> ControllerError {
    ControllerError::Refused(message)
}

impl Controller {
    /// At start: drops the `LAN_HOSTS` entries of containers gone.
    pub(super) fn prune_lan_hosts(&mut self) -> Result<()> {
        let wanted: Vec<([u8; 6], [u8; 4])> = self
            .state
            .containers
            .values()
            .flat_map(|c| c.endpoints.iter())
            .filter_map(|e| Some((e.mac, e.ip?.octets())))
            .collect();
        for (_, mac, ip) in self.datapath.lan_hosts()? {
            if !wanted.contains(&(mac, ip)) {
                self.datapath.remove_lan_host(mac, ip)?;
            }
        }
        let wanted6: Vec<([u8; 6], std::net::Ipv6Addr)> = self
            .state
            .containers
            .values()
            .flat_map(|c| c.endpoints.iter())
            .filter_map(|e| Some((e.mac, e.ip6?)))
            .collect();
        for (_, mac, ip) in self.datapath.lan_hosts6()? {
            if !wanted6.contains(&(mac, ip)) {
                self.datapath.remove_lan_host6(mac)?;
            }
        }
        Ok(())
    }

    /// Makes the container's interface on the parent, with its address and
    /// route; returns 0 (there is no host side). Leaves it as it is when it
    /// exists (a restart). On failure, what was made is removed.
    pub(super) async fn plumb_lan_endpoint(
        &mut self,
        netns_path: &Path,
        endpoint: &Endpoint,
        network: &Network,
        lan: &LanNetwork,
        routes: DefaultRoutes,
    ) -> Result<u32> {
        let parent_index = match &lan.made_parent {
            Some(made) => self.host.ensure_lan_parent(&lan.parent, made).await?,
            None => self.host.link_index(&lan.parent).await?.ok_or_else(|| {
                refused(format!(
                    "parent interface {} of network {} not found",
                    lan.parent, network.name
                ))
            })?,
        };
        let exists = self
            .host
            .interface_names(netns_path)
            .await?
            .contains(&endpoint.ifname);
        if !exists {
            let spec = LanDeviceSpec {
                lan,
                parent_index,
                ifname: &endpoint.ifname,
                mac: Some(endpoint.mac),
                netns: netns_path,
            };
            self.host.create_lan_device(&spec).await?;
        }
        let configured = async {
            // Entered before the interface comes up: its first frame is checked.
            self.enter_lan_host(parent_index, endpoint, lan)?;
            let (routes, device_route) = routes.on_lan(network, lan);
            let address = interface_address(endpoint, network, routes);
            self.host
                .configure_interface(netns_path, &endpoint.ifname, address)
                .await?;
            if device_route {
                self.host
                    .add_device_default_route(netns_path, &endpoint.ifname)
                    .await?;
            }
            Ok(())
        }
        .await;
        if let Err(e) = configured {
            if !exists {
                self.delete_lan_device(netns_path, endpoint).await;
                if lan.kind == LanKind::Macvlan {
                    self.remove_lan_host(endpoint);
                }
            }
            return Err(e);
        }
        Ok(0)
    }

    /// A macvlan container in `LAN_HOSTS` and `LAN_IPS`, and with its IPv6
    /// address in `LAN_HOSTS6` and `LAN_IPS6`.
    fn enter_lan_host(&mut self, parent: u32, endpoint: &Endpoint, lan: &LanNetwork) -> Result<()> {
        if lan.kind != LanKind::Macvlan {
            return Ok(());
        }
        if let Some(ip) = endpoint.ip {
            self.datapath
                .set_lan_host(parent, endpoint.mac, ip.octets())?;
        }
        if let Some(ip6) = endpoint.ip6
            && let Err(e) = self.datapath.set_lan_host6(parent, endpoint.mac, ip6)
        {
            self.remove_lan_host(endpoint);
            return Err(e.into());
        }
        Ok(())
    }

    /// Best effort, on a failure path: a macvlan container's entries out.
    fn remove_lan_host(&mut self, endpoint: &Endpoint) {
        if let Some(ip) = endpoint.ip {
            let _ = self.datapath.remove_lan_host(endpoint.mac, ip.octets());
        }
        let _ = self.datapath.remove_lan_host6(endpoint.mac);
    }

    /// Removes a container's interface on a macvlan or ipvlan network
    /// (`disconnect`, `rm`) and its datapath entries: deleting an owned
    /// namespace would take it along, an adopted one would keep it.
    pub(super) async fn unplumb_lan_endpoint(
        &mut self,
        netns_path: Option<&Path>,
        endpoint: &Endpoint,
    ) -> Result<()> {
        if let Some(path) = netns_path {
            self.host.delete_lan_device(path, &endpoint.ifname).await?;
        }
        if let Some(ip) = endpoint.ip {
            self.datapath.remove_lan_host(endpoint.mac, ip.octets())?;
        }
        if endpoint.ip6.is_some() {
            self.datapath.remove_lan_host6(endpoint.mac)?;
        }
        Ok(())
    }

    async fn delete_lan_device(&self, netns_path: &Path, endpoint: &Endpoint) {
        if let Err(e) = self
            .host
            .delete_lan_device(netns_path, &endpoint.ifname)
            .await
        {
            log::error!(
                "cannot remove {} in {}: {e}",
                endpoint.ifname,
                netns_path.display()
            );
        }
    }
}
