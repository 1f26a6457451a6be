//! IPv6 addresses and routes over netlink: a network's gateway on its
//! bridge, a container's address and default route, the host's routes a
//! new subnet must not overlap.

use std::net::{IpAddr, Ipv6Addr};

use futures::TryStreamExt;
use ipnetwork::Ipv6Network;
use rtnetlink::{
    Handle, RouteMessageBuilder,
    packet_route::{
        address::{AddressAttribute, AddressFlags},
        route::{RouteAddress, RouteAttribute, RouteMessage, RouteType},
    },
};

use super::HostError;

/// Adds `ip/prefix` to interface `index` without duplicate address
/// detection (`nodad`): usable at once, as ebpfnet's IPAM hands out each
/// address once per network.
pub async fn add_address(
    handle: &Handle,
    index: u32,
    ip: Ipv6Addr,
    prefix: u8,
) -> Result<(), HostError> {
    let mut request = handle
        .address()
        .add(index, IpAddr::V6(ip), prefix)
        .replace();
    request
        .message_mut()
        .attributes
        .push(AddressAttribute::Flags(AddressFlags::Nodad));
    request
        .execute()
        .await
        .map_err(HostError::netlink(format!("add address {ip}/{prefix}")))
}

/// The IPv6 default route via `gateway`.
pub async fn add_default_route(handle: &Handle, gateway: Ipv6Addr) -> Result<(), HostError> {
    let route = RouteMessageBuilder::<Ipv6Addr>::new()
        .gateway(gateway)
        .build();
    handle
        .route()
        .add(route)
        .replace()
        .execute()
        .await
        .map_err(HostError::netlink(format!(
            "add IPv6 default route via {gateway}"
        )))
}

/// An IPv6 route of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route6 {
    pub destination: Ipv6Network,
    pub output: Option<u32>,
}

/// The unicast IPv6 routes of the main table, but link-local and
/// multicast ones (every interface has those).
pub async fn routes(handle: &Handle) -> Result<Vec<Route6>, HostError> {
    let request = RouteMessageBuilder::<Ipv6Addr>::new().build();
    let messages: Vec<RouteMessage> = handle
        .route()
        .get(request)
        .execute()
        .try_collect()
        .await
        .map_err(HostError::netlink("list IPv6 routes"))?;
    Ok(messages
        .into_iter()
        .filter(|m| m.header.table == 254 && m.header.kind == RouteType::Unicast)
        .filter_map(|m| {
            let prefix = m.header.destination_prefix_length;
            let mut destination = Ipv6Addr::UNSPECIFIED;
            let mut output = None;
            for attribute in &m.attributes {
                match attribute {
                    RouteAttribute::Destination(RouteAddress::Inet6(ip)) => destination = *ip,
                    RouteAttribute::Oif(index) => output = Some(*index),
                    _ => {}
                }
            }
            if destination.is_unicast_link_local() || destination.is_multicast() {
                return None;
            }
            let destination = Ipv6Network::new(destination, prefix).ok()?;
            Some(Route6 {
                destination,
                output,
            })
        })
        .collect())
}
