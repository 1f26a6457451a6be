//! Containers' interfaces on macvlan and ipvlan networks: made on the
//! parent inside the container's namespace, entered in `LAN_HOSTS` (macvlan)
//! before they come up, removed on `rm` and `disconnect`.

use std::path::Path;

use super::{Controller, ControllerError, Result, modes};
use crate::{
    host::{
        HostError,
        lan::{self as host_lan, LanDeviceSpec},
        netlink, netns,
    },
    lan::{LanKind, LanNetwork},
    state::{Container, Endpoint, Network},
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
            .map(|e| (e.mac, e.ip.octets()))
            .collect();
        for (_, mac, ip) in self.datapath.lan_hosts()? {
            if !wanted.contains(&(mac, ip)) {
                self.datapath.remove_lan_host(mac, ip)?;
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
        default_route: bool,
    ) -> Result<u32> {
        let parent_index = match &lan.made_parent {
            Some(made) => host_lan::ensure_parent(&self.host, &lan.parent, made).await?,
            None => netlink::link_index(&self.host, &lan.parent)
                .await?
                .ok_or_else(|| {
                    refused(format!(
                        "parent interface {} of network {} not found",
                        lan.parent, network.name
                    ))
                })?,
        };
        let path = netns_path.to_path_buf();
        let ifname = endpoint.ifname.clone();
        let exists = netns::in_netns(&path, move |handle| async move {
            netlink::link_index(&handle, &ifname).await
        })
        .await?;
        if exists.is_none() {
            let ns = netns::open_netns(netns_path)?;
            let spec = LanDeviceSpec {
                lan,
                parent_index,
                ifname: &endpoint.ifname,
                mac: Some(endpoint.mac),
                netns: &ns,
            };
            host_lan::create_device(&self.host, &spec).await?;
        }
        // Before the interface comes up: its first frame is checked.
        if lan.kind == LanKind::Macvlan
            && let Err(e) =
                self.datapath
                    .set_lan_host(parent_index, endpoint.mac, endpoint.ip.octets())
        {
            if exists.is_none() {
                self.delete_lan_device(netns_path, endpoint).await;
            }
            return Err(e.into());
        }
        let route = match (default_route && !network.internal, lan.routes_via_gateway()) {
            (false, _) => None,
            (true, true) => Some(Some(network.gateway)),
            (true, false) => Some(None),
        };
        let ifname = endpoint.ifname.clone();
        let (ip, prefix) = (endpoint.ip, network.subnet.prefix());
        let configured = netns::in_netns(&path, move |handle| async move {
            let lo = netlink::require_link(&handle, "lo").await?;
            netlink::set_up(&handle, lo, "lo").await?;
            let index = netlink::require_link(&handle, &ifname).await?;
            netlink::add_address(&handle, index, ip, prefix).await?;
            netlink::set_up(&handle, index, &ifname).await?;
            match route {
                Some(Some(gateway)) => netlink::add_default_route(&handle, gateway).await?,
                Some(None) => host_lan::add_device_default_route(&handle, index, &ifname).await?,
                None => {}
            }
            Ok::<_, HostError>(())
        })
        .await;
        if let Err(e) = configured {
            if exists.is_none() {
                self.delete_lan_device(netns_path, endpoint).await;
                let _ = self
                    .datapath
                    .remove_lan_host(endpoint.mac, endpoint.ip.octets());
            }
            return Err(e.into());
        }
        Ok(0)
    }

    /// Removes a container's interface on a macvlan or ipvlan network
    /// (`disconnect`, `rm`): deleting an owned namespace would take it
    /// along, an adopted one would keep it.
    pub(super) async fn unplumb_lan_endpoint(
        &mut self,
        container: &Container,
        endpoint: &Endpoint,
    ) {
        let on_lan = self
            .state
            .networks
            .get(&endpoint.network)
            .is_some_and(|n| n.lan.is_some());
        if !on_lan {
            return;
        }
        if let Some(path) = modes::sandbox_path(&self.state, container) {
            self.delete_lan_device(&path, endpoint).await;
        }
        if let Err(e) = self
            .datapath
            .remove_lan_host(endpoint.mac, endpoint.ip.octets())
        {
            log::error!("container {}: {e}", container.name);
        }
    }

    async fn delete_lan_device(&self, netns_path: &Path, endpoint: &Endpoint) {
        if !netns_path.exists() {
            return;
        }
        let ifname = endpoint.ifname.clone();
        let deleted = netns::in_netns(netns_path, move |handle| async move {
            host_lan::delete_device(&handle, &ifname).await
        })
        .await;
        if let Err(e) = deleted {
            log::error!(
                "cannot remove {} in {}: {e}",
                endpoint.ifname,
                netns_path.display()
            );
        }
    }
}
