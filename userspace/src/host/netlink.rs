//! Link, address and route operations on one namespace's netlink handle.

use std::{
    net::{IpAddr, Ipv4Addr},
    os::fd::AsRawFd,
};

use futures::TryStreamExt;
use ipnetwork::{IpNetwork, Ipv4Network};
use nix::errno::Errno;
use rtnetlink::{
    Handle, LinkBridge, LinkMessageBuilder, LinkUnspec, LinkVeth, RouteMessageBuilder,
    packet_route::{
        AddressFamily,
        address::{AddressAttribute, AddressFlags, AddressMessage},
        link::{InfoData, InfoVeth, LinkAttribute, LinkMessage},
        route::{RouteAddress, RouteAttribute, RouteMessage, RouteType},
    },
};

use super::{HostError, VethSpec};

fn is_errno(err: &rtnetlink::Error, errno: Errno) -> bool {
    matches!(err, rtnetlink::Error::NetlinkError(msg) if msg.raw_code() == -(errno as i32))
}

/// Adds the link `message` describes; `what` names it in the error.
pub async fn add_link(
    handle: &Handle,
    message: LinkMessage,
    what: String,
) -> Result<(), HostError> {
    handle
        .link()
        .add(message)
        .execute()
        .await
        .map_err(HostError::netlink(what))
}

/// The index of interface `name`, or `None` when there is none.
pub async fn link_index(handle: &Handle, name: &str) -> Result<Option<u32>, HostError> {
    // No interface has an empty name (a macvlan endpoint's host side).
    if name.is_empty() {
        return Ok(None);
    }
    let mut links = handle.link().get().match_name(name.to_string()).execute();
    match links.try_next().await {
        Ok(Some(link)) => Ok(Some(link.header.index)),
        Ok(None) => Ok(None),
        Err(e) if is_errno(&e, Errno::ENODEV) => Ok(None),
        Err(e) => Err(HostError::netlink(format!("look up interface {name}"))(e)),
    }
}

pub async fn require_link(handle: &Handle, name: &str) -> Result<u32, HostError> {
    link_index(handle, name)
        .await?
        .ok_or_else(|| HostError::NoSuchLink(name.to_string()))
}

/// The names of every interface of the namespace.
pub async fn link_names(handle: &Handle) -> Result<Vec<String>, HostError> {
    let links: Vec<LinkMessage> = handle
        .link()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(HostError::netlink("list interfaces"))?;
    Ok(links
        .into_iter()
        .filter_map(|l| {
            l.attributes.into_iter().find_map(|a| match a {
                LinkAttribute::IfName(name) => Some(name),
                _ => None,
            })
        })
        .collect())
}

/// The name of interface `index`.
pub async fn link_name(handle: &Handle, index: u32) -> Result<Option<String>, HostError> {
    let mut links = handle.link().get().match_index(index).execute();
    let link: Option<LinkMessage> = match links.try_next().await {
        Ok(link) => link,
        Err(e) if is_errno(&e, Errno::ENODEV) => None,
        Err(e) => return Err(HostError::netlink(format!("look up interface #{index}"))(e)),
    };
    Ok(link.and_then(|l| {
        l.attributes.into_iter().find_map(|a| match a {
            LinkAttribute::IfName(name) => Some(name),
            _ => None,
        })
    }))
}

/// Creates bridge `name` (if missing) with MAC `mac` and the IPv4
/// `gateway` (if any) on it, and brings it up.
pub async fn ensure_bridge(
    handle: &Handle,
    name: &str,
    mac: [u8; 6],
    gateway: Option<(Ipv4Addr, u8)>,
) -> Result<u32, HostError> {
    let index = match link_index(handle, name).await? {
        Some(index) => index,
        None => {
            let bridge = LinkBridge::new(name).address(mac.to_vec()).build();
            add_link(handle, bridge, format!("create bridge {name}")).await?;
            require_link(handle, name).await?
        }
    };
    if let Some((gateway, prefix)) = gateway {
        let what = format!("add {gateway}/{prefix} to {name}");
        put_address(handle, index, (IpAddr::V4(gateway), prefix), None, what).await?;
    }
    // A bridge without an address of its own takes the lowest of its
    // ports' and changes it as veths come and go, which leaves the
    // containers' ARP entries for the gateway pointing nowhere. A fixed one
    // (as Docker sets) never changes; set it on bridges made before too.
    handle
        .link()
        .set(
            LinkUnspec::new_with_index(index)
                .address(mac.to_vec())
                .build(),
        )
        .execute()
        .await
        .map_err(HostError::netlink(format!("set the address of {name}")))?;
    super::refuse_router_advertisements(name)?;
    // What the programs hand to the stack from a container (a packet whose
    // TTL runs out, one too big for the next hop) is routed with the bridge
    // as input device: forwarding there lets the host answer "time
    // exceeded" or "fragmentation needed" as a router does. Nothing else
    // reaches that path untranslated: the programs drop it first.
    super::enable_forwarding(name)?;
    set_up(handle, index, name).await?;
    Ok(index)
}

pub async fn set_up(handle: &Handle, index: u32, name: &str) -> Result<(), HostError> {
    handle
        .link()
        .set(LinkUnspec::new_with_index(index).up().build())
        .execute()
        .await
        .map_err(HostError::netlink(format!("bring {name} up")))
}

/// Deletes interface `name`; a missing one is not an error.
pub async fn delete_link(handle: &Handle, name: &str) -> Result<(), HostError> {
    let Some(index) = link_index(handle, name).await? else {
        return Ok(());
    };
    match handle.link().del(index).execute().await {
        Err(e) if !is_errno(&e, Errno::ENODEV) => {
            Err(HostError::netlink(format!("delete interface {name}"))(e))
        }
        _ => Ok(()),
    }
}

/// Creates a veth pair whose host side is enslaved to a bridge and up, and
/// whose peer is born inside the container's namespace (so its name never
/// collides with a host interface). Returns the host side's index.
pub async fn create_veth(
    handle: &Handle,
    spec: &VethSpec<'_>,
    peer_netns: &std::fs::File,
) -> Result<u32, HostError> {
    let mut peer = LinkMessageBuilder::<LinkUnspec>::new()
        .name(spec.peer_name.to_string())
        .address(spec.peer_mac.to_vec())
        .setns_by_fd(peer_netns.as_raw_fd());
    let mut host = LinkVeth::new(spec.host_name, spec.peer_name);
    if let Some(mtu) = spec.mtu {
        peer = peer.mtu(mtu);
        host = host.mtu(mtu);
    }
    let message = host
        .set_info_data(InfoData::Veth(InfoVeth::Peer(peer.build())))
        .controller(spec.bridge_index)
        .up()
        .build();
    add_link(handle, message, format!("create veth {}", spec.host_name)).await?;
    require_link(handle, spec.host_name).await
}

pub async fn add_address(
    handle: &Handle,
    index: u32,
    ip: Ipv4Addr,
    prefix: u8,
) -> Result<(), HostError> {
    let what = format!("add address {ip}/{prefix}");
    put_address(handle, index, (IpAddr::V4(ip), prefix), None, what).await
}

/// Adds `ip/prefix` to interface `index` (or replaces it there), with
/// `flags` if any (IFA_FLAGS); `what` names the request in an error.
pub(super) async fn put_address(
    handle: &Handle,
    index: u32,
    (ip, prefix): (IpAddr, u8),
    flags: Option<AddressFlags>,
    what: String,
) -> Result<(), HostError> {
    let mut request = handle.address().add(index, ip, prefix).replace();
    if let Some(flags) = flags {
        request
            .message_mut()
            .attributes
            .push(AddressAttribute::Flags(flags));
    }
    request.execute().await.map_err(HostError::netlink(what))
}

pub async fn add_default_route(handle: &Handle, gateway: Ipv4Addr) -> Result<(), HostError> {
    let route = RouteMessageBuilder::<Ipv4Addr>::new().gateway(gateway);
    replace_route(handle, route, format!("add default route via {gateway}")).await
}

/// Adds `route`, or replaces the one with its destination; `what` names the
/// request in an error.
pub async fn replace_route(
    handle: &Handle,
    route: RouteMessageBuilder<Ipv4Addr>,
    what: String,
) -> Result<(), HostError> {
    handle
        .route()
        .add(route.build())
        .replace()
        .execute()
        .await
        .map_err(HostError::netlink(what))
}

/// An IPv4 route of the main table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    pub destination: Ipv4Network,
    pub output: Option<u32>,
}

/// The unicast routes of the main table that `request` (one family)
/// dumps, as (destination network, output interface); a default route
/// (it carries no destination) is `unspecified/0`.
pub(super) async fn main_unicast_routes(
    handle: &Handle,
    request: RouteMessage,
    unspecified: IpAddr,
    what: &'static str,
) -> Result<Vec<(IpNetwork, Option<u32>)>, HostError> {
    let messages: Vec<RouteMessage> = handle
        .route()
        .get(request)
        .execute()
        .try_collect()
        .await
        .map_err(HostError::netlink(what))?;
    Ok(messages
        .into_iter()
        .filter(|m| m.header.table == 254 && m.header.kind == RouteType::Unicast)
        .filter_map(|m| {
            let mut destination = unspecified;
            let mut output = None;
            for attribute in &m.attributes {
                match attribute {
                    RouteAttribute::Destination(RouteAddress::Inet(ip)) => {
                        destination = IpAddr::V4(*ip)
                    }
                    RouteAttribute::Destination(RouteAddress::Inet6(ip)) => {
                        destination = IpAddr::V6(*ip)
                    }
                    RouteAttribute::Oif(index) => output = Some(*index),
                    _ => {}
                }
            }
            let prefix = m.header.destination_prefix_length;
            Some((IpNetwork::new(destination, prefix).ok()?, output))
        })
        .collect())
}

/// The unicast IPv4 routes of the main table.
pub async fn routes(handle: &Handle) -> Result<Vec<Route>, HostError> {
    let request = RouteMessageBuilder::<Ipv4Addr>::new().build();
    let unspecified = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    let routes = main_unicast_routes(handle, request, unspecified, "list routes").await?;
    Ok(routes
        .into_iter()
        .filter_map(|(network, output)| match network {
            IpNetwork::V4(destination) => Some(Route {
                destination,
                output,
            }),
            IpNetwork::V6(_) => None,
        })
        .collect())
}

/// Every address message of `family` in the namespace, in the kernel's
/// order.
pub(super) async fn address_messages(
    handle: &Handle,
    family: AddressFamily,
) -> Result<Vec<AddressMessage>, HostError> {
    let messages: Vec<AddressMessage> = handle
        .address()
        .get()
        .execute()
        .try_collect()
        .await
        .map_err(HostError::netlink("list addresses"))?;
    Ok(messages
        .into_iter()
        .filter(|m| m.header.family == family)
        .collect())
}

/// A host IPv4 address and the interface it is on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct HostAddress {
    pub ip: Ipv4Addr,
    pub ifindex: u32,
}

/// Every IPv4 address of the namespace, in the kernel's order (an
/// interface's primary address before its secondaries).
pub async fn ipv4_addresses(handle: &Handle) -> Result<Vec<HostAddress>, HostError> {
    let messages = address_messages(handle, AddressFamily::Inet).await?;
    Ok(messages
        .into_iter()
        .filter_map(|m| {
            // IFA_LOCAL is the own address; IFA_ADDRESS is the peer's on
            // point-to-point links, so it only counts when LOCAL is absent.
            let mut local = None;
            let mut address = None;
            for attribute in &m.attributes {
                match attribute {
                    AddressAttribute::Local(IpAddr::V4(ip)) => local = Some(*ip),
                    AddressAttribute::Address(IpAddr::V4(ip)) => address = Some(*ip),
                    _ => {}
                }
            }
            local.or(address).map(|ip| HostAddress {
                ip,
                ifindex: m.header.index,
            })
        })
        .collect())
}
