//! `container create` / `rm`, `network connect` / `disconnect`, and bringing
//! containers back after a restart.

use std::net::{Ipv4Addr, Ipv6Addr};

use super::{
    Controller, ControllerError, Result,
    endpoints::DefaultRoutes,
    interface::{self, new_endpoint},
    modes::{self, Plan},
    next_ifname, now_rfc3339, views,
};
use crate::{
    api::ContainerOptions,
    datapath::encoding::endpoint_info,
    host::{HostError, netns},
    ids::{self, DEFAULT_NETWORK},
    state::{Container, NetMode, Network},
};

impl Controller {
    pub async fn create_container(
        &mut self,
        name: &str,
        opts: &ContainerOptions,
    ) -> Result<String> {
        ids::validate("container", name)?;
        if self.state.containers.contains_key(name) {
            return Err(ControllerError::Exists {
                kind: "container",
                name: name.to_string(),
            });
        }
        let plan = self.plan(name, opts)?;
        let id = ids::new_id().map_err(HostError::io("read /dev/urandom"))?;
        let mut container = Container {
            id: id.clone(),
            name: name.to_string(),
            created: now_rfc3339(),
            endpoints: Vec::new(),
            ports: Vec::new(),
            mode: NetMode::Owned,
            hostname: opts.hostname.clone(),
            extra_hosts: opts.extra_hosts.clone(),
            dns: if opts.dns.is_empty() {
                self.config.default_dns.clone()
            } else {
                opts.dns.clone()
            },
            links: opts.links.clone(),
            labels: opts.labels.clone(),
        };
        let (network, adopt) = match plan {
            Plan::Attach { network, adopt } => (*network, adopt),
            Plan::Host | Plan::Shared(_) => {
                if let Plan::Shared(other) = plan {
                    container.mode = NetMode::Container { container: other };
                } else {
                    container.mode = NetMode::Host;
                }
                let mut next = self.state.clone();
                next.containers.insert(name.to_string(), container);
                self.commit(next)?;
                return Ok(id);
            }
            Plan::None => {
                container.mode = NetMode::None;
                let path = self.host.create_netns(name)?;
                let made = async {
                    self.host.loopback_up(&path).await?;
                    let mut next = self.state.clone();
                    next.containers.insert(name.to_string(), container);
                    self.commit(next)
                };
                if let Err(e) = made.await {
                    let _ = self.host.delete_netns(name);
                    return Err(e);
                }
                return Ok(id);
            }
        };
        let path = match &adopt {
            Some(NetMode::Adopted { path, .. }) => path.clone(),
            _ => netns::netns_path(name),
        };
        let ifname = match (&opts.ifname, &adopt) {
            (Some(ifname), Some(_)) => {
                self.check_ifname_free(&path, ifname).await?;
                ifname.clone()
            }
            (Some(ifname), None) => ifname.clone(),
            (None, Some(_)) => self.free_ifname(&path, &[]).await?,
            (None, None) => "eth0".to_string(),
        };
        let mut endpoint = new_endpoint(&self.state, &network, (opts.ip, opts.ip6), &ifname)?;
        endpoint.aliases = opts.aliases.clone();
        if let Some(mac) = opts.mac {
            interface::check_mac_unused(&self.state, &network, mac)?;
            endpoint.mac = mac;
        }
        let ports = self.plan_ports(&network, &endpoint, &opts.ports)?;
        container.endpoints = vec![endpoint.clone()];
        container.ports = ports.clone();
        if let Some(mode) = adopt.clone() {
            container.mode = mode;
        } else {
            self.host.create_netns(name)?;
        }
        let mut next = self.state.clone();
        next.containers.insert(name.to_string(), container);
        let routes = DefaultRoutes::of(&[], &endpoint);
        let made = match self
            .plumb_endpoint(&path, &endpoint, &network, routes)
            .await
        {
            Ok(ifindex) => match self.write_ports(&ports, &endpoint, ifindex) {
                Ok(()) => self.commit(next).inspect_err(|_| {
                    self.clear_ports(&ports);
                }),
                Err(e) => Err(e),
            },
            Err(e) => Err(e),
        };
        if let Err(e) = made {
            let _ = self.take_down_endpoint(Some(&path), &endpoint).await;
            if adopt.is_none()
                && let Err(undo) = self.host.delete_netns(name)
            {
                log::error!("cannot remove namespace {name} after a failed create: {undo}");
            }
            return Err(e);
        }
        Ok(id)
    }

    pub async fn remove_container(&mut self, name: &str) -> Result<()> {
        let container = self.container(name)?.clone();
        let sharers: Vec<&str> = self
            .state
            .sharers_of(name)
            .map(|c| c.name.as_str())
            .collect();
        if !sharers.is_empty() {
            return Err(ControllerError::Refused(format!(
                "container {name} shares its network namespace with {}; remove them first",
                sharers.join(", ")
            )));
        }
        // Taken down first, saved after: a failure leaves the container
        // saved, and `rm` again (or a restart) finishes the job.
        self.detach_container(&container).await?;
        let mut next = self.state.clone();
        next.containers.remove(name);
        self.commit(next)
    }

    /// Takes down what ebpfnet made for a container no longer in the state:
    /// mappings, veths, its files, and the namespace only if ebpfnet made it.
    async fn detach_container(&mut self, container: &Container) -> Result<()> {
        let unpublished = self.clear_ports(&container.ports);
        let path = modes::sandbox_path(&self.state, container);
        for endpoint in &container.endpoints {
            self.take_down_endpoint(path.as_deref(), endpoint).await?;
        }
        self.remove_files(container);
        if matches!(container.mode, NetMode::Owned | NetMode::None) {
            self.host.delete_netns(&container.name)?;
        }
        unpublished.map_or(Ok(()), Err)
    }

    /// `network connect` without `--ip6`.
    pub async fn connect(
        &mut self,
        network: &str,
        container: &str,
        ip: Option<Ipv4Addr>,
        aliases: &[String],
    ) -> Result<()> {
        self.connect6(network, container, (ip, None), aliases).await
    }

    /// `network connect` with the addresses asked for (`--ip`, `--ip6`).
    pub async fn connect6(
        &mut self,
        network: &str,
        container: &str,
        (ip, ip6): (Option<Ipv4Addr>, Option<Ipv6Addr>),
        aliases: &[String],
    ) -> Result<()> {
        let current = self.container(container)?.clone();
        self.check_connectable(network, &current)?;
        let network = self.network(network)?.clone();
        if current.endpoint(&network.name).is_some() {
            return Err(ControllerError::Refused(format!(
                "container {container} is already connected to network {}",
                network.name
            )));
        }
        if !aliases.is_empty() && network.name == DEFAULT_NETWORK {
            return Err(ControllerError::Refused(
                "--alias works on user-defined networks only: the default bridge network \
                 does not resolve names"
                    .into(),
            ));
        }
        for alias in aliases {
            crate::netconf::validate_hostname("--alias", alias)?;
        }
        let path = modes::sandbox_path(&self.state, &current).ok_or_else(|| {
            ControllerError::Refused(format!("container {container} has no namespace of its own"))
        })?;
        let used: Vec<String> = current.endpoints.iter().map(|e| e.ifname.clone()).collect();
        let ifname = match current.mode {
            NetMode::Adopted { .. } => self.free_ifname(&path, &used).await?,
            _ => next_ifname(&used),
        };
        let mut endpoint = new_endpoint(&self.state, &network, (ip, ip6), &ifname)?;
        endpoint.aliases = aliases.to_vec();
        let first = current.endpoints.is_empty();
        if first && network.lan.is_some() && !current.ports.is_empty() {
            return Err(ControllerError::Refused(format!(
                "container {container} has published ports and no other network: they cannot \
                 lead to network {} ({}: no published ports)",
                network.name,
                views::network_driver(&network)
            )));
        }
        let mut updated = current.clone();
        updated.endpoints.push(endpoint.clone());
        let routes = DefaultRoutes::of(&current.endpoints, &endpoint);
        self.plumb_endpoint(&path, &endpoint, &network, routes)
            .await?;
        // Its first endpoint: the published ports lead there now.
        let pointed = if first {
            self.point_ports(&updated).await
        } else {
            Ok(())
        };
        let mut next = self.state.clone();
        next.containers.insert(container.to_string(), updated);
        if let Err(e) = pointed.and_then(|()| self.commit(next)) {
            if first {
                self.clear_ports(&current.ports);
            }
            let _ = self.take_down_endpoint(Some(&path), &endpoint).await;
            return Err(e);
        }
        Ok(())
    }

    pub async fn disconnect(&mut self, network: &str, container: &str) -> Result<()> {
        self.network(network)?;
        let current = self.container(container)?.clone();
        let endpoint = current.endpoint(network).cloned().ok_or_else(|| {
            ControllerError::Refused(format!(
                "container {container} is not connected to network {network}"
            ))
        })?;
        let was_first = current.endpoints.first().map(|e| &e.id) == Some(&endpoint.id);
        let mut updated = current.clone();
        updated.endpoints.retain(|e| e.network != network);
        // Taken down first, saved after: a failure leaves the endpoint
        // saved, and `disconnect` again (or a restart) finishes the job.
        let path = modes::sandbox_path(&self.state, &current);
        self.take_down_endpoint(path.as_deref(), &endpoint).await?;
        if was_first {
            self.point_ports(&updated).await?;
        }
        if let Some(path) = path.as_deref()
            && DefaultRoutes::of(&current.endpoints, &endpoint).v6
        {
            self.hand_on_default_route6(path, &updated).await?;
        }
        let mut next = self.state.clone();
        next.containers.insert(container.to_string(), updated);
        self.commit(next)
    }

    /// Re-creates what is missing of a saved container (after a reboot, or
    /// after someone deleted its namespace or veth) and re-attaches the
    /// datapath to its veths.
    pub(super) async fn restore_container(&mut self, container: &Container) -> Result<()> {
        let path = match &container.mode {
            NetMode::Host | NetMode::Container { .. } => return Ok(()),
            NetMode::Adopted { path, .. }
                if !modes::adopted_alive(&*self.host, &container.mode) =>
            {
                return self.drop_orphan(container, path).await;
            }
            NetMode::Adopted { path, .. } => path.clone(),
            NetMode::Owned | NetMode::None => {
                let path = netns::netns_path(&container.name);
                if !self.host.netns_exists(&container.name) {
                    log::warn!(
                        "namespace of container {} is missing; re-creating it",
                        container.name
                    );
                    self.host.create_netns(&container.name)?;
                    self.host.loopback_up(&path).await?;
                }
                path
            }
        };
        for endpoint in &container.endpoints {
            let network = self.network(&endpoint.network)?.clone();
            let routes = DefaultRoutes::of(&container.endpoints, endpoint);
            if network.lan.is_some() {
                // A parent gone (the host's NIC renamed, unplugged) must
                // not keep the daemon down: the container waits for it.
                if let Err(e) = self.plumb_endpoint(&path, endpoint, &network, routes).await {
                    log::warn!(
                        "container {}: no interface on network {}: {e}",
                        container.name,
                        network.name
                    );
                }
                continue;
            }
            match self.host.link_index(&endpoint.host_veth).await? {
                Some(index) => {
                    self.host.enable_forwarding(&endpoint.host_veth)?;
                    self.datapath
                        .set_endpoint(index, endpoint_info(endpoint, &network))?;
                    self.write_endpoint6(index, endpoint)?;
                    self.attach_endpoint_programs(&endpoint.host_veth, index)?;
                }
                None => {
                    log::warn!(
                        "veth {} of container {} is missing; re-creating it",
                        endpoint.host_veth,
                        container.name
                    );
                    self.plumb_endpoint(&path, endpoint, &network, routes)
                        .await?;
                }
            }
        }
        // The veths' indexes may have changed since the mappings were written.
        self.sync_container_ports(&container.name).await
    }

    /// An adopted namespace that is gone (its process exited, its mount was
    /// removed): the container goes, with the containers sharing it.
    pub(super) async fn drop_orphan(
        &mut self,
        container: &Container,
        path: &std::path::Path,
    ) -> Result<()> {
        let mut gone = vec![container.clone()];
        gone.extend(self.state.sharers_of(&container.name).cloned());
        log::warn!(
            "the network namespace container {} adopted ({}) is gone; removing {}",
            container.name,
            path.display(),
            gone.iter()
                .map(|c| c.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for c in &gone {
            self.detach_container(c).await?;
        }
        let mut next = self.state.clone();
        for c in &gone {
            next.containers.remove(&c.name);
        }
        self.commit(next)
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
