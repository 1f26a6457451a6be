//! `network create` / `network rm`.

use std::net::Ipv4Addr;

use ipnetwork::Ipv4Network;

use super::{Controller, ControllerError, Result, ipv6::Ipv6Request, now_rfc3339, overlaps};
use crate::{
    datapath::encoding::{network_info, network_info6},
    host::netlink,
    ids::{self, DEFAULT_NETWORK},
    ipam,
    state::{Ipv4Config, Network, NetworkOwner},
};

/// Where subnets come from when `--subnet` is not given: 10.215.0.0/16,
/// 10.216.0.0/16, … (the default network sits on 10.214.0.0/16).
const AUTO_SUBNETS: std::ops::RangeInclusive<u8> = 215..=254;

impl Controller {
    /// An IPv4-only bridge network.
    pub async fn create_network(
        &mut self,
        name: &str,
        subnet: Option<Ipv4Network>,
        gateway: Option<Ipv4Addr>,
        internal: bool,
    ) -> Result<String> {
        self.create_network_with(
            name,
            subnet,
            gateway,
            internal,
            None,
            &Ipv6Request::default(),
        )
        .await
    }

    /// A bridge network, with IPv6 as `ipv6` asks.
    pub async fn create_network_ipv6(
        &mut self,
        name: &str,
        subnet: Option<Ipv4Network>,
        gateway: Option<Ipv4Addr>,
        internal: bool,
        ipv6: &Ipv6Request,
    ) -> Result<String> {
        self.create_network_with(name, subnet, gateway, internal, None, ipv6)
            .await
    }

    /// A bridge network: IPv6 as `ipv6` asks, made by `owner` (when given)
    /// that alone removes it.
    pub async fn create_network_with(
        &mut self,
        name: &str,
        subnet: Option<Ipv4Network>,
        gateway: Option<Ipv4Addr>,
        internal: bool,
        owner: Option<NetworkOwner>,
        ipv6: &Ipv6Request,
    ) -> Result<String> {
        self.check_new_network_name(name)?;
        let v4 = if ipv6.only {
            check_ipv6_only(name, subnet, gateway, ipv6)?;
            None
        } else {
            Some(self.plan_ipv4(subnet, gateway).await?)
        };
        let routed6 = ipv6.routed;
        let ipv6 = self.plan_ipv6(ipv6).await?;
        let id = ids::new_id().map_err(crate::host::HostError::io("read /dev/urandom"))?;
        let bridge = if name == DEFAULT_NETWORK {
            self.config.default_bridge.clone()
        } else {
            ids::bridge_name(&id)
        };
        let network = Network {
            bridge: bridge.clone(),
            owner,
            ipv6,
            routed6: routed6 && ipv6.is_some(),
            ..self.network_record(&id, name, v4, internal)
        };
        let info = network_info(&network);
        let made = match self.ensure_network_bridge(&network).await {
            Ok(_) => self.make_network6(&network).await,
            Err(e) => Err(e),
        };
        let mut next = self.state.clone();
        next.networks.insert(name.to_string(), network.clone());
        let set = |c: &mut Self| match v4 {
            Some(v4) => Ok(c.datapath.set_network(v4.subnet, info)?),
            None => Ok(()),
        };
        if let Err(e) = made.and_then(|_| set(self)).and_then(|_| self.commit(next)) {
            if let Some(v4) = v4 {
                let _ = self.datapath.remove_network(v4.subnet);
            }
            if let Some((subnet6, _)) = network_info6(&network) {
                let _ = self.datapath.remove_network6(subnet6);
            }
            if let Err(undo) = self.host.delete_link(&bridge).await {
                log::error!("cannot remove bridge {bridge} after a failed create: {undo}");
            }
            return Err(e);
        }
        self.refresh_host_logged().await;
        Ok(id)
    }

    /// The IPv4 subnet (given, checked and normalised, or a free one) and
    /// gateway of a new network.
    pub(super) async fn plan_ipv4(
        &self,
        subnet: Option<Ipv4Network>,
        gateway: Option<Ipv4Addr>,
    ) -> Result<Ipv4Config> {
        let subnet = match subnet {
            Some(subnet) => {
                let subnet = by_network_address(subnet);
                let routes = self.foreign_routes().await?;
                self.check_subnet_free(subnet, &routes).await?;
                subnet
            }
            None => self.pick_subnet().await?,
        };
        let gateway = gateway_in(subnet, gateway)?;
        Ok(Ipv4Config { subnet, gateway })
    }

    /// A valid name no network has, and not a network mode.
    pub(super) fn check_new_network_name(&self, name: &str) -> Result<()> {
        ids::validate("network", name)?;
        if matches!(name, "host" | "none") {
            return Err(ControllerError::Refused(format!(
                "network name {name} is a network mode (--network {name}); pick another name"
            )));
        }
        if self.state.networks.contains_key(name) {
            return Err(ControllerError::Exists {
                kind: "network",
                name: name.to_string(),
            });
        }
        Ok(())
    }

    pub(super) async fn check_subnet_free(
        &self,
        subnet: Ipv4Network,
        routes: &[netlink::Route],
    ) -> Result<()> {
        if let Some(other) = self
            .state
            .networks
            .values()
            .filter_map(|n| Some((n, n.subnet?)))
            .find(|(_, theirs)| overlaps(*theirs, subnet))
        {
            return Err(ControllerError::Refused(format!(
                "subnet {subnet} overlaps subnet {} of network {}",
                other.1, other.0.name
            )));
        }
        if let Some(route) = routes.iter().find(|r| overlaps(r.destination, subnet)) {
            let route = self.describe_route(route).await?;
            return Err(ControllerError::Refused(format!(
                "subnet {subnet} overlaps host route {route}"
            )));
        }
        Ok(())
    }

    pub(super) async fn pick_subnet(&self) -> Result<Ipv4Network> {
        let routes = self.foreign_routes().await?;
        for second in AUTO_SUBNETS {
            let subnet = Ipv4Network::new(Ipv4Addr::new(10, second, 0, 0), 16)
                .expect("/16 is a valid prefix");
            let taken = self
                .state
                .networks
                .values()
                .filter_map(|n| n.subnet)
                .any(|theirs| overlaps(theirs, subnet))
                || routes.iter().any(|r| overlaps(r.destination, subnet));
            if !taken {
                return Ok(subnet);
            }
        }
        Err(ControllerError::Refused(
            "no free subnet left in 10.215.0.0-10.254.255.255; give one with --subnet".into(),
        ))
    }

    /// `network rm`: not a network another program owns.
    pub async fn remove_network(&mut self, name: &str) -> Result<()> {
        super::predefined::refuse_removal(name)?;
        if let Some(owner) = self.state.networks.get(name).and_then(|n| n.owner.as_ref()) {
            return Err(ControllerError::Refused(owned_by(name, owner)));
        }
        self.remove_any_network(name).await
    }

    /// Removes `name` whoever owns it: for the owner itself (Docker's
    /// DeleteNetwork).
    pub async fn remove_any_network(&mut self, name: &str) -> Result<()> {
        super::predefined::refuse_removal(name)?;
        let network = self
            .state
            .networks
            .get(name)
            .ok_or_else(|| ControllerError::not_found("network", name))?
            .clone();
        if name == DEFAULT_NETWORK {
            return Err(ControllerError::Refused(format!(
                "network {name} is the default network and cannot be removed"
            )));
        }
        let attached: Vec<&str> = self
            .state
            .containers_on(name)
            .map(|c| c.name.as_str())
            .collect();
        if !attached.is_empty() {
            return Err(ControllerError::Refused(format!(
                "network {name} has containers attached: {}; remove or disconnect them first",
                attached.join(", ")
            )));
        }
        // Taken down first, saved after: a failure leaves the network
        // saved, and `rm` again (or a restart) finishes the job.
        if network.lan.is_some() {
            self.remove_lan_parent(&network).await?;
        } else if network.overlay.is_some() {
            self.unplumb_overlay_network(&network).await;
        } else {
            if let Some(v4) = network.ipv4() {
                self.datapath.remove_network(v4.subnet)?;
            }
            if let Some((subnet6, _)) = network_info6(&network) {
                self.datapath.remove_network6(subnet6)?;
            }
            self.host.delete_link(&network.bridge).await?;
        }
        let mut next = self.state.clone();
        next.networks.remove(name);
        self.commit(next)?;
        self.refresh_host_logged().await;
        Ok(())
    }
}

impl Controller {
    /// Marks networks made by Docker before owners were kept (`ids`:
    /// Docker's network id -> ebpfnet name); a network with an owner is left
    /// as it is.
    pub fn claim_docker_networks(
        &mut self,
        ids: &std::collections::BTreeMap<String, String>,
    ) -> Result<Vec<String>> {
        let mut next = self.state.clone();
        let mut claimed = Vec::new();
        for (network_id, name) in ids {
            if let Some(network) = next.networks.get_mut(name)
                && network.owner.is_none()
            {
                network.owner = Some(NetworkOwner::Docker {
                    network_id: network_id.clone(),
                });
                claimed.push(name.clone());
            }
        }
        if !claimed.is_empty() {
            self.commit(next)?;
        }
        Ok(claimed)
    }
}

/// `subnet` by its network address: 10.1.2.3/24 is 10.1.2.0/24, as Docker
/// has it.
pub(super) fn by_network_address(subnet: Ipv4Network) -> Ipv4Network {
    Ipv4Network::new(subnet.network(), subnet.prefix())
        .expect("a network address with its own prefix is valid")
}

/// `gateway`, checked to be a usable host of `subnet`, or else the
/// subnet's default gateway.
pub(super) fn gateway_in(subnet: Ipv4Network, gateway: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
    match gateway {
        Some(gateway) => {
            ipam::check_gateway(subnet, gateway)?;
            Ok(gateway)
        }
        None => Ok(ipam::default_gateway(subnet)?),
    }
}

/// `--ipv4=false`: IPv6 on, and no IPv4 subnet or gateway given.
fn check_ipv6_only(
    name: &str,
    subnet: Option<Ipv4Network>,
    gateway: Option<Ipv4Addr>,
    ipv6: &Ipv6Request,
) -> Result<()> {
    let refused = |why: String| Err(ControllerError::Refused(why));
    if !ipv6.enable {
        return refused(format!(
            "network {name} needs IPv4 or IPv6: with --ipv4=false, add --ipv6"
        ));
    }
    if name == DEFAULT_NETWORK {
        return refused(format!("the default network {name} has IPv4"));
    }
    if let Some(subnet) = subnet {
        return refused(format!(
            "--subnet {subnet} is an IPv4 subnet, but --ipv4=false leaves the network without IPv4"
        ));
    }
    if let Some(gateway) = gateway {
        return refused(format!(
            "--gateway {gateway} is an IPv4 address, but --ipv4=false leaves the network without IPv4"
        ));
    }
    Ok(())
}

/// Why `network rm` leaves an owned network alone.
pub fn owned_by(name: &str, owner: &NetworkOwner) -> String {
    match owner {
        NetworkOwner::Docker { network_id } => format!(
            "network {name} belongs to Docker (Docker network {}): remove it with \
             `docker network rm {}`",
            ids::short_id(network_id),
            ids::short_id(network_id)
        ),
    }
}

impl Controller {
    /// The record of a network made now, numbered with the lowest free
    /// number: no bridge, driver options, owner, IPv6 or overlay yet.
    pub(super) fn network_record(
        &self,
        id: &str,
        name: &str,
        v4: Option<Ipv4Config>,
        internal: bool,
    ) -> Network {
        Network {
            id: id.to_string(),
            name: name.to_string(),
            subnet: v4.map(|v4| v4.subnet),
            gateway: v4.map(|v4| v4.gateway),
            internal,
            bridge: String::new(),
            created: now_rfc3339(),
            number: self.state.free_network_number(),
            lan: None,
            owner: None,
            ipv6: None,
            overlay: None,
            routed6: false,
        }
    }

    /// Host addresses change with bridges; a failure here is retried by the
    /// daemon's periodic refresh, so it only gets logged.
    pub(super) async fn refresh_host_logged(&mut self) {
        if let Err(e) = self.refresh_host().await {
            log::warn!("cannot refresh the host addresses in the datapath: {e}");
        }
    }
}
