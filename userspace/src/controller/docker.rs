//! Endpoints whose container side another runtime moves into its sandbox
//! (Docker's remote network driver): ebpfnet makes the veth pair on the
//! host, programs the datapath for it, and hands the peer's name over;
//! Docker moves it into the container's namespace, names it `ethN` and
//! gives it the address and routes.

use std::{
    net::{Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
};

use super::{Controller, ControllerError, Result, interface, now_rfc3339};
use crate::{
    host::{Host, HostError},
    ids,
    state::{Container, Endpoint, NetMode},
};

/// The daemon's own network namespace, where the peer waits for the
/// runtime to move it.
const HOST_NETNS: &str = "/proc/self/ns/net";
/// The label of containers a runtime made through its driver.
pub const RUNTIME_LABEL: &str = "ebpfnet.runtime";

/// What the runtime asks for: one endpoint on `network` for the sandbox
/// at `sandbox`, known to ebpfnet as container `container`.
pub struct HostEndpoint<'a> {
    pub container: &'a str,
    pub sandbox: &'a Path,
    pub network: &'a str,
    /// The runtime's endpoint id, kept as ebpfnet's endpoint id.
    pub endpoint_id: &'a str,
    pub ip: Ipv4Addr,
    /// On a network with IPv6: the address the runtime's IPAM gave.
    pub ip6: Option<Ipv6Addr>,
    pub mac: [u8; 6],
}

/// The host-side names of a made endpoint.
#[derive(Debug, Clone)]
pub struct MadeEndpoint {
    /// The peer, left in the host's namespace for the runtime to move.
    pub peer: String,
    pub gateway: Ipv4Addr,
    /// The network's IPv6 gateway, when the endpoint has IPv6.
    pub gateway6: Option<Ipv6Addr>,
}

/// The name the peer has on the host until the runtime moves it.
pub fn peer_name(endpoint_id: &str) -> String {
    let short = &endpoint_id[..endpoint_id.floor_char_boundary(8)];
    format!("vdk{short}")
}

impl Controller {
    /// Makes the veth pair of `request` (host side on the network's bridge,
    /// peer in the host's namespace), puts it in the datapath and saves it;
    /// the container is made (adopting `sandbox`) with its first endpoint.
    pub async fn attach_host_endpoint(
        &mut self,
        request: &HostEndpoint<'_>,
    ) -> Result<MadeEndpoint> {
        ids::validate("container", request.container)?;
        let network = self.network(request.network)?.clone();
        if let Some(lan) = &network.lan {
            return Err(ControllerError::Refused(format!(
                "network {} is a {} network: Docker's driver joins bridge networks only",
                network.name,
                lan.kind.driver()
            )));
        }
        let existing = self.state.containers.get(request.container).cloned();
        if let Some(c) = &existing {
            if c.endpoint(request.network).is_some() {
                return Err(ControllerError::Refused(format!(
                    "container {} is already connected to network {}",
                    c.name, request.network
                )));
            }
            if !matches!(&c.mode, NetMode::Adopted { path, .. } if path == request.sandbox) {
                return Err(ControllerError::Exists {
                    kind: "container",
                    name: request.container.to_string(),
                });
            }
        }
        let mode = adopted_mode(self.host.as_ref(), request.sandbox)?;
        let id = ids::new_id().map_err(HostError::io("read /dev/urandom"))?;
        // Docker's networks have the IPv4 subnet Docker's IPAM gave.
        let v4 = network.ipv4().ok_or_else(|| {
            ControllerError::Refused(format!(
                "network {} has no IPv4: Docker's endpoints need an IPv4 address",
                network.name
            ))
        })?;
        let pool = crate::ipam::Pool {
            network: &network.name,
            subnet: v4.subnet,
            gateway: v4.gateway,
            used: self
                .state
                .endpoints_on(&network.name)
                .filter_map(|e| e.ip)
                .collect(),
        };
        pool.check(request.ip)?;
        let ip6 = match request.ip6 {
            Some(ip) => super::ipv6::endpoint_ip6(&self.state, &network, Some(ip))?,
            None => None,
        };
        interface::validate_mac(request.mac)?;
        interface::check_mac_unused(&self.state, &network, request.mac)?;
        let position = existing.as_ref().map_or(0, |c| c.endpoints.len());
        let endpoint = Endpoint {
            id: request.endpoint_id.to_string(),
            network: network.name.clone(),
            ip: Some(request.ip),
            mac: request.mac,
            ifname: format!("eth{position}"),
            host_veth: ids::host_veth_name(request.endpoint_id),
            ip6,
            aliases: Vec::new(),
        };
        let peer = peer_name(request.endpoint_id);
        let made = self.make_host_pair(&endpoint, &network, &peer).await;
        let saved = made.and_then(|()| {
            let mut next = self.state.clone();
            let container = next
                .containers
                .entry(request.container.to_string())
                .or_insert_with(|| new_container(request.container, &id, mode));
            container.endpoints.push(endpoint.clone());
            self.commit(next)
        });
        if let Err(e) = saved {
            let _ = self.unplumb_endpoint(&endpoint).await;
            return Err(e);
        }
        if position == 0 {
            self.sync_container_ports(request.container).await?;
        }
        Ok(MadeEndpoint {
            peer,
            gateway: v4.gateway,
            gateway6: ip6.and(network.ipv6.map(|six| six.gateway)),
        })
    }

    async fn make_host_pair(
        &mut self,
        endpoint: &Endpoint,
        network: &crate::state::Network,
        peer: &str,
    ) -> Result<()> {
        let host_index = self
            .create_endpoint_veth(endpoint, network, peer, Path::new(HOST_NETNS), None)
            .await?;
        let programmed = (|| {
            self.program_endpoint_entry(endpoint, network, host_index)?;
            self.write_endpoint6(host_index, endpoint)?;
            self.attach_endpoint_programs(&endpoint.host_veth, host_index)
        })();
        if programmed.is_err() {
            let _ = self.unplumb_endpoint(endpoint).await;
        }
        programmed
    }

    /// Takes the endpoint of `container` on `network` down (veth pair,
    /// datapath entries, flows); the container goes with its last endpoint.
    /// Nothing to do is no error: the namespace may have gone first.
    pub async fn detach_host_endpoint(&mut self, container: &str, network: &str) -> Result<()> {
        let Some(current) = self.state.containers.get(container) else {
            return Ok(());
        };
        if current.endpoint(network).is_none() {
            return Ok(());
        }
        if current.endpoints.len() > 1 {
            return self.disconnect(network, container).await;
        }
        self.remove_container(container).await
    }

    /// Refuses a change by ebpfnet's own commands to a container Docker made
    /// through the driver: Docker would go on believing in endpoints and
    /// ports that are gone. `instead` is Docker's command for it.
    pub fn refuse_docker_container(&self, container: &str, instead: &str) -> Result<()> {
        let Some(c) = self.state.containers.get(container) else {
            return Ok(());
        };
        if c.labels.get(RUNTIME_LABEL).map(String::as_str) != Some("docker") {
            return Ok(());
        }
        let sandbox = c.name.strip_prefix("docker-").unwrap_or(&c.name);
        Err(ControllerError::Refused(format!(
            "container {container} belongs to Docker (the Docker container whose \
             SandboxKey ends in {sandbox}): use `{instead}`"
        )))
    }

    /// Makes the endpoint of `container` on `network` its first, where its
    /// published ports lead: the runtime gave that endpoint the container's
    /// external connectivity and its default route (Docker moves both to
    /// the network a `network connect` adds when that one sorts first).
    pub async fn lead_ports_to(&mut self, container: &str, network: &str) -> Result<()> {
        let current = self.container(container)?.clone();
        let position = current
            .endpoints
            .iter()
            .position(|e| e.network == network)
            .ok_or_else(|| {
                ControllerError::Refused(format!(
                    "container {container} is not connected to network {network}"
                ))
            })?;
        if position == 0 {
            return Ok(());
        }
        let mut updated = current.clone();
        let endpoint = updated.endpoints.remove(position);
        updated.endpoints.insert(0, endpoint);
        self.point_ports(&updated).await?;
        let mut next = self.state.clone();
        next.containers.insert(container.to_string(), updated);
        if let Err(e) = self.commit(next) {
            // Back to where the saved state says they lead.
            if let Err(undo) = self.point_ports(&current).await {
                log::error!("cannot point the ports of {container} back: {undo}");
            }
            return Err(e);
        }
        log::info!("container {container}: published ports lead to network {network} now");
        Ok(())
    }

    /// Containers in namespaces ebpfnet did not make whose namespace is
    /// gone (the process exited, the runtime removed its sandbox): they
    /// are removed with their map entries and ports, and named in the log.
    /// A sandbox the runtime has not made yet is kept while its veth is.
    pub async fn drop_vanished(&mut self) -> Result<Vec<String>> {
        self.settle_pending()?;
        let mut gone: Vec<(Container, PathBuf)> = Vec::new();
        for c in self.state.containers.values() {
            let NetMode::Adopted { path, .. } = &c.mode else {
                continue;
            };
            let vanished = if is_pending(&c.mode) {
                let mut any = false;
                for e in &c.endpoints {
                    any |= self.host.link_index(&e.host_veth).await?.is_some();
                }
                !any
            } else {
                !super::modes::adopted_alive(self.host.as_ref(), &c.mode)
            };
            if vanished {
                gone.push((c.clone(), path.clone()));
            }
        }
        let mut names = Vec::new();
        for (container, path) in gone {
            if !self.state.containers.contains_key(&container.name) {
                continue;
            }
            self.drop_orphan(&container, &path).await?;
            names.push(container.name);
        }
        if !names.is_empty() {
            // The endpoint entries of veths that went with the namespace
            // can no longer be found by their name.
            self.prune_stale().await?;
        }
        Ok(names)
    }

    /// Records the identity of sandboxes the runtime has made since their
    /// endpoint was: from then on they are adopted namespaces like others.
    fn settle_pending(&mut self) -> Result<()> {
        // Runs every 2 s: the state is copied only when a sandbox settles.
        let settled: Vec<(String, u64, u64)> = self
            .state
            .containers
            .values()
            .filter(|c| is_pending(&c.mode))
            .filter_map(|c| {
                let NetMode::Adopted { path, .. } = &c.mode else {
                    return None;
                };
                self.host.is_netns(path).ok()?;
                let id = self.host.ns_id(path).ok()?;
                Some((c.name.clone(), id.dev, id.ino))
            })
            .collect();
        if settled.is_empty() {
            return Ok(());
        }
        let mut next = self.state.clone();
        for (name, new_dev, new_ino) in settled {
            if let Some(NetMode::Adopted { dev, ino, .. }) =
                next.containers.get_mut(&name).map(|c| &mut c.mode)
            {
                (*dev, *ino) = (new_dev, new_ino);
            }
        }
        self.commit(next)
    }
}

/// A sandbox whose namespace did not exist yet when its first endpoint was
/// made (Docker makes the namespace after Join): no identity recorded.
pub fn is_pending(mode: &NetMode) -> bool {
    matches!(mode, NetMode::Adopted { dev: 0, ino: 0, .. })
}

/// The mode of a container in `sandbox`: its identity if the runtime made
/// the namespace already, else pending (settled by [`Controller::drop_vanished`]).
fn adopted_mode(host: &dyn Host, sandbox: &Path) -> Result<NetMode> {
    if !sandbox.is_absolute() {
        return Err(ControllerError::Refused(format!(
            "sandbox {}: give an absolute path",
            sandbox.display()
        )));
    }
    let (dev, ino) = match host.is_netns(sandbox).map(|()| host.ns_id(sandbox)) {
        Ok(Ok(id)) => (id.dev, id.ino),
        _ => (0, 0),
    };
    Ok(NetMode::Adopted {
        path: sandbox.to_path_buf(),
        pid: None,
        dev,
        ino,
    })
}

fn new_container(name: &str, id: &str, mode: NetMode) -> Container {
    Container {
        id: id.to_string(),
        name: name.to_string(),
        created: now_rfc3339(),
        endpoints: Vec::new(),
        ports: Vec::new(),
        mode,
        hostname: None,
        extra_hosts: Vec::new(),
        dns: Vec::new(),
        links: Vec::new(),
        labels: [(RUNTIME_LABEL.to_string(), "docker".to_string())].into(),
    }
}
