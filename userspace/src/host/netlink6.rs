//! IPv6 addresses and routes over netlink: a network's gateway on its
//! bridge, a container's address and default route, the host's routes a
//! new subnet must not overlap.

use std::net::{IpAddr, Ipv6Addr};

use ipnetwork::{IpNetwork, Ipv6Network};
use rtnetlink::{
    Handle, RouteMessageBuilder,
    packet_route::{
        AddressFamily,
        address::{AddressAttribute, AddressFlags},
    },
};

use super::HostError;
use super::netlink::{address_messages, main_unicast_routes};

/// Adds `ip/prefix` to interface `index` without duplicate address
/// detection (`nodad`): usable at once, as ebpfnet's IPAM hands out each
/// address once per network.
pub async fn add_address(
    handle: &Handle,
    index: u32,
    ip: Ipv6Addr,
    prefix: u8,
) -> Result<(), HostError> {
    let what = format!("add address {ip}/{prefix}");
    let nodad = Some(AddressFlags::Nodad);
    super::netlink::put_address(handle, index, (IpAddr::V6(ip), prefix), nodad, what).await
}

/// The IPv6 default route via `gateway` out of interface `index`, in
/// place of any there was (a new interface's, or one handed on when its
/// network goes).
pub async fn set_default_route(
    handle: &Handle,
    index: u32,
    gateway: Ipv6Addr,
) -> Result<(), HostError> {
    let route = RouteMessageBuilder::<Ipv6Addr>::new()
        .output_interface(index)
        .gateway(gateway)
        .build();
    handle
        .route()
        .add(route)
        .replace()
        .execute()
        .await
        .map_err(HostError::netlink(format!(
            "set the IPv6 default route via {gateway}"
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
    let unspecified = IpAddr::V6(Ipv6Addr::UNSPECIFIED);
    let routes = main_unicast_routes(handle, request, unspecified, "list IPv6 routes").await?;
    Ok(routes
        .into_iter()
        .filter_map(|(network, output)| match network {
            IpNetwork::V6(destination)
                if !destination.ip().is_unicast_link_local()
                    && !destination.ip().is_multicast() =>
            {
                Some(Route6 {
                    destination,
                    output,
                })
            }
            _ => None,
        })
        .collect())
}

/// The host's IPv6 addresses an uplink can masquerade behind: global
/// scope (ULA included), not link-local, not tentative, deprecated or
/// failed DAD. (address, ifindex), in the kernel's order.
pub async fn addresses(handle: &Handle) -> Result<Vec<(Ipv6Addr, u32)>, HostError> {
    let messages = address_messages(handle, AddressFamily::Inet6).await?;
    let unusable = AddressFlags::Tentative | AddressFlags::Deprecated | AddressFlags::Dadfailed;
    Ok(messages
        .into_iter()
        // IFA_FLAGS holds the full flags (the header's byte, only the low ones).
        .filter(|m| {
            !m.attributes
                .iter()
                .any(|a| matches!(a, AddressAttribute::Flags(f) if f.intersects(unusable)))
        })
        .filter_map(|m| {
            let ip = m.attributes.iter().find_map(|a| match a {
                AddressAttribute::Address(IpAddr::V6(ip)) => Some(*ip),
                _ => None,
            })?;
            let usable = !ip.is_loopback() && !ip.is_unicast_link_local() && !ip.is_multicast();
            usable.then_some((ip, m.header.index))
        })
        .collect())
}
