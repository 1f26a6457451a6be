//! The IPv6 side of bridge networks and their endpoints: a network's IPv6
//! subnet and gateway (given, or a /64 of the ULA pool), the gateway on the
//! bridge, containers' IPv6 addresses (lowest free first, `--ip6`
//! checked), and the `NETWORKS6`/`ENDPOINTS6` entries.

use std::net::Ipv6Addr;

use ipnetwork::Ipv6Network;
use serde::{Deserialize, Serialize};

use super::{Controller, ControllerError, Result};
use crate::{
    datapath::encoding::network_info6,
    host::InterfaceAddress6,
    ids::DEFAULT_NETWORK,
    ipam6::{self, Pool6},
    state::{Container, Endpoint, Ipv6Config, Network, State},
};

/// What `network create` (or the daemon, for the default network) asks
/// of IPv6: Docker's `--ipv6` with an IPv6 `--subnet` and `--gateway`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Request {
    pub enable: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Ipv6Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv6Addr>,
    /// IPv6 only (`--ipv4=false`): no IPv4 subnet, gateway or addresses.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub only: bool,
    /// IPv6 routed mode, from the network's options
    /// (`routed6::OPT_GATEWAY_MODE_IPV6`); not sent by clients.
    #[serde(skip)]
    pub routed: bool,
}

fn refused(message: String) -> ControllerError {
    ControllerError::Refused(message)
}

impl Controller {
    /// The IPv6 subnet and gateway a new network gets, checked; `None`
    /// without `--ipv6`. Nothing is made yet.
    pub(super) async fn plan_ipv6(&self, request: &Ipv6Request) -> Result<Option<Ipv6Config>> {
        if !request.enable {
            return refuse_ipv6_options(request).map(|()| None);
        }
        let routes = self.foreign_routes6().await?;
        self.plan_ipv6_within(request, &routes).map(Some)
    }

    /// An IPv6 subnet (given, or a free one of the ULA pool) and gateway
    /// that overlap no network's subnet and none of `routes`.
    pub(super) fn plan_ipv6_within(
        &self,
        request: &Ipv6Request,
        routes: &[Ipv6Network],
    ) -> Result<Ipv6Config> {
        let subnet = match request.subnet {
            Some(subnet) => {
                let subnet = ipam6::normalise(subnet)?;
                self.check_subnet6_free(subnet, routes)?;
                subnet
            }
            None => {
                if let Some(gateway) = request.gateway {
                    return Err(refused(format!(
                        "--gateway {gateway} needs the IPv6 --subnet it is in"
                    )));
                }
                self.pick_subnet6(routes)?
            }
        };
        let gateway = match request.gateway {
            Some(gateway) => {
                ipam6::check_gateway(subnet, gateway)?;
                gateway
            }
            None => ipam6::default_gateway(subnet),
        };
        Ok(Ipv6Config { subnet, gateway })
    }

    pub(super) fn check_subnet6_free(
        &self,
        subnet: Ipv6Network,
        routes: &[Ipv6Network],
    ) -> Result<()> {
        if let Some((other, six)) = self
            .state
            .networks
            .values()
            .filter_map(|n| n.ipv6.map(|six| (n, six)))
            .find(|(_, six)| ipam6::overlaps(six.subnet, subnet))
        {
            return Err(refused(format!(
                "subnet {subnet} overlaps subnet {} of network {}",
                six.subnet, other.name
            )));
        }
        if let Some(route) = routes.iter().find(|r| ipam6::overlaps(**r, subnet)) {
            return Err(refused(format!(
                "subnet {subnet} overlaps host route {route}"
            )));
        }
        Ok(())
    }

    fn pick_subnet6(&self, routes: &[Ipv6Network]) -> Result<Ipv6Network> {
        (0..)
            .map_while(ipam6::auto_subnet)
            .find(|subnet| self.check_subnet6_free(*subnet, routes).is_ok())
            .ok_or_else(|| {
                refused(format!(
                    "no free IPv6 subnet left in {}; give one with --subnet",
                    ipam6::AUTO_POOL
                ))
            })
    }

    /// The host's IPv6 routes but the default one and those of ebpfnet's
    /// own bridges.
    pub(super) async fn foreign_routes6(&self) -> Result<Vec<Ipv6Network>> {
        let mut ours = Vec::new();
        for network in self.state.networks.values() {
            if let Some(index) = self.host.link_index(&network.bridge).await? {
                ours.push(index);
            }
        }
        Ok(self
            .host
            .routes6()
            .await?
            .into_iter()
            .filter(|r| r.destination.prefix() != 0 && !r.output.is_some_and(|o| ours.contains(&o)))
            .map(|r| r.destination)
            .collect())
    }

    /// At start: gives the default network IPv6 when the daemon was
    /// started with `--ipv6` and the network (made by an earlier start)
    /// has none; containers connected from then on get IPv6 addresses.
    /// An IPv6 subnet once given stays (as the IPv4 one does).
    pub(super) async fn default_network_ipv6(&mut self) -> Result<()> {
        let request = self.config.default_ipv6;
        let Some(network) = self.state.networks.get(DEFAULT_NETWORK) else {
            return Ok(());
        };
        match (request.enable, network.ipv6) {
            (true, None) => {
                let six = self.plan_ipv6(&request).await.map_err(|e| {
                    refused(format!(
                        "cannot give the default network IPv6 ({e}); choose a subnet with --fixed-cidr-v6"
                    ))
                })?;
                let mut next = self.state.clone();
                if let Some(network) = next.networks.get_mut(DEFAULT_NETWORK) {
                    network.ipv6 = six;
                }
                self.commit(next)
            }
            (true, Some(six)) if request.subnet.is_some_and(|s| s != six.subnet) => {
                log::warn!(
                    "the default network keeps its IPv6 subnet {}; --fixed-cidr-v6 applies when it is made",
                    six.subnet
                );
                Ok(())
            }
            (false, Some(six)) => {
                log::info!(
                    "the default network keeps IPv6 ({}) it was made with",
                    six.subnet
                );
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// A network's IPv6 gateway on its bridge and its `NETWORKS6` entry.
    pub(super) async fn make_network6(&mut self, network: &Network) -> Result<()> {
        let (Some(six), Some((subnet, info))) = (network.ipv6, network_info6(network)) else {
            return Ok(());
        };
        self.host
            .ensure_bridge6(&network.bridge, six.gateway, six.subnet.prefix())
            .await?;
        self.datapath.set_network6(subnet, info)?;
        Ok(())
    }

    /// After the endpoint that gave a container its IPv6 default route
    /// went (with its interface, and the route with it): the next endpoint
    /// with an IPv6 address (of `container`'s, as they are now) takes the
    /// route over via its network's IPv6 gateway, as Docker moves its
    /// gateway endpoint. None left: the container has no IPv6 default route.
    pub(super) async fn hand_on_default_route6(
        &mut self,
        netns_path: &std::path::Path,
        container: &Container,
    ) -> Result<()> {
        let Some(endpoint) = container.endpoints.iter().find(|e| e.ip6.is_some()) else {
            return Ok(());
        };
        let network = self.network(&endpoint.network)?;
        // As when the endpoint was made: a macvlan or ipvlan network routes
        // via its gateway unless internal (or ipvlan l3).
        let routed = match &network.lan {
            None => true,
            Some(lan) => lan.routes_via_gateway() && !network.internal,
        };
        let Some(six) = network.ipv6.filter(|_| routed) else {
            return Ok(());
        };
        self.host
            .set_default_route6(netns_path, &endpoint.ifname, six.gateway)
            .await?;
        Ok(())
    }

    /// An endpoint's `ENDPOINTS6` and `ENDPOINT_IPS6` entries, if it has
    /// an IPv6 address.
    pub(super) fn write_endpoint6(&mut self, ifindex: u32, endpoint: &Endpoint) -> Result<()> {
        if let Some(ip) = endpoint.ip6 {
            self.datapath.set_endpoint6(ifindex, ip, endpoint.mac)?;
        }
        Ok(())
    }
}

/// Without `--ipv6`: an IPv6 `--subnet` or `--gateway`, or
/// `--ipv4=false`, is refused.
pub(super) fn refuse_ipv6_options(request: &Ipv6Request) -> Result<()> {
    if let Some(subnet) = request.subnet {
        return Err(refused(format!(
            "--subnet {subnet} is an IPv6 subnet: add --ipv6 to give the network IPv6"
        )));
    }
    if let Some(gateway) = request.gateway {
        return Err(refused(format!(
            "--gateway {gateway} is an IPv6 address: add --ipv6 and an IPv6 --subnet"
        )));
    }
    if request.only {
        return Err(refused(
            "--ipv4=false leaves a network without IPv4: add --ipv6 for an IPv6-only network"
                .into(),
        ));
    }
    if request.routed {
        return Err(refused(format!(
            "-o {}=routed routes the network's IPv6: add --ipv6 to give it IPv6",
            super::routed6::OPT_GATEWAY_MODE_IPV6
        )));
    }
    Ok(())
}

/// An endpoint's IPv6 address on `network`: `ip6` checked, or the lowest
/// free one; none on a network without IPv6 (where `--ip6` is refused).
pub(super) fn endpoint_ip6(
    state: &State,
    network: &Network,
    ip6: Option<Ipv6Addr>,
) -> Result<Option<Ipv6Addr>> {
    let Some(six) = network.ipv6 else {
        return match ip6 {
            Some(ip) => Err(refused(format!(
                "--ip6 {ip}: network {} has no IPv6 (create it with --ipv6)",
                network.name
            ))),
            None => Ok(None),
        };
    };
    let pool = Pool6 {
        network: &network.name,
        subnet: six.subnet,
        gateway: six.gateway,
        used: state
            .endpoints_on(&network.name)
            .filter_map(|e| e.ip6)
            .collect(),
    };
    Ok(Some(match ip6 {
        Some(ip) => {
            pool.check(ip)?;
            ip
        }
        None => pool.allocate()?,
    }))
}

/// The IPv6 address (and default route) of an endpoint's interface.
pub(super) fn interface_address6(
    endpoint: &Endpoint,
    network: &Network,
    default_route: bool,
) -> Option<InterfaceAddress6> {
    let six = network.ipv6?;
    Some(InterfaceAddress6 {
        ip: endpoint.ip6?,
        prefix: six.subnet.prefix(),
        default_route: default_route.then_some(six.gateway),
    })
}
