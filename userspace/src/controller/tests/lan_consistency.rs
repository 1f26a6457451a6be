//! For the unit tests: the part of `consistency` about macvlan and ipvlan
//! networks: their parents, the program on a macvlan parent, and the
//! containers' interfaces on them.

use std::net::Ipv4Addr;

use ebpfnet_common::ProgramId;

use crate::{
    datapath::LanHost,
    lan::{LanKind, LanNetwork, MadeParent},
    state::{Endpoint, Network},
    testing::{HostWorld, LinkKind, Namespace},
};

fn lan(network: &Network) -> &LanNetwork {
    network.lan.as_deref().expect("a macvlan or ipvlan network")
}

/// Checks the parent of `network` (a parent ebpfnet made exists, is up and
/// is what it made); the attachment its kind asks for.
pub fn parent(host: &HostWorld, network: &Network) -> Option<((String, &'static str), u32)> {
    let lan = lan(network);
    let link = host
        .links
        .get(&lan.parent)
        .unwrap_or_else(|| panic!("parent {} of network {}", lan.parent, network.name));
    match &lan.made_parent {
        Some(MadeParent::Dummy) => assert_eq!(link.kind, LinkKind::Dummy, "{}", lan.parent),
        Some(MadeParent::Vlan { link: base, id }) => {
            let base = host.links[base].index;
            assert_eq!(
                link.kind,
                LinkKind::Vlan {
                    link: base,
                    id: *id
                }
            );
        }
        None => {}
    }
    assert!(link.up || lan.made_parent.is_none(), "{} is up", lan.parent);
    let program = ProgramId::LanParentEgress.program_name();
    (lan.kind == LanKind::Macvlan).then(|| ((lan.parent.clone(), program), link.index))
}

/// Checks a container's interface on a macvlan or ipvlan network; its
/// `LAN_HOSTS` entry, for a macvlan one.
pub fn endpoint(
    host: &HostWorld,
    ns: &Namespace,
    network: &Network,
    endpoint: &Endpoint,
) -> Option<LanHost> {
    let lan = lan(network);
    assert!(
        endpoint.host_veth.is_empty(),
        "{endpoint:?} has no host side"
    );
    let parent = host.links[&lan.parent].index;
    let inside = ns
        .links
        .get(&endpoint.ifname)
        .unwrap_or_else(|| panic!("{} of {endpoint:?}", endpoint.ifname));
    assert_eq!(inside.lan, Some((lan.kind, parent)), "{endpoint:?}");
    assert_eq!(inside.mac, Some(endpoint.mac), "{endpoint:?}");
    assert!(inside.up, "{} is up", endpoint.ifname);
    let address = endpoint.ip.zip(network.subnet.map(|s| s.prefix()));
    assert_eq!(inside.addresses, Vec::from_iter(address), "{inside:?}");
    if let Some((gateway, _)) = ns
        .default_route
        .as_ref()
        .filter(|(_, dev)| *dev == endpoint.ifname)
    {
        let wanted = match lan.routes_via_gateway() {
            true => network.gateway,
            false => Some(Ipv4Addr::UNSPECIFIED),
        };
        assert_eq!(Some(*gateway), wanted, "default route of {endpoint:?}");
    }
    let ip = endpoint.ip.filter(|_| lan.kind == LanKind::Macvlan)?;
    Some((parent, endpoint.mac, ip.octets()))
}
