//! Published ports: `publish`, `unpublish`, `port`, and keeping the
//! `PUBLISHED` map in line with the containers' mappings.

use std::collections::HashSet;

use super::{
    Controller, ControllerError, Result, events, nat46,
    portalloc::{self, Families, Taken},
    portprobe::PortProber,
};
use crate::{
    datapath::{
        encoding::{published_key, published_key6, published_value, published_value6},
        nat46::translated_key,
    },
    host::HostError,
    portspec::{PortMapping, PortRequest},
    state::{Container, Endpoint, Network},
};

/// The families of host addresses `endpoint` can be published on: its
/// addresses', and IPv4 for an IPv6-only one too (translated, nat46.rs).
fn families(endpoint: &Endpoint) -> Families {
    Families {
        ipv4: endpoint.ip.is_some() || nat46::translates(endpoint),
        ipv6: endpoint.ip6.is_some(),
    }
}

/// How a failed save of a container's mappings is undone.
enum Undo {
    /// Only appended to: back to this length.
    Truncate(usize),
    /// The mappings before.
    Restore(Vec<PortMapping>),
}

impl Controller {
    /// Where a container's mappings lead: its first endpoint (eth0's).
    fn publish_target<'a>(
        &'a self,
        container: &'a Container,
    ) -> Result<(&'a Endpoint, &'a Network)> {
        let endpoint = container.endpoints.first().ok_or_else(|| {
            ControllerError::Refused(format!(
                "container {} is connected to no network: there is nothing to publish to",
                container.name
            ))
        })?;
        Ok((endpoint, self.network(&endpoint.network)?))
    }

    /// Decides the host ports of `requests` for a container whose mappings
    /// lead to `endpoint` on `network`, refusing anything that cannot be
    /// published. Changes nothing.
    pub(super) fn plan_ports(
        &self,
        network: &Network,
        endpoint: &Endpoint,
        requests: &[PortRequest],
    ) -> Result<Vec<PortMapping>> {
        if requests.is_empty() {
            return Ok(Vec::new());
        }
        if network.internal {
            return Err(ControllerError::Refused(format!(
                "network {} is internal: its containers cannot publish ports",
                network.name
            )));
        }
        if let Some(lan) = &network.lan {
            return Err(ControllerError::Refused(format!(
                "network {} is a {} network: its containers are reachable at their own \
                 address on {}'s LAN and publish no ports",
                network.name,
                lan.kind.driver(),
                lan.parent
            )));
        }
        let taken = self.state.containers.values().flat_map(|c| {
            c.ports.iter().map(|m| Taken {
                container: &c.name,
                mapping: *m,
            })
        });
        let ephemeral = portalloc::ephemeral_range(&self.host.ip_local_port_range());
        let mut prober = PortProber::new(self.host.as_ref());
        let mut probe = |m: &PortMapping| prober.probe(m);
        let mappings =
            portalloc::resolve_ports(taken, requests, families(endpoint), ephemeral, &mut probe)
                .map_err(ControllerError::Refused)?;
        Ok(mappings)
    }

    /// Writes `mappings` into `PUBLISHED` (IPv4 host addresses) and
    /// `PUBLISHED6` (IPv6 ones), all or none; each leads to `endpoint`'s
    /// address of its family (planned so: it has one).
    pub(super) fn write_ports(
        &mut self,
        mappings: &[PortMapping],
        endpoint: &Endpoint,
        ifindex: u32,
    ) -> Result<()> {
        // Docker's routed mode: an IPv6 mapping opens the container port on
        // the container's own address (`ROUTED6`, routed6.rs); no host
        // port is published for it.
        let routed6 = self
            .state
            .networks
            .get(&endpoint.network)
            .is_some_and(|n| n.routed6);
        for (done, m) in mappings.iter().enumerate() {
            let written = match (published_key(m), published_key6(m)) {
                // Into an IPv6-only container: translated and relayed
                // (nat46.rs).
                (Some(_), _) if nat46::translates(endpoint) => {
                    self.publish_translated(m, endpoint, ifindex)
                }
                (Some(key), _) => self
                    .datapath
                    .publish(key, published_value(m, endpoint, ifindex))
                    .map_err(Into::into),
                (_, Some(_)) if routed6 => Ok(()),
                (_, Some(key)) => self
                    .datapath
                    .publish6(key, published_value6(m, endpoint, ifindex))
                    .map_err(Into::into),
                (None, None) => Ok(()),
            };
            if let Err(e) = written {
                self.clear_ports(&mappings[..done]);
                return Err(e);
            }
        }
        Ok(())
    }

    /// Removes `mappings` from the datapath, cutting their flows. Goes on
    /// past failures, which it logs; returns the first.
    pub(super) fn clear_ports(&mut self, mappings: &[PortMapping]) -> Option<ControllerError> {
        if mappings.is_empty() {
            return None;
        }
        self.stop_relays(mappings);
        let keys: Vec<_> = mappings.iter().filter_map(published_key).collect();
        let mut keys6: Vec<_> = mappings.iter().filter_map(published_key6).collect();
        // IPv4 mappings may be translated ones (their container's network
        // is IPv6-only): those keys go too, when such a network exists.
        if self.state.networks.values().any(|n| n.ipv4().is_none()) {
            keys6.extend(mappings.iter().filter_map(translated_key));
        }
        let mut cut = Ok(0);
        if !keys.is_empty() {
            cut = self.datapath.unpublish(&keys);
        }
        if !keys6.is_empty() {
            let cut6 = self.datapath.unpublish6(&keys6);
            cut = match (cut, cut6) {
                (Ok(a), Ok(b)) => Ok(a + b),
                (Err(e), _) | (_, Err(e)) => Err(e),
            };
        }
        match cut {
            Ok(cut) if cut > 0 => {
                log::info!(
                    "unpublished {} mapping(s): {cut} NAT entries removed",
                    mappings.len()
                );
                None
            }
            Ok(_) => None,
            Err(e) => {
                log::error!(
                    "cannot unpublish every one of {} mapping(s): {e}",
                    mappings.len()
                );
                Some(e.into())
            }
        }
    }

    /// Points the container's mappings at its current first endpoint, or
    /// takes them out of the datapath while it has none that may publish.
    pub(super) async fn sync_container_ports(&mut self, name: &str) -> Result<()> {
        let container = self.container(name)?.clone();
        self.point_ports(&container).await
    }

    /// Points `container`'s mappings at its first endpoint (as given, which
    /// may be the one about to be saved), or takes them out of the datapath.
    pub(super) async fn point_ports(&mut self, container: &Container) -> Result<()> {
        let name = &container.name;
        if container.ports.is_empty() {
            return Ok(());
        }
        let target = self
            .publish_target(container)
            .ok()
            .filter(|(_, network)| !network.internal && network.lan.is_none())
            .map(|(endpoint, _)| endpoint.clone());
        let ifindex = match &target {
            Some(endpoint) => self.host.link_index(&endpoint.host_veth).await?,
            None => None,
        };
        let (endpoint, ifindex) = match (target, ifindex) {
            (Some(endpoint), Some(ifindex)) => (endpoint, ifindex),
            _ => {
                log::warn!(
                    "container {name} has no endpoint that can take its published ports; \
                     they stay saved but inactive"
                );
                return self.clear_ports(&container.ports).map_or(Ok(()), Err);
            }
        };
        // Each mapping leads to the endpoint's address of its family; one
        // of a family the endpoint has no address of waits, inactive.
        let (active, waiting): (Vec<PortMapping>, Vec<PortMapping>) = container
            .ports
            .iter()
            .partition(|m| families(&endpoint).has(m.host_ip));
        if !waiting.is_empty() {
            log::warn!(
                "container {name}'s endpoint on {} has no address for {} of its published \
                 ports; they stay saved but inactive",
                endpoint.network,
                waiting.len()
            );
            if let Some(e) = self.clear_ports(&waiting) {
                return Err(e);
            }
        }
        self.write_ports(&active, &endpoint, ifindex)
    }

    pub async fn publish(
        &mut self,
        name: &str,
        requests: &[PortRequest],
    ) -> Result<Vec<PortMapping>> {
        // The endpoint and network only: a container may hold every port
        // of an address, which is not copied per request.
        let (endpoint, network) = {
            let (endpoint, network) = self.publish_target(self.container(name)?)?;
            (endpoint.clone(), network.clone())
        };
        let mappings = self.plan_ports(&network, &endpoint, requests)?;
        // A mapping on an address added since the last periodic refresh:
        // containers reach it through HOST_ADDRS(6), so refresh it now.
        let unknown = mappings.iter().any(|m| {
            !m.host_ip.is_unspecified()
                && !m.host_ip.is_loopback()
                && !self.knows_host_addr(m.host_ip)
        });
        if unknown {
            self.refresh_host_logged().await;
        }
        let ifindex = self
            .host
            .link_index(&endpoint.host_veth)
            .await?
            .ok_or_else(|| HostError::NoSuchLink(endpoint.host_veth.clone()))?;
        self.write_ports(&mappings, &endpoint, ifindex)?;
        if let Err(e) = self.commit_ports(name, &mappings, &[]) {
            self.clear_ports(&mappings);
            return Err(e);
        }
        Ok(mappings)
    }

    pub async fn unpublish(
        &mut self,
        name: &str,
        requests: &[PortRequest],
    ) -> Result<Vec<PortMapping>> {
        let gone = portalloc::match_unpublish(name, &self.container(name)?.ports, requests)
            .map_err(ControllerError::Refused)?;
        // Out of the datapath first, saved after: a failure leaves the
        // mappings saved, and `unpublish` again finishes the job.
        if let Some(e) = self.clear_ports(&gone) {
            return Err(e);
        }
        self.commit_ports(name, &[], &gone)?;
        Ok(gone)
    }

    /// Saves container `name` with `added` appended to its mappings and
    /// `gone` taken out, changed in place rather than in a copy of the
    /// whole state (a container may hold every port of an address); on
    /// failure its mappings are as before. Mappings touch no name or
    /// /etc file, so those are not redone.
    fn commit_ports(
        &mut self,
        name: &str,
        added: &[PortMapping],
        gone: &[PortMapping],
    ) -> Result<()> {
        let container = self
            .state
            .containers
            .get_mut(name)
            .ok_or_else(|| ControllerError::not_found("container", name))?;
        let undo = if gone.is_empty() {
            Undo::Truncate(container.ports.len())
        } else {
            let gone: HashSet<&PortMapping> = gone.iter().collect();
            let kept = container
                .ports
                .iter()
                .filter(|m| !gone.contains(m))
                .copied()
                .collect();
            Undo::Restore(std::mem::replace(&mut container.ports, kept))
        };
        container.ports.extend_from_slice(added);
        let saved = self.store.save(&self.state);
        let container = self
            .state
            .containers
            .get_mut(name)
            .ok_or_else(|| ControllerError::not_found("container", name))?;
        if let Err(e) = saved {
            match undo {
                Undo::Restore(ports) => container.ports = ports,
                Undo::Truncate(len) => container.ports.truncate(len),
            }
            return Err(e.into());
        }
        events::log_ports(container, added, gone);
        self.sync_routed6();
        Ok(())
    }

    /// A container's mappings, sorted by container port, as `docker port`.
    pub fn ports(&self, name: &str) -> Result<Vec<PortMapping>> {
        let mut ports = self.container(name)?.ports.clone();
        ports.sort_by_key(|m| (m.container_port, m.protocol, m.host_ip, m.host_port));
        Ok(ports)
    }
}
