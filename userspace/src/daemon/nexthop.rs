//! Keeps the next hops cached in NAT entries honest: the programs cache a
//! flow's egress MACs under the generation in the pinned `NEXTHOP_GEN`
//! map (datapath-ebpf `nexthop.rs`), and this task moves that generation
//! on whenever an IPv4 or IPv6 route, a neighbour's link-layer address, an
//! uplink or any link's MTU changes (rtnetlink notifications), so every flow
//! resolves its next hop again on its next packet (and judges again
//! whether its packets fit the egress MTU, datapath `mtu.rs`).
//!
//! It opens the map from its pin and runs without the controller's lock:
//! a change is followed at once, whatever the controller is busy with.

use std::{
    collections::HashMap,
    net::IpAddr,
    path::{Path, PathBuf},
};

use anyhow::Context as _;
use aya::maps::{Array, Map, MapData};
use ebpfnet_common::names::NEXTHOP_GEN_MAP;
use futures::{FutureExt as _, StreamExt as _};
use rtnetlink::{
    MulticastGroup,
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::{
        AddressFamily, RouteNetlinkMessage,
        link::LinkAttribute,
        neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage},
    },
};
use tokio::task::JoinHandle;

/// The pinned generation map.
pub struct Generation {
    map: Array<MapData, u32>,
    path: PathBuf,
}

impl Generation {
    pub fn open(pin_dir: &Path) -> anyhow::Result<Self> {
        let path = pin_dir.join(NEXTHOP_GEN_MAP);
        let data = MapData::from_pin(&path)
            .with_context(|| format!("cannot open the pinned map {}", path.display()))?;
        let map = Array::try_from(Map::Array(data))
            .with_context(|| format!("{} is not an array of u32", path.display()))?;
        Ok(Self { map, path })
    }

    /// Moves the generation on (1 to 255, never 0, which means "cache
    /// nothing"): every cached next hop is stale from now on.
    pub fn bump(&mut self) -> anyhow::Result<u32> {
        let now = self
            .map
            .get(&0, 0)
            .with_context(|| format!("cannot read {}", self.path.display()))?;
        let next = next_generation(now);
        self.map
            .set(0, next, 0)
            .with_context(|| format!("cannot write {}", self.path.display()))?;
        Ok(next)
    }
}

fn next_generation(now: u32) -> u32 {
    now % 255 + 1
}

/// Subscribes to route, neighbour and link notifications and spawns the
/// task that bumps the generation after each burst that can move a next
/// hop. Bumps once when subscribed: changes made while no daemon ran (or
/// before the subscription) are covered too.
pub fn spawn(pin_dir: &Path, uplinks: Vec<String>) -> anyhow::Result<JoinHandle<()>> {
    let mut generation = Generation::open(pin_dir)?;
    let (connection, _handle, mut notifications) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Ipv4Route,
        MulticastGroup::Ipv6Route,
        MulticastGroup::Neigh,
        MulticastGroup::Link,
    ])
    .context("cannot subscribe to netlink route and neighbour notifications")?;
    let connection = tokio::spawn(connection);
    generation
        .bump()
        .context("cannot start caching next hops")?;
    Ok(tokio::spawn(async move {
        let mut neighbours = Neighbours::default();
        while let Some((first, _)) = notifications.next().await {
            let mut changed = neighbours.moves_next_hop(&first, &uplinks);
            while let Some(Some((next, _))) = notifications.next().now_or_never() {
                changed |= neighbours.moves_next_hop(&next, &uplinks);
            }
            if changed && let Err(e) = generation.bump() {
                log::warn!("cannot invalidate cached next hops: {e:#}");
            }
        }
        log::warn!("netlink route notifications ended; cached next hops are no longer followed");
        connection.abort();
    }))
}

/// The link-layer address last seen for each neighbour, so that the
/// state changes of a neighbour that keeps its address (reachable, stale,
/// probe: every few seconds per neighbour) move nothing; and the MTU last
/// seen for each link, so that only a new or changed one does.
#[derive(Default)]
struct Neighbours {
    known: HashMap<NeighbourKey, Vec<u8>>,
    mtus: HashMap<u32, u32>,
}

impl Neighbours {
    /// Whether a notification can change a flow's next hop or whether its
    /// packets fit: an IPv4 or IPv6 route added or removed, a neighbour whose
    /// link-layer address is new, changed or gone, an uplink changed (its
    /// MAC), a link whose MTU is new or changed (a container's veth bounds
    /// what its flows send), any link removed, or lost notifications.
    fn moves_next_hop(
        &mut self,
        message: &NetlinkMessage<RouteNetlinkMessage>,
        uplinks: &[String],
    ) -> bool {
        match &message.payload {
            NetlinkPayload::InnerMessage(inner) => match inner {
                RouteNetlinkMessage::NewRoute(r) | RouteNetlinkMessage::DelRoute(r) => {
                    matches!(
                        r.header.address_family,
                        AddressFamily::Inet | AddressFamily::Inet6
                    )
                }
                RouteNetlinkMessage::NewNeighbour(n) => match neighbour(n) {
                    Some((key, Some(lladdr))) => {
                        self.known.insert(key, lladdr.clone()) != Some(lladdr)
                    }
                    // Unresolved (incomplete, failed): its address is gone.
                    Some((key, None)) => self.known.remove(&key).is_some(),
                    None => false,
                },
                RouteNetlinkMessage::DelNeighbour(n) => match neighbour(n) {
                    Some((key, _)) => {
                        self.known.remove(&key);
                        true
                    }
                    None => false,
                },
                RouteNetlinkMessage::NewLink(link) => {
                    let uplink = link.attributes.iter().any(|a| {
                        matches!(a, LinkAttribute::IfName(name) if uplinks.iter().any(|u| u == name))
                    });
                    let mtu = link.attributes.iter().find_map(|a| match a {
                        LinkAttribute::Mtu(mtu) => Some(*mtu),
                        _ => None,
                    });
                    let mtu_moved = mtu
                        .is_some_and(|mtu| self.mtus.insert(link.header.index, mtu) != Some(mtu));
                    uplink || mtu_moved
                }
                RouteNetlinkMessage::DelLink(link) => {
                    self.mtus.remove(&link.header.index);
                    true
                }
                _ => false,
            },
            NetlinkPayload::Overrun(_) | NetlinkPayload::Error(_) => true,
            _ => false,
        }
    }
}

/// A neighbour: its interface and address.
type NeighbourKey = (u32, IpAddr);

/// An IPv4 or IPv6 neighbour's key and its link-layer address, if it has
/// one.
fn neighbour(message: &NeighbourMessage) -> Option<(NeighbourKey, Option<Vec<u8>>)> {
    if !matches!(
        message.header.family,
        AddressFamily::Inet | AddressFamily::Inet6
    ) {
        return None;
    }
    let mut ip = None;
    let mut lladdr = None;
    for attribute in &message.attributes {
        match attribute {
            NeighbourAttribute::Destination(NeighbourAddress::Inet(a)) => ip = Some((*a).into()),
            NeighbourAttribute::Destination(NeighbourAddress::Inet6(a)) => ip = Some((*a).into()),
            NeighbourAttribute::LinkLayerAddress(a) if !a.is_empty() => lladdr = Some(a.clone()),
            _ => {}
        }
    }
    Some(((message.header.ifindex, ip?), lladdr))
}

#[cfg(test)]
mod tests {
    use std::net::Ipv6Addr;

    use rtnetlink::{
        packet_core::NetlinkMessage,
        packet_route::{
            AddressFamily, RouteNetlinkMessage,
            link::{LinkAttribute, LinkMessage},
            neighbour::{NeighbourAddress, NeighbourAttribute, NeighbourMessage},
            route::RouteMessage,
        },
    };

    use super::{Neighbours, next_generation};

    fn route(family: AddressFamily) -> NetlinkMessage<RouteNetlinkMessage> {
        let mut route = RouteMessage::default();
        route.header.address_family = family;
        NetlinkMessage::from(RouteNetlinkMessage::NewRoute(route))
    }

    fn neighbour6(ip: Ipv6Addr, lladdr: [u8; 6]) -> NetlinkMessage<RouteNetlinkMessage> {
        let mut neighbour = NeighbourMessage::default();
        neighbour.header.family = AddressFamily::Inet6;
        neighbour.header.ifindex = 3;
        neighbour
            .attributes
            .push(NeighbourAttribute::Destination(NeighbourAddress::Inet6(ip)));
        neighbour
            .attributes
            .push(NeighbourAttribute::LinkLayerAddress(lladdr.to_vec()));
        NetlinkMessage::from(RouteNetlinkMessage::NewNeighbour(neighbour))
    }

    #[test]
    fn ipv6_routes_and_neighbours_move_the_generation_as_ipv4_ones_do() {
        let mut seen = Neighbours::default();
        assert!(seen.moves_next_hop(&route(AddressFamily::Inet6), &[]));
        assert!(seen.moves_next_hop(&route(AddressFamily::Inet), &[]));
        assert!(!seen.moves_next_hop(&route(AddressFamily::Bridge), &[]));
        // A neighbour's address: new, then only its state again, then a
        // new MAC (what `ip -6 neigh replace … lladdr` announces).
        let peer = Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 2);
        assert!(seen.moves_next_hop(&neighbour6(peer, [2, 0, 0, 0, 0, 1]), &[]));
        assert!(!seen.moves_next_hop(&neighbour6(peer, [2, 0, 0, 0, 0, 1]), &[]));
        assert!(seen.moves_next_hop(&neighbour6(peer, [2, 0, 0, 0, 0, 2]), &[]));
    }

    fn link(index: u32, name: &str, mtu: u32) -> NetlinkMessage<RouteNetlinkMessage> {
        let mut link = LinkMessage::default();
        link.header.index = index;
        link.attributes
            .push(LinkAttribute::IfName(name.to_string()));
        link.attributes.push(LinkAttribute::Mtu(mtu));
        NetlinkMessage::from(RouteNetlinkMessage::NewLink(link))
    }

    #[test]
    fn a_new_or_changed_mtu_moves_the_generation_a_repeated_one_does_not() {
        let mut seen = Neighbours::default();
        let uplinks = vec!["up0".to_string()];
        // A container's veth: first seen (its MTU may have changed since
        // flows judged it), then the same MTU again (a state change).
        assert!(seen.moves_next_hop(&link(7, "veth1", 1500), &uplinks));
        assert!(!seen.moves_next_hop(&link(7, "veth1", 1500), &uplinks));
        assert!(seen.moves_next_hop(&link(7, "veth1", 9000), &uplinks));
        assert!(!seen.moves_next_hop(&link(7, "veth1", 9000), &uplinks));
        // An uplink moves it on every change, whatever its MTU.
        assert!(seen.moves_next_hop(&link(2, "up0", 1500), &uplinks));
        assert!(seen.moves_next_hop(&link(2, "up0", 1500), &uplinks));
    }

    #[test]
    fn generation_cycles_through_1_to_255_and_never_0() {
        assert_eq!(next_generation(0), 1);
        assert_eq!(next_generation(1), 2);
        assert_eq!(next_generation(254), 255);
        assert_eq!(next_generation(255), 1);
        // A value no daemon writes (an old pin, a hand edit) still lands in range.
        assert_eq!(next_generation(1000), 236);
    }
}
