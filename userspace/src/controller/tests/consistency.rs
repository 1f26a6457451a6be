//! For the unit tests: whether the fakes hold exactly what the saved state
//! describes, no more and no less. Two things may lag by design and are not
//! checked: `HOST_ADDRS` (refreshed periodically) and `/etc/netns` files
//! (rewritten at every state change; a failed write is only logged).

use std::collections::{BTreeMap, BTreeSet};

use ebpfnet_common::ProgramId;

use super::{
    harness::{Snapshot, UPLINK, UPLINK_INDEX, UPLINK_IP},
    lan_consistency,
};
use crate::{
    controller::{modes, nat46},
    datapath::encoding::{
        endpoint_info, network_info, network_info6, published_key, published_key6, published_value,
        published_value6,
    },
    host::netns,
    state::{Endpoint, NetMode, Network},
    testing::{LinkKind, Namespace},
};

/// Panics, naming the first difference, unless `s`'s host and datapath
/// are those its state asks for.
pub fn assert_consistent(s: &Snapshot) {
    assert_eq!(s.state, s.saved, "the state in force is the one saved");
    let state = &s.state;
    let (host, dp) = (&s.host, &s.datapath);
    let index_of = |name: &str| host.links.get(name).map(|l| l.index);

    let bridges: BTreeSet<&str> = host
        .links
        .iter()
        .filter(|(_, l)| l.kind == LinkKind::Bridge)
        .map(|(n, _)| n.as_str())
        .collect();
    let wanted: BTreeSet<&str> = state
        .networks
        .values()
        .filter(|n| n.lan.is_none())
        .map(|n| n.bridge.as_str())
        .collect();
    assert_eq!(bridges, wanted, "bridges on the host");
    let mut networks = BTreeMap::new();
    let mut networks6 = BTreeMap::new();
    let mut endpoints6 = BTreeMap::new();
    let mut attached = BTreeMap::from([(
        (UPLINK.to_string(), ProgramId::UplinkIngress.program_name()),
        UPLINK_INDEX,
    )]);
    for network in state.networks.values() {
        if network.lan.is_some() {
            attached.extend(lan_consistency::parent(host, network));
            continue;
        }
        let bridge = &host.links[&network.bridge];
        let address = network.ipv4().map(|v4| (v4.gateway, v4.subnet.prefix()));
        assert_eq!(
            bridge.addresses,
            Vec::from_iter(address),
            "{network:?}: {bridge:?}"
        );
        assert!(
            bridge.up && bridge.forwarding && !bridge.accept_ra,
            "{bridge:?}"
        );
        networks.extend(network.subnet.map(|s| (s, network_info(network))));
        let gateway6 = network.ipv6.map(|six| (six.gateway, six.subnet.prefix()));
        assert_eq!(
            bridge.addresses6,
            Vec::from_iter(gateway6),
            "IPv6 on bridge {}",
            network.bridge
        );
        networks6.extend(network_info6(network));
    }
    assert_eq!(dp.networks, networks, "NETWORKS");
    assert_eq!(dp.networks6, networks6, "NETWORKS6");

    let mut veths = BTreeSet::new();
    let mut endpoints = BTreeMap::new();
    let mut lan_hosts = BTreeSet::new();
    let mut published = BTreeMap::new();
    let mut published6 = BTreeMap::new();
    let mut named = BTreeSet::new();
    for container in state.containers.values() {
        if matches!(container.mode, NetMode::Owned | NetMode::None) {
            named.insert(netns::netns_path(&container.name));
        }
        let Some(path) = modes::sandbox_path(state, container) else {
            assert!(container.endpoints.is_empty(), "{container:?}");
            continue;
        };
        let ns: &Namespace = host
            .namespaces
            .get(&path)
            .unwrap_or_else(|| panic!("namespace {} of {}", path.display(), container.name));
        assert!(
            ns.links.get("lo").is_some_and(|lo| lo.up),
            "lo of {}",
            container.name
        );
        // Set with the first endpoint, and it goes with that endpoint: no
        // other endpoint takes it over (as Docker's would). A container
        // sharing another's namespace has no endpoint of its own.
        let own = !matches!(container.mode, NetMode::Container { .. });
        if let Some((_, dev)) = ns.default_route.as_ref().filter(|_| own) {
            let owner = container.endpoints.iter().find(|e| e.ifname == *dev);
            assert!(
                owner.is_some(),
                "{}'s default route leaves by {dev}",
                container.name
            );
        }
        // The IPv6 one leaves by the first endpoint with IPv6 (handed on
        // when that one goes).
        if let Some((_, dev)) = ns.default_route6.as_ref().filter(|_| own) {
            let first6 = container.endpoints.iter().find(|e| e.ip6.is_some());
            assert_eq!(
                first6.map(|e| &e.ifname),
                Some(dev),
                "{}'s IPv6 default route",
                container.name
            );
        }
        for endpoint in &container.endpoints {
            let network = &state.networks[&endpoint.network];
            if network.lan.is_some() {
                lan_hosts.extend(lan_consistency::endpoint(host, ns, network, endpoint));
                continue;
            }
            let veth = host
                .links
                .get(&endpoint.host_veth)
                .unwrap_or_else(|| panic!("veth {} of {}", endpoint.host_veth, container.name));
            let kind = LinkKind::Veth {
                bridge: index_of(&network.bridge).expect("the bridge exists"),
                peer: endpoint.ifname.clone(),
                peer_netns: path.clone(),
            };
            assert_eq!(veth.kind, kind, "{endpoint:?}");
            assert!(veth.up && veth.forwarding && !veth.accept_ra, "{veth:?}");
            let inside = &ns.links[&endpoint.ifname];
            assert_eq!(inside.mac, Some(endpoint.mac));
            assert!(inside.up, "{} of {} is up", endpoint.ifname, container.name);
            let address = endpoint.ip.zip(network.subnet.map(|s| s.prefix()));
            assert_eq!(inside.addresses, Vec::from_iter(address), "{endpoint:?}");
            if let Some((gateway, _)) = ns
                .default_route
                .as_ref()
                .filter(|(_, dev)| *dev == endpoint.ifname)
            {
                assert_eq!(
                    Some(*gateway),
                    network.gateway,
                    "default route of {}",
                    container.name
                );
            }
            check_ipv6(ns, endpoint, network, &container.name);
            if let Some(ip6) = endpoint.ip6 {
                endpoints6.insert(veth.index, (ip6, endpoint.mac));
            }
            veths.insert(endpoint.host_veth.as_str());
            endpoints.insert(veth.index, endpoint_info(endpoint, network));
            for program in [ProgramId::ContainerIngress, ProgramId::ContainerEgress] {
                attached.insert(
                    (endpoint.host_veth.clone(), program.program_name()),
                    veth.index,
                );
            }
        }
        let target = container
            .endpoints
            .first()
            .filter(|e| !state.networks[&e.network].internal);
        if let Some(endpoint) = target.filter(|e| state.networks[&e.network].lan.is_none()) {
            let ifindex = host.links[&endpoint.host_veth].index;
            for m in &container.ports {
                if let Some(key) = published_key(m)
                    && endpoint.ip.is_some()
                {
                    let value = published_value(m, endpoint, ifindex);
                    published.insert(key, value);
                }
                if let Some(key) = published_key6(m)
                    && endpoint.ip6.is_some()
                {
                    published6.insert(key, published_value6(m, endpoint, ifindex));
                }
                if let Some(key) = nat46::key_into(m, endpoint) {
                    published6.insert(key, published_value6(m, endpoint, ifindex));
                }
            }
        }
    }
    let host_veths: BTreeSet<&str> = host
        .links
        .iter()
        .filter(|(_, l)| matches!(l.kind, LinkKind::Veth { .. }))
        .map(|(n, _)| n.as_str())
        .collect();
    assert_eq!(host_veths, veths, "veths on the host");
    let named_now: BTreeSet<_> = host
        .namespaces
        .keys()
        .filter(|p| p.starts_with(netns::NETNS_RUN_DIR))
        .cloned()
        .collect();
    assert_eq!(named_now, named, "namespaces under /run/netns");
    assert_eq!(dp.endpoints, endpoints, "ENDPOINTS");
    assert_eq!(dp.endpoints6, endpoints6, "ENDPOINTS6");
    assert_eq!(dp.lan_hosts, lan_hosts, "LAN_HOSTS");
    assert_eq!(dp.attached, attached, "programs attached");
    assert_eq!(dp.published, published, "PUBLISHED");
    assert_eq!(dp.published6, published6, "PUBLISHED6");
    let uplink = dp.uplinks.get(&UPLINK_INDEX).map(|u| u.ip);
    assert_eq!(dp.uplinks.len(), 1, "UPLINKS: {:?}", dp.uplinks);
    assert_eq!(uplink, Some(UPLINK_IP.octets()), "UPLINKS");
    assert!(dp.config.is_some(), "CONFIG is written");
}

/// An endpoint's IPv6 address inside the container (on a network with
/// IPv6 only, in its subnet) and the IPv6 default route with the IPv4 one.
fn check_ipv6(ns: &Namespace, endpoint: &Endpoint, network: &Network, container: &str) {
    let inside = &ns.links[&endpoint.ifname];
    let want = match (endpoint.ip6, network.ipv6) {
        (Some(ip6), Some(six)) => {
            assert!(six.subnet.contains(ip6), "{endpoint:?} in {six:?}");
            vec![(ip6, six.subnet.prefix())]
        }
        (None, _) => Vec::new(),
        (Some(_), None) => panic!("{endpoint:?}: an IPv6 address on a network without IPv6"),
    };
    assert_eq!(inside.addresses6, want, "IPv6 of {container}");
    let route6 = ns.default_route6.as_ref();
    if let Some((gateway, _)) = route6.filter(|(_, dev)| *dev == endpoint.ifname) {
        assert_eq!(
            Some(*gateway),
            network.ipv6.map(|six| six.gateway),
            "IPv6 default route of {container}"
        );
    }
}
