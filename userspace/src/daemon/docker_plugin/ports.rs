//! ProgramExternalConnectivity / RevokeExternalConnectivity: Docker's
//! port bindings published and unpublished as ebpfnet mappings.

use serde_json::{Value, json};

use super::{
    api,
    driver::{Answer, Driver, DriverError},
    portmap,
};
use crate::{
    controller::{Controller, ControllerError},
    portspec::{PortMapping, PortRequest},
};

impl Driver {
    pub async fn program_external(
        &mut self,
        c: &mut Controller,
        r: api::ProgramExternalConnectivity,
    ) -> Answer {
        let record = self.endpoint(&r.endpoint_id)?.clone();
        let container = record.container.clone().ok_or_else(|| {
            DriverError::Refused(format!("endpoint {} is not joined", r.endpoint_id))
        })?;
        let asked: Vec<api::PortBinding> = match r.options.get(api::OPTION_PORTMAP) {
            None | Some(Value::Null) => Vec::new(),
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| DriverError::Refused(format!("bad {}: {e}", api::OPTION_PORTMAP)))?,
        };
        if !record.ports.is_empty() {
            unpublish(c, &container, &record.ports).await?;
        }
        // Docker programs the endpoint that has the container's default
        // route; the ports lead there.
        let network = self.network_name(&record.network_id)?;
        c.lead_ports_to(&container, &network).await?;
        let mut made: Vec<PortMapping> = Vec::new();
        for binding in &asked {
            match publish_one(c, &container, binding).await {
                Ok(mappings) if !mappings.is_empty() => made.extend(mappings),
                // As Docker without its proxy: no IPv6 to an IPv4-only container.
                Ok(_) => log::info!(
                    "docker: skipping the binding [{}]:{}: container {container} has no \
                     IPv6 address to lead it to",
                    binding.host_ip,
                    binding.host_port
                ),
                Err(e) => {
                    if let Err(undo) = unpublish(c, &container, &made).await {
                        log::error!("cannot take back ports of {container}: {undo}");
                    }
                    return Err(e);
                }
            }
        }
        if let Some(e) = self.records.endpoints.get_mut(&r.endpoint_id) {
            e.ports = made.clone();
            e.bindings = asked;
        }
        self.save()?;
        for m in &made {
            log::info!("docker: published {m} for {container}");
        }
        Ok(json!({}))
    }

    pub async fn revoke_external(&mut self, c: &mut Controller, r: api::EndpointRef) -> Answer {
        let Some(record) = self.records.endpoints.get(&r.endpoint_id).cloned() else {
            return Ok(json!({}));
        };
        if let Some(container) = &record.container
            && !record.ports.is_empty()
        {
            unpublish(c, container, &record.ports).await?;
        }
        if let Some(e) = self.records.endpoints.get_mut(&r.endpoint_id) {
            e.ports.clear();
            e.bindings.clear();
        }
        self.save()?;
        Ok(json!({}))
    }
}

/// Publishes one Docker binding: the first free port of its range, on
/// each family it names (none: each the container has). An IPv6 one for
/// a container without IPv6 publishes nothing.
async fn publish_one(
    c: &mut Controller,
    container: &str,
    binding: &api::PortBinding,
) -> Result<Vec<PortMapping>, DriverError> {
    let requests = portmap::plan(binding).map_err(DriverError::Refused)?;
    let mut last = None;
    for request in requests {
        if request.host_ip.is_some_and(|ip| ip.is_ipv6()) && !c.leads_to_ipv6(container)? {
            return Ok(Vec::new());
        }
        match c.publish(container, &[request]).await {
            Ok(mappings) => return Ok(mappings),
            Err(e) => last = Some(e),
        }
    }
    Err(last.map_or_else(
        || DriverError::Refused("an empty host port range".into()),
        DriverError::from,
    ))
}

pub(super) async fn unpublish(
    c: &mut Controller,
    container: &str,
    mappings: &[PortMapping],
) -> Result<(), DriverError> {
    if mappings.is_empty() {
        return Ok(());
    }
    let requests: Vec<PortRequest> = mappings
        .iter()
        .map(|m| PortRequest {
            host_ip: Some(m.host_ip),
            host_port: Some(m.host_port),
            host_port_end: None,
            container_port: m.container_port,
            protocol: m.protocol,
        })
        .collect();
    match c.unpublish(container, &requests).await {
        Ok(_) | Err(ControllerError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}
