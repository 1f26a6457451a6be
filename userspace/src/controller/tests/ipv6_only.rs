//! IPv6-only networks (`--ipv4=false`) and the IPv6 default route of a
//! container on several networks, over the fakes.

use super::{
    consistency::assert_consistent,
    harness::{Harness, assert_same, ip6, ipv6_on, net, on, populated},
};
use crate::{
    controller::{files, ipv6::Ipv6Request, views},
    host::netns::netns_path,
};

/// [`populated`] with IPv6-only network `six` (fd00:6::/64) and `a` on it.
async fn scene() -> Harness {
    let mut h = populated().await;
    let c = &mut h.controller;
    c.create_network_ipv6("six", None, None, false, &ipv6_on("fd00:6::/64", true))
        .await
        .expect("six");
    c.create_container("a", &on("six")).await.expect("a");
    assert_consistent(&h.snapshot());
    h
}

#[tokio::test]
async fn an_ipv6_only_network_and_its_containers() {
    let h = scene().await;
    let state = h.controller.state();
    let network = &state.networks["six"];
    assert_eq!((network.subnet, network.gateway), (None, None));
    assert_eq!(network.ipv6.map(|s| s.gateway), Some(ip6("fd00:6::1")));
    let a = &state.containers["a"].endpoints[0];
    assert_eq!((a.ip, a.ip6), (None, Some(ip6("fd00:6::2"))));
    assert_eq!(
        a.mac,
        [0x02, 0x42, 0, 0, 0, 2],
        "02:42 + the address's last 32 bits"
    );
    let world = h.host.world();
    let bridge = &world.links[&network.bridge];
    assert!(
        bridge.addresses.is_empty(),
        "no IPv4 on the bridge: {bridge:?}"
    );
    let ns = &world.namespaces[&netns_path("a")];
    assert_eq!(ns.default_route, None);
    assert_eq!(ns.default_route6, Some((ip6("fd00:6::1"), "eth0".into())));
    // No NETWORKS entry; the endpoint's ENDPOINTS entry has no address.
    let dp = h.datapath.world();
    assert_eq!(dp.networks.len(), 3, "bridge, front and spare only");
    let inspect = views::network_inspect(state, network);
    assert!(!inspect.enable_ipv4 && inspect.enable_ipv6);
    assert_eq!(inspect.ipam.config.len(), 1);
    let (_, member) = inspect.containers.iter().next().expect("a");
    assert_eq!(
        (member.ipv4_address.as_str(), member.ipv6_address.as_str()),
        ("", "fd00:6::2/64")
    );
    let (_, resolv) =
        files::render_files(state, &state.containers["a"], &Default::default()).expect("files");
    assert!(resolv.starts_with("nameserver fd00:6::1\n"), "{resolv}");
}

#[tokio::test]
async fn what_an_ipv6_only_network_cannot_have_is_refused() {
    let mut h = scene().await;
    let before = h.snapshot();
    let c = &mut h.controller;
    let no_v6 = Ipv6Request {
        only: true,
        ..Ipv6Request::default()
    };
    let cases: Vec<(crate::controller::Result<String>, &str)> = vec![
        (
            c.create_network_ipv6("x", None, None, false, &no_v6).await,
            "needs IPv4 or IPv6",
        ),
        (
            c.create_network_ipv6(
                "x",
                Some(net("10.9.0.0/24")),
                None,
                false,
                &ipv6_on("fd00:9::/64", true),
            )
            .await,
            "--ipv4=false leaves the network without IPv4",
        ),
    ];
    for (result, why) in cases {
        let err = result.expect_err(why).to_string();
        assert!(err.contains(why), "{err}");
    }
    let err = c
        .connect6(
            "six",
            "web",
            (Some("10.0.0.9".parse().expect("ip")), None),
            &[],
        )
        .await
        .expect_err("--ip on an IPv6-only network");
    assert!(err.to_string().contains("is IPv6-only"), "{err}");
    assert_same(&h.snapshot(), &before, "nothing made");
}

#[tokio::test]
async fn an_ipv6_only_network_survives_a_restart_and_goes() {
    let h = scene().await;
    let saved = h.saved();
    let mut h = h.restart(|_, _| {}).await.expect("restarts");
    assert_eq!(h.saved(), saved);
    assert_consistent(&h.snapshot());
    h.controller.remove_container("a").await.expect("rm a");
    h.controller.remove_network("six").await.expect("rm six");
    assert_consistent(&h.snapshot());
}

#[tokio::test]
async fn the_ipv6_default_route_comes_from_the_first_network_with_ipv6() {
    let mut h = populated().await;
    let c = &mut h.controller;
    c.create_network_ipv6(
        "d1",
        Some(net("10.5.0.0/24")),
        None,
        false,
        &ipv6_on("fd00:d1::/64", false),
    )
    .await
    .expect("d1");
    c.create_network_ipv6(
        "d2",
        Some(net("10.6.0.0/24")),
        None,
        false,
        &ipv6_on("fd00:d2::/64", false),
    )
    .await
    .expect("d2");
    // web is on bridge and front (IPv4 only): no IPv6 route.
    let route6 = |h: &Harness| {
        h.host.world().namespaces[&netns_path("web")]
            .default_route6
            .clone()
    };
    let route4 = |h: &Harness| {
        h.host.world().namespaces[&netns_path("web")]
            .default_route
            .clone()
    };
    assert_eq!(route6(&h), None);
    let v4 = route4(&h);
    h.controller
        .connect6("d1", "web", (None, None), &[])
        .await
        .expect("d1");
    assert_eq!(
        route6(&h),
        Some((ip6("fd00:d1::1"), "eth2".into())),
        "d1 gives it"
    );
    assert_eq!(route4(&h), v4, "the IPv4 one stays");
    h.controller
        .connect6("d2", "web", (None, None), &[])
        .await
        .expect("d2");
    assert_eq!(
        route6(&h),
        Some((ip6("fd00:d1::1"), "eth2".into())),
        "d1 keeps it"
    );
    assert_consistent(&h.snapshot());
    h.controller.disconnect("d1", "web").await.expect("off d1");
    assert_eq!(
        route6(&h),
        Some((ip6("fd00:d2::1"), "eth3".into())),
        "handed on to d2"
    );
    assert_consistent(&h.snapshot());
    h.controller.disconnect("d2", "web").await.expect("off d2");
    assert_eq!(route6(&h), None, "no IPv6 network left");
    assert_eq!(route4(&h), v4);
    assert_consistent(&h.snapshot());
}

#[tokio::test]
async fn an_ipv4_network_joined_later_gives_the_ipv4_route() {
    let mut h = scene().await;
    let route4 = |h: &Harness| {
        h.host.world().namespaces[&netns_path("a")]
            .default_route
            .clone()
    };
    assert_eq!(route4(&h), None);
    h.controller
        .connect6("front", "a", (None, None), &[])
        .await
        .expect("front");
    assert_eq!(
        route4(&h),
        Some(("10.1.0.1".parse().expect("ip"), "eth1".into()))
    );
    assert_consistent(&h.snapshot());
}
