//! `container create` / `rm`, `network connect` / `disconnect`, and bringing
//! containers back after a restart.

use std::net::Ipv4Addr;

use super::{Controller, ControllerError, Result, next_ifname, now_rfc3339, sync::endpoint_info};
use crate::{
    host::{HostError, netlink, netns},
    ipam::Pool,
    names::{self, DEFAULT_NETWORK},
    portspec::PortRequest,
    state::{Container, Endpoint, Network, State},
};

impl Controller {
    pub async fn create_container(
        &mut self,
        name: &str,
        network: Option<&str>,
        ip: Option<Ipv4Addr>,
        ports: &[PortRequest],
    ) -> Result<String> {
        names::validate("container", name)?;
        if self.state.containers.contains_key(name) {
            return Err(ControllerError::Exists {
                kind: "container",
                name: name.to_string(),
            });
        }
        if netns::netns_exists(name) {
            return Err(ControllerError::Refused(format!(
                "network namespace {name} already exists and was not made by ebpfnet; pick another name"
            )));
        }
        let network = self.network(network.unwrap_or(DEFAULT_NETWORK))?.clone();
        let endpoint = new_endpoint(&self.state, &network, ip, "eth0")?;
        let ports = self.plan_ports(&network, ports)?;
        let id = names::new_id().map_err(HostError::io("read /dev/urandom"))?;
        let container = Container {
            id: id.clone(),
            name: name.to_string(),
            created: now_rfc3339(),
            endpoints: vec![endpoint.clone()],
            ports: ports.clone(),
        };

        let path = netns::create_netns(name)?;
        let mut next = self.state.clone();
        next.containers.insert(name.to_string(), container);
        let made = match self.plumb_endpoint(&path, &endpoint, &network, true).await {
            Ok(ifindex) => match self.write_ports(&ports, &endpoint, ifindex) {
                Ok(()) => self.commit(next).inspect_err(|_| {
                    self.clear_ports(&ports);
                }),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = made {
            let _ = self.unplumb_endpoint(&endpoint).await;
            if let Err(undo) = netns::delete_netns(name) {
                log::error!("cannot remove namespace {name} after a failed create: {undo}");
            }
            return Err(e);
        }
        Ok(id)
    }

    pub async fn remove_container(&mut self, name: &str) -> Result<()> {
        let container = self.container(name)?.clone();
        let mut next = self.state.clone();
        next.containers.remove(name);
        self.commit(next)?;
        let unpublished = self.clear_ports(&container.ports);
        for endpoint in &container.endpoints {
            self.unplumb_endpoint(endpoint).await?;
        }
        netns::delete_netns(name)?;
        unpublished.map_or(Ok(()), Err)
    }

    pub async fn connect(
        &mut self,
        network: &str,
        container: &str,
        ip: Option<Ipv4Addr>,
    ) -> Result<()> {
        let network = self.network(network)?.clone();
        let current = self.container(container)?.clone();
        if current.endpoint(&network.name).is_some() {
            return Err(ControllerError::Refused(format!(
                "container {container} is already connected to network {}",
                network.name
            )));
        }
        let used: Vec<String> = current.endpoints.iter().map(|e| e.ifname.clone()).collect();
        let endpoint = new_endpoint(&self.state, &network, ip, &next_ifname(&used))?;
        let default_route = current.endpoints.is_empty();
        let path = netns::netns_path(container);
        self.plumb_endpoint(&path, &endpoint, &network, default_route)
            .await?;
        let mut next = self.state.clone();
        if let Some(c) = next.containers.get_mut(container) {
            c.endpoints.push(endpoint.clone());
        }
        if let Err(e) = self.commit(next) {
            let _ = self.unplumb_endpoint(&endpoint).await;
            return Err(e);
        }
        if default_route {
            // Its first endpoint: the published ports lead there now.
            self.sync_container_ports(container).await?;
        }
        Ok(())
    }

    pub async fn disconnect(&mut self, network: &str, container: &str) -> Result<()> {
        self.network(network)?;
        let current = self.container(container)?;
        let endpoint = current.endpoint(network).cloned().ok_or_else(|| {
            ControllerError::Refused(format!(
                "container {container} is not connected to network {network}"
            ))
        })?;
        let was_first = current.endpoints.first().map(|e| &e.id) == Some(&endpoint.id);
        let mut next = self.state.clone();
        if let Some(c) = next.containers.get_mut(container) {
            c.endpoints.retain(|e| e.network != network);
        }
        self.commit(next)?;
        self.unplumb_endpoint(&endpoint).await?;
        if was_first {
            self.sync_container_ports(container).await?;
        }
        Ok(())
    }

    /// Re-creates what is missing of a saved container (after a reboot, or
    /// after someone deleted its namespace or veth) and re-attaches the
    /// datapath to its veths.
    pub(super) async fn restore_container(&mut self, container: &Container) -> Result<()> {
        let path = netns::netns_path(&container.name);
        if !path.exists() {
            log::warn!(
                "namespace of container {} is missing; re-creating it",
                container.name
            );
            netns::create_netns(&container.name)?;
        }
        for (position, endpoint) in container.endpoints.iter().enumerate() {
            let network = self.network(&endpoint.network)?.clone();
            match netlink::link_index(&self.host, &endpoint.host_veth).await? {
                Some(index) => {
                    crate::host::enable_forwarding(&endpoint.host_veth)?;
                    self.datapath
                        .set_endpoint(index, endpoint_info(endpoint, &network))?;
                    self.datapath.attach(
                        ebpfnet_common::ProgramId::ContainerIngress,
                        &endpoint.host_veth,
                        index,
                    )?;
                }
                None => {
                    log::warn!(
                        "veth {} of container {} is missing; re-creating it",
                        endpoint.host_veth,
                        container.name
                    );
                    self.plumb_endpoint(&path, endpoint, &network, position == 0)
                        .await?;
                }
            }
        }
        // The veths' indexes may have changed since the mappings were written.
        self.sync_container_ports(&container.name).await
    }

    pub(super) fn network(&self, name: &str) -> Result<&Network> {
        self.state
            .networks
            .get(name)
            .ok_or_else(|| ControllerError::not_found("network", name))
    }

    pub(super) fn container(&self, name: &str) -> Result<&Container> {
        self.state
            .containers
            .get(name)
            .ok_or_else(|| ControllerError::not_found("container", name))
    }
}

/// A new endpoint on `network` with `ip` (checked) or the lowest free one.
fn new_endpoint(
    state: &State,
    network: &Network,
    ip: Option<Ipv4Addr>,
    ifname: &str,
) -> Result<Endpoint> {
    let pool = Pool {
        network: &network.name,
        subnet: network.subnet,
        gateway: network.gateway,
        used: state
            .containers_on(&network.name)
            .filter_map(|c| c.endpoint(&network.name))
            .map(|e| e.ip)
            .collect(),
    };
    let ip = match ip {
        Some(ip) => {
            pool.check(ip)?;
            ip
        }
        None => pool.allocate()?,
    };
    let id = names::new_id().map_err(HostError::io("read /dev/urandom"))?;
    Ok(Endpoint {
        host_veth: names::host_veth_name(&id),
        id,
        network: network.name.clone(),
        ip,
        mac: names::mac_for(ip),
        ifname: ifname.to_string(),
    })
}
