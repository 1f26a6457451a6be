//! The NetworkDriver calls, each turned into controller calls: a Docker
//! network is an ebpfnet network, a Docker sandbox (container) is an
//! ebpfnet container adopting the sandbox's namespace, named
//! `docker-<sandbox id>`, and a Docker endpoint is its endpoint.

use std::{
    net::Ipv4Addr,
    path::{Path, PathBuf},
};

use ipnetwork::Ipv4Network;
use serde_json::{Value, json};
use thiserror::Error;

use super::{
    api::{self, EndpointInterface},
    ipv6, network_options, portmap,
    records::{EndpointRecord, Records, RecordsError},
};
use crate::{
    controller::{Controller, ControllerError, HostEndpoint},
    ids,
    state::NetworkOwner,
};

#[derive(Debug, Error)]
pub enum DriverError {
    #[error("{0}")]
    Refused(String),
    #[error("ebpfnet knows no Docker network {0}")]
    UnknownNetwork(String),
    #[error("ebpfnet knows no Docker endpoint {0}")]
    UnknownEndpoint(String),
    #[error(transparent)]
    Controller(#[from] ControllerError),
    #[error(transparent)]
    Records(#[from] RecordsError),
}

pub(super) type Answer = Result<Value, DriverError>;

/// The driver's memory of Docker's ids, and where it is saved.
pub struct Driver {
    pub records: Records,
    pub state_dir: PathBuf,
}

/// The ebpfnet container of a Docker sandbox: `docker-` and the sandbox
/// key's last part (Docker's short sandbox id).
pub fn container_name(sandbox_key: &str) -> Result<String, DriverError> {
    let id = Path::new(sandbox_key)
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default();
    let name = format!("docker-{id}");
    ids::validate("container", &name).map_err(|e| {
        DriverError::Refused(format!(
            "sandbox key {sandbox_key:?} gives no container name: {e}"
        ))
    })?;
    Ok(name)
}

/// `a.b.c.d/len` (or a bare address) as Docker writes addresses.
fn address(text: &str, what: &str) -> Result<Ipv4Addr, DriverError> {
    let bare = text.split('/').next().unwrap_or_default();
    bare.parse()
        .map_err(|e| DriverError::Refused(format!("bad {what} {text:?}: {e}")))
}

impl Driver {
    pub(super) fn save(&self) -> Result<(), DriverError> {
        Ok(self.records.save(&self.state_dir)?)
    }

    pub(super) fn endpoint(&self, id: &str) -> Result<&EndpointRecord, DriverError> {
        self.records
            .endpoints
            .get(id)
            .ok_or_else(|| DriverError::UnknownEndpoint(id.to_string()))
    }

    pub(super) fn network_name(&self, id: &str) -> Result<String, DriverError> {
        self.records
            .networks
            .get(id)
            .cloned()
            .ok_or_else(|| DriverError::UnknownNetwork(id.to_string()))
    }

    pub async fn create_network(&mut self, c: &mut Controller, r: api::CreateNetwork) -> Answer {
        if self.records.networks.contains_key(&r.network_id) {
            return Err(DriverError::Refused(format!(
                "network {} exists already",
                r.network_id
            )));
        }
        let pools = r.ipv4_data.unwrap_or_default();
        let [pool] = pools.as_slice() else {
            return Err(DriverError::Refused(format!(
                "ebpfnet networks have exactly one IPv4 subnet; Docker gave {}",
                pools.len()
            )));
        };
        if !pool.aux_addresses.is_empty() {
            return Err(DriverError::Refused(
                "ebpfnet does not reserve --aux-address addresses; create the network without"
                    .into(),
            ));
        }
        let subnet: Ipv4Network = pool
            .pool
            .parse()
            .map_err(|e| DriverError::Refused(format!("bad subnet {:?}: {e}", pool.pool)))?;
        let gateway = match pool.gateway.as_str() {
            "" => None,
            text => Some(address(text, "gateway")?),
        };
        let options = network_options::parse(&r.options).map_err(DriverError::Refused)?;
        let ipv6 = ipv6::network_request(r.ipv6_data.as_deref(), options.ipv6)?;
        let name = options
            .name
            .unwrap_or_else(|| format!("docker-{}", ids::short_id(&r.network_id)));
        let owner = NetworkOwner::Docker {
            network_id: r.network_id.clone(),
        };
        c.create_network_with(
            &name,
            Some(subnet),
            gateway,
            options.internal,
            Some(owner),
            &ipv6,
        )
        .await?;
        self.records
            .networks
            .insert(r.network_id.clone(), name.clone());
        if let Err(e) = self.save() {
            self.records.networks.remove(&r.network_id);
            if let Err(undo) = c.remove_any_network(&name).await {
                log::error!("cannot remove network {name} after a failed save: {undo}");
            }
            return Err(e);
        }
        log::info!(
            "docker: network {} is ebpfnet network {name} ({subnet})",
            ids::short_id(&r.network_id)
        );
        Ok(json!({}))
    }

    pub async fn delete_network(&mut self, c: &mut Controller, r: api::NetworkRef) -> Answer {
        let Some(name) = self.records.networks.get(&r.network_id).cloned() else {
            log::warn!(
                "docker: removing network {} that ebpfnet does not know; nothing to do",
                r.network_id
            );
            return Ok(json!({}));
        };
        match c.remove_any_network(&name).await {
            Ok(()) | Err(ControllerError::NotFound { .. }) => {}
            Err(e) => return Err(e.into()),
        }
        self.records.networks.remove(&r.network_id);
        self.records
            .endpoints
            .retain(|_, e| e.network_id != r.network_id);
        self.save()?;
        log::info!("docker: removed network {name}");
        Ok(json!({}))
    }

    pub fn create_endpoint(&mut self, c: &Controller, r: api::CreateEndpoint) -> Answer {
        let name = self.network_name(&r.network_id)?;
        let network = c
            .state()
            .networks
            .get(&name)
            .ok_or_else(|| ControllerError::not_found("network", &name))?;
        let interface = r.interface.unwrap_or_default();
        let ip6 = ipv6::endpoint_address(&interface.address_ipv6, network)?;
        if interface.address.is_empty() {
            return Err(DriverError::Refused(
                "Docker gave no IPv4 address: ebpfnet takes the address from Docker's IPAM".into(),
            ));
        }
        let ip = address(&interface.address, "endpoint address")?;
        if !network.subnet.is_some_and(|s| s.contains(ip)) {
            return Err(DriverError::Refused(format!(
                "address {ip} is outside network {name}'s IPv4 subnet"
            )));
        }
        let (mac, answer) = match interface.mac_address.as_str() {
            "" => {
                let mac = ids::mac_for(ip);
                let given = EndpointInterface {
                    mac_address: ids::format_mac(&mac),
                    ..EndpointInterface::default()
                };
                (mac, Some(given))
            }
            text => (
                ids::parse_mac(text)
                    .ok_or_else(|| DriverError::Refused(format!("bad MAC address {text:?}")))?,
                None,
            ),
        };
        self.records.endpoints.insert(
            r.endpoint_id.clone(),
            EndpointRecord {
                network_id: r.network_id,
                ip,
                ip6,
                mac,
                container: None,
                ports: Vec::new(),
                bindings: Vec::new(),
            },
        );
        if let Err(e) = self.save() {
            self.records.endpoints.remove(&r.endpoint_id);
            return Err(e);
        }
        Ok(
            serde_json::to_value(api::CreateEndpointAnswer { interface: answer })
                .unwrap_or_else(|_| json!({})),
        )
    }

    pub fn endpoint_oper_info(&self, r: &api::EndpointRef) -> Answer {
        let record = self.endpoint(&r.endpoint_id)?;
        let bindings: Vec<api::PortBinding> = record
            .ports
            .iter()
            .map(|m| portmap::binding(m, record.ip, record.ip6))
            .collect();
        let mut value = std::collections::BTreeMap::new();
        value.insert(api::OPTION_PORTMAP.to_string(), json!(bindings));
        value.insert(
            api::OPTION_MAC.to_string(),
            json!(ids::format_mac(&record.mac)),
        );
        Ok(json!(api::OperInfo { value }))
    }

    pub async fn delete_endpoint(&mut self, c: &mut Controller, r: api::EndpointRef) -> Answer {
        let Some(record) = self.records.endpoints.get(&r.endpoint_id).cloned() else {
            return Ok(json!({}));
        };
        if let Some(container) = &record.container {
            let network = self.network_name(&record.network_id)?;
            c.detach_host_endpoint(container, &network).await?;
        }
        self.records.endpoints.remove(&r.endpoint_id);
        self.save()?;
        Ok(json!({}))
    }

    pub async fn join(&mut self, c: &mut Controller, r: api::Join) -> Answer {
        let record = self.endpoint(&r.endpoint_id)?.clone();
        if let Some(container) = &record.container {
            return Err(DriverError::Refused(format!(
                "endpoint {} is joined to container {container} already",
                r.endpoint_id
            )));
        }
        let network = self.network_name(&r.network_id)?;
        let container = container_name(&r.sandbox_key)?;
        let made = c
            .attach_host_endpoint(&HostEndpoint {
                container: &container,
                sandbox: Path::new(&r.sandbox_key),
                network: &network,
                endpoint_id: &r.endpoint_id,
                ip: record.ip,
                ip6: record.ip6,
                mac: record.mac,
            })
            .await?;
        if let Some(e) = self.records.endpoints.get_mut(&r.endpoint_id) {
            e.container = Some(container.clone());
        }
        if let Err(e) = self.save() {
            let _ = c.detach_host_endpoint(&container, &network).await;
            return Err(e);
        }
        log::info!(
            "docker: endpoint {} ({}) of {container} joined network {network}",
            ids::short_id(&r.endpoint_id),
            record.ip
        );
        Ok(json!(api::JoinAnswer {
            interface_name: api::InterfaceName {
                src_name: made.peer,
                dst_prefix: "eth",
            },
            gateway: made.gateway.to_string(),
            gateway_ipv6: made.gateway6.map(|g| g.to_string()).unwrap_or_default(),
        }))
    }

    pub async fn leave(&mut self, c: &mut Controller, r: api::EndpointRef) -> Answer {
        let record = self.endpoint(&r.endpoint_id)?.clone();
        if let Some(container) = &record.container {
            let network = self.network_name(&record.network_id)?;
            super::ports::unpublish(c, container, &record.ports).await?;
            c.detach_host_endpoint(container, &network).await?;
            log::info!(
                "docker: endpoint {} of {container} left network {network}",
                ids::short_id(&r.endpoint_id)
            );
        }
        if let Some(e) = self.records.endpoints.get_mut(&r.endpoint_id) {
            e.container = None;
            e.ports.clear();
            e.bindings.clear();
        }
        self.save()?;
        Ok(json!({}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sandboxes_name_containers() {
        assert_eq!(
            container_name("/var/run/docker/netns/7541c34f2dc7").expect("name"),
            "docker-7541c34f2dc7"
        );
        assert!(container_name("/var/run/docker/netns/a b").is_err());
    }

    #[test]
    fn docker_addresses_parse_with_or_without_length() {
        assert_eq!(
            address("172.18.0.2/16", "x").expect("ip"),
            Ipv4Addr::new(172, 18, 0, 2)
        );
        assert_eq!(
            address("172.18.0.1", "x").expect("ip"),
            Ipv4Addr::new(172, 18, 0, 1)
        );
        let err = address("fe80::1/64", "gateway").expect_err("v6");
        assert!(err.to_string().starts_with("bad gateway"), "{err}");
    }
}
