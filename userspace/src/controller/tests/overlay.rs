//! The local side of overlay networks over the in-memory host and
//! datapath: made on first use with the VXLAN device and its program,
//! container veths with MTU 1450, the peers map, a restart over a
//! rebooted host, and the removal that takes the device along.

use std::net::{Ipv4Addr, Ipv6Addr};

use ebpfnet_common::{
    ProgramId,
    overlay::{OverlayPeerKey, OverlayPeerKey6},
};

use super::harness::{Harness, Snapshot, net, on};
use crate::{
    api::ContainerOptions,
    controller::{
        ipv6::Ipv6Request,
        overlay::{OverlaySpec, RemoteOverlayEndpoint, VXLAN_DEVICE},
    },
    state::{Ipv4Config, Ipv6Config},
    testing::LinkKind,
};

fn spec(name: &str, subnet: &str, vni: u32) -> OverlaySpec {
    let subnet = net(subnet);
    OverlaySpec {
        name: name.into(),
        id: format!("{name:0>64}"),
        ipv4: Some(Ipv4Config {
            subnet,
            gateway: subnet.nth(1).expect("a gateway"),
        }),
        ipv6: None,
        internal: false,
        vni,
    }
}

fn remote(network: &str, ip: &str) -> RemoteOverlayEndpoint {
    RemoteOverlayEndpoint {
        network: network.into(),
        ip: Some(ip.parse().expect("an address")),
        ip6: None,
        mac: [2, 0x42, 1, 2, 3, 4],
        host: Ipv4Addr::new(198, 18, 0, 2),
        names: vec!["far".into()],
    }
}

/// Makes the local side of `ov`, then container `name` on it.
async fn make_side_with(h: &mut Harness, ov: &OverlaySpec, name: &str, options: &ContainerOptions) {
    h.controller
        .ensure_overlay_network(ov)
        .await
        .expect("the local side made");
    h.controller
        .create_container(name, options)
        .await
        .unwrap_or_else(|e| panic!("container {name}: {e}"));
}

/// The keys of the IPv6 peers map.
fn peers6(s: &Snapshot) -> Vec<OverlayPeerKey6> {
    s.datapath.overlay_peers6.keys().copied().collect()
}

#[tokio::test]
async fn the_local_side_is_made_once_and_restored_after_a_reboot() {
    let mut h = Harness::start().await;
    let ov = spec("ov", "10.129.0.0/24", 4096);
    let mut options = on("ov");
    options.ip = Some("10.129.0.5".parse().expect("ip"));
    make_side_with(&mut h, &ov, "c1", &options).await;
    h.controller
        .ensure_overlay_network(&ov)
        .await
        .expect("again: nothing to do");
    let s = h.snapshot();
    let vxlan = &s.host.links[VXLAN_DEVICE];
    assert_eq!(vxlan.kind, LinkKind::Vxlan);
    assert!(
        s.datapath.programs_on(VXLAN_DEVICE) == [ProgramId::OverlayIngress.program_name()],
        "{:?}",
        s.datapath.attached
    );
    let network = &s.state.networks["ov"];
    let info = s.datapath.overlay_networks[&network.number];
    assert_eq!((info.vni, info.vxlan_ifindex), (4096, vxlan.index));
    let endpoint = s.state.containers["c1"].endpoints[0].clone();
    assert_eq!(endpoint.ip, Some(Ipv4Addr::new(10, 129, 0, 5)));
    assert_eq!(h.controller.overlay_endpoints().len(), 1);

    // Remote containers of its networks only, inside their subnets.
    let peers = [
        remote("ov", "10.129.0.9"),
        remote("ov", "10.1.0.9"),
        remote("elsewhere", "10.129.0.10"),
    ];
    h.controller.set_overlay_peers(&peers).expect("peers");
    let key = OverlayPeerKey {
        network_id: network.number,
        ip: [10, 129, 0, 9],
    };
    let map = h.snapshot().datapath.overlay_peers;
    assert_eq!(map.keys().copied().collect::<Vec<_>>(), [key]);

    // A reboot: the device, the bridge and the maps are made again.
    let h = h.reboot().await.expect("restart");
    let s = h.snapshot();
    assert_eq!(s.host.links[VXLAN_DEVICE].kind, LinkKind::Vxlan);
    assert!(s.host.links.contains_key(&s.state.networks["ov"].bridge));
    assert_eq!(s.datapath.overlay_networks.len(), 1);
    assert!(s.datapath.attached.contains_key(&(
        VXLAN_DEVICE.to_string(),
        ProgramId::OverlayIngress.program_name()
    )));
}

#[tokio::test]
async fn a_local_network_of_that_name_or_subnet_is_not_taken_over() {
    let mut h = Harness::start().await;
    h.controller
        .create_network("ov", Some(net("10.129.0.0/24")), None, false)
        .await
        .expect("local");
    let e = h
        .controller
        .ensure_overlay_network(&spec("ov", "10.129.1.0/24", 4096))
        .await
        .expect_err("a local network named ov");
    assert!(
        e.to_string()
            .contains("exists on this host as a local network"),
        "{e}"
    );
    let e = h
        .controller
        .ensure_overlay_network(&spec("ov2", "10.129.0.0/25", 4097))
        .await
        .expect_err("an overlapping subnet");
    assert!(e.to_string().contains("overlaps"), "{e}");
    let s = h.snapshot();
    assert!(
        !s.host.links.contains_key(VXLAN_DEVICE),
        "no device left made"
    );
    assert!(s.datapath.overlay_networks.is_empty());
}

#[tokio::test]
async fn the_last_overlay_network_takes_the_device_along() {
    let mut h = Harness::start().await;
    for (name, subnet, vni) in [("a", "10.129.0.0/24", 4096), ("b", "10.129.1.0/24", 4097)] {
        let spec = spec(name, subnet, vni);
        h.controller
            .ensure_overlay_network(&spec)
            .await
            .expect("made");
    }
    h.controller
        .create_container("c1", &on("a"))
        .await
        .expect("c1");
    assert!(
        !h.controller.drop_overlay_network("a").await.expect("kept"),
        "in use"
    );
    assert!(
        h.controller
            .drop_overlay_network("b")
            .await
            .expect("dropped")
    );
    assert!(
        h.snapshot().host.links.contains_key(VXLAN_DEVICE),
        "a still needs it"
    );
    h.controller.remove_container("c1").await.expect("rm c1");
    h.controller.remove_network("a").await.expect("rm a");
    let s = h.snapshot();
    assert!(!s.host.links.contains_key(VXLAN_DEVICE));
    assert!(s.datapath.programs_on(VXLAN_DEVICE).is_empty());
    assert!(s.datapath.overlay_networks.is_empty());
    assert!(s.state.networks.values().all(|n| n.overlay.is_none()));
}

#[tokio::test]
async fn a_dual_stack_side_has_ipv6_gateway_addresses_and_peers() {
    let mut h = Harness::start().await;
    let subnet6 = "fd00:eb:1:7::/64".parse().expect("subnet6");
    let gateway6: Ipv6Addr = "fd00:eb:1:7::1".parse().expect("gateway6");
    let ov = OverlaySpec {
        ipv6: Some(Ipv6Config {
            subnet: subnet6,
            gateway: gateway6,
        }),
        ..spec("ov", "10.129.0.0/24", 4096)
    };
    let mut options = on("ov");
    options.ip = Some("10.129.0.5".parse().expect("ip"));
    options.ip6 = Some("fd00:eb:1:7::5".parse().expect("ip6"));
    make_side_with(&mut h, &ov, "c1", &options).await;
    // A bridge network may not take the overlay's IPv6 subnet now.
    let e = h
        .controller
        .create_network_ipv6(
            "br",
            None,
            None,
            false,
            &Ipv6Request {
                enable: true,
                subnet: Some("fd00:eb:1:7::/80".parse().expect("subnet")),
                ..Ipv6Request::default()
            },
        )
        .await
        .expect_err("overlapping IPv6 subnet");
    assert!(e.to_string().contains("overlaps"), "{e}");
    let s = h.snapshot();
    assert!(s.datapath.networks6.contains_key(&subnet6), "NETWORKS6");
    let endpoint = s.state.containers["c1"].endpoints[0].clone();
    assert_eq!(endpoint.ip6, options.ip6);
    let local = h.controller.overlay_endpoints();
    assert_eq!(local[0].ip6, options.ip6);

    // The IPv6 address of a remote container, inside the IPv6 subnet only.
    let far = RemoteOverlayEndpoint {
        ip6: Some("fd00:eb:1:7::9".parse().expect("ip6")),
        ..remote("ov", "10.129.0.9")
    };
    let odd = RemoteOverlayEndpoint {
        ip6: Some("fd00:99::9".parse().expect("ip6")),
        ..remote("ov", "10.129.0.10")
    };
    h.controller.set_overlay_peers(&[far, odd]).expect("peers");
    let s = h.snapshot();
    let number = s.state.networks["ov"].number;
    let key6 = OverlayPeerKey6 {
        network_id: number,
        ip: "fd00:eb:1:7::9".parse::<Ipv6Addr>().expect("ip6").octets(),
    };
    assert_eq!(peers6(&s), [key6]);
    assert_eq!(s.datapath.overlay_peers.len(), 2);

    // Gone with its last container: the IPv6 entries too.
    h.controller.remove_container("c1").await.expect("rm c1");
    assert!(h.controller.drop_overlay_network("ov").await.expect("drop"));
    let s = h.snapshot();
    assert!(!s.datapath.networks6.contains_key(&subnet6));
    assert!(s.datapath.overlay_peers6.is_empty());
}

#[tokio::test]
async fn an_ipv6_only_side_advertises_and_learns_ipv6_addresses_only() {
    let mut h = Harness::start().await;
    let subnet6 = "fd00:eb:1:8::/64".parse().expect("subnet6");
    let ov = OverlaySpec {
        ipv4: None,
        ipv6: Some(Ipv6Config {
            subnet: subnet6,
            gateway: "fd00:eb:1:8::1".parse().expect("gateway6"),
        }),
        ..spec("v6", "10.129.0.0/24", 4097)
    };
    let mut options = on("v6");
    options.ip6 = Some("fd00:eb:1:8::5".parse().expect("ip6"));
    make_side_with(&mut h, &ov, "c6", &options).await;
    let s = h.snapshot();
    assert_eq!(s.state.networks["v6"].subnet, None, "no IPv4");
    assert!(s.datapath.networks6.contains_key(&subnet6), "NETWORKS6");
    let local = h.controller.overlay_endpoints();
    assert_eq!(local.len(), 1, "{local:?}");
    assert_eq!((local[0].ip, local[0].ip6), (None, options.ip6));

    let far6: Ipv6Addr = "fd00:eb:1:8::9".parse().expect("ip6");
    let far = RemoteOverlayEndpoint {
        ip: None,
        ip6: Some(far6),
        ..remote("v6", "10.129.0.9")
    };
    h.controller.set_overlay_peers(&[far]).expect("peers");
    let s = h.snapshot();
    let key6 = OverlayPeerKey6 {
        network_id: s.state.networks["v6"].number,
        ip: far6.octets(),
    };
    assert_eq!(peers6(&s), [key6]);
    assert!(s.datapath.overlay_peers.is_empty(), "no IPv4 peer");
}
