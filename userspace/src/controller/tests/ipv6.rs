//! IPv6 in the controller, over the fakes: dual-stack networks, IPv6
//! addresses in order and reused, `--ip6` checked, bad input refused with
//! nothing made, every step of the IPv6 operations failed in turn, and a
//! restart that keeps (and repairs) the IPv6 side.

use std::net::Ipv6Addr;

use super::{
    consistency::assert_consistent,
    harness::{Harness, assert_same, ip6, net, on, populated},
    step_failures::{Plan, fail_each_step},
};
use crate::{
    controller::{ControllerError, Result, ipv6::Ipv6Request},
    host::netlink6::Route6,
    ipam6,
};

fn six(subnet: Option<&str>, gateway: Option<&str>) -> Ipv6Request {
    Ipv6Request {
        enable: true,
        subnet: subnet.map(|s| s.parse().expect("an IPv6 CIDR in a test")),
        gateway: gateway.map(ip6),
        only: false,
        routed: false,
    }
}

/// [`populated`] with dual-stack network `dual` (fd00:1::/64): `a` on it
/// first, `db` (on front) connected to it second.
async fn scene() -> Harness {
    let mut h = populated().await;
    let c = &mut h.controller;
    c.create_network_ipv6(
        "dual",
        Some(net("10.4.0.0/24")),
        None,
        false,
        &six(Some("fd00:1::/64"), None),
    )
    .await
    .expect("dual");
    c.create_network_ipv6("spare6", None, None, true, &six(None, None))
        .await
        .expect("spare6");
    c.create_container("a", &on("dual")).await.expect("a");
    c.connect("dual", "db", None, &[])
        .await
        .expect("db on dual");
    assert_consistent(&h.snapshot());
    h.faults.take_log();
    h
}

fn endpoint_ip6(h: &Harness, container: &str, network: &str) -> Option<Ipv6Addr> {
    h.controller.state().containers[container]
        .endpoint(network)
        .and_then(|e| e.ip6)
}

#[tokio::test]
async fn a_dual_stack_network_and_its_containers() {
    let mut h = scene().await;
    let network = &h.controller.state().networks["dual"];
    let v6 = network.ipv6.expect("IPv6");
    assert_eq!(v6.subnet.to_string(), "fd00:1::/64");
    assert_eq!(v6.gateway, ip6("fd00:1::1"));
    assert_eq!(endpoint_ip6(&h, "a", "dual"), Some(ip6("fd00:1::2")));
    assert_eq!(endpoint_ip6(&h, "db", "dual"), Some(ip6("fd00:1::3")));
    assert_eq!(endpoint_ip6(&h, "db", "front"), None, "front has no IPv6");
    // a's first network: the IPv6 default route goes via the gateway.
    let ns = &h.host.world().namespaces[&crate::host::netns::netns_path("a")];
    assert_eq!(ns.default_route6, Some((v6.gateway, "eth0".into())));
    // A freed address comes back first.
    h.controller.remove_container("a").await.expect("rm a");
    h.controller
        .create_container("b", &on("dual"))
        .await
        .expect("b");
    assert_eq!(endpoint_ip6(&h, "b", "dual"), Some(ip6("fd00:1::2")));
    // `--ip6` chosen, then the same refused.
    let mut opts = on("dual");
    opts.ip6 = Some(ip6("fd00:1::99"));
    h.controller.create_container("c", &opts).await.expect("c");
    assert_eq!(endpoint_ip6(&h, "c", "dual"), Some(ip6("fd00:1::99")));
    assert_consistent(&h.snapshot());
    let before = h.snapshot();
    let refused = |e: ControllerError| e.to_string();
    let err = h
        .controller
        .create_container("d", &opts)
        .await
        .map_err(refused);
    assert!(
        err.as_ref()
            .is_err_and(|e| e.contains("fd00:1::99 is already in use on network dual")),
        "{err:?}"
    );
    for (bad, why) in [
        ("fd00:2::5", "not inside subnet fd00:1::/64"),
        ("fd00:1::1", "gateway address"),
        ("fd00:1::", "subnet-router anycast"),
    ] {
        let err = h
            .controller
            .connect6("dual", "lonely", (None, Some(ip6(bad))), &[])
            .await
            .map_err(refused);
        assert!(
            err.as_ref().is_err_and(|e| e.contains(why)),
            "{bad}: {err:?}"
        );
    }
    let err = h
        .controller
        .connect6("front", "lonely", (None, Some(ip6("fd00:1::7"))), &[])
        .await
        .map_err(refused);
    assert!(
        err.as_ref()
            .is_err_and(|e| e.contains("network front has no IPv6")),
        "{err:?}"
    );
    assert_same(&h.snapshot(), &before, "refused --ip6");
    // Disconnect and remove take the IPv6 entries away.
    h.controller.disconnect("dual", "db").await.expect("off");
    h.controller.remove_container("b").await.expect("rm b");
    h.controller.remove_container("c").await.expect("rm c");
    h.controller.remove_network("dual").await.expect("rm dual");
    let s = h.snapshot();
    assert_consistent(&s);
    assert!(s.datapath.endpoints6.is_empty());
    let left: Vec<_> = s.datapath.networks6.keys().copied().collect();
    let spare = s.state.networks["spare6"].ipv6.map(|six| six.subnet);
    assert_eq!(left, Vec::from_iter(spare), "only spare6 is left");
}

#[tokio::test]
async fn subnets_come_from_the_pool_past_taken_ones() {
    let mut h = populated().await;
    // A host route over the pool's first /64, not ours.
    h.host.edit(|w| {
        w.static_routes6.push(Route6 {
            destination: "fd00:eb::/64".parse().expect("cidr"),
            output: Some(super::harness::UPLINK_INDEX),
        })
    });
    let c = &mut h.controller;
    c.create_network_ipv6("p1", None, None, false, &six(None, None))
        .await
        .expect("p1");
    c.create_network_ipv6("p2", None, None, true, &six(None, None))
        .await
        .expect("p2");
    let subnet = |name: &str| c.state().networks[name].ipv6.map(|s| s.subnet);
    assert_eq!(subnet("p1"), ipam6::auto_subnet(1));
    assert_eq!(subnet("p2"), ipam6::auto_subnet(2));
    assert_consistent(&h.snapshot());
}

#[tokio::test]
async fn bad_ipv6_input_is_refused_with_nothing_made() {
    let mut h = scene().await;
    let before = h.snapshot();
    let cases = [
        (
            six(Some("fd00:1:0:0:8000::/65"), None),
            "overlaps subnet fd00:1::/64 of network dual",
        ),
        (
            six(Some("fd00:9::/64"), Some("fd00:8::1")),
            "not inside subnet fd00:9::/64",
        ),
        (
            six(Some("fd00:9::/64"), Some("fd00:9::")),
            "subnet-router anycast",
        ),
        (six(Some("fd00:9::/127"), None), "too small"),
        (six(Some("ff02::/64"), None), "not a unicast address"),
        (six(None, Some("fd00:9::1")), "needs the IPv6 --subnet"),
        (
            Ipv6Request {
                enable: false,
                ..six(Some("fd00:9::/64"), None)
            },
            "add --ipv6",
        ),
    ];
    for (request, why) in cases {
        let err = h
            .controller
            .create_network_ipv6("bad", None, None, false, &request)
            .await
            .map(drop)
            .map_err(|e| e.to_string());
        assert!(
            err.as_ref().is_err_and(|e| e.contains(why)),
            "{request:?}: {err:?}"
        );
        assert_same(&h.snapshot(), &before, why);
    }
}

#[tokio::test]
async fn a_restart_keeps_and_repairs_the_ipv6_side() {
    let h = scene().await;
    let saved = h.saved();
    let before = h.snapshot();
    // Lost while the daemon was down: the bridge's IPv6 address, an
    // endpoint's entry; a stale network and endpoint left over.
    h.host.edit(|w| {
        for link in w.links.values_mut() {
            link.addresses6.clear();
        }
    });
    h.datapath.edit(|d| {
        let first = d.endpoints6.keys().next().copied();
        d.endpoints6.retain(|k, _| Some(*k) != first);
        d.networks6
            .insert("fd00:77::/64".parse().expect("cidr"), Default::default());
        d.endpoints6.insert(999, (ip6("fd00:77::2"), [2; 6]));
    });
    let h = h.restart(|_, _| {}).await.expect("restarts");
    assert_eq!(h.saved(), saved, "the state is kept");
    let after = h.snapshot();
    assert_consistent(&after);
    assert_eq!(after.datapath.endpoints6, before.datapath.endpoints6);
    assert_eq!(after.datapath.networks6, before.datapath.networks6);
}

#[tokio::test]
async fn the_daemon_gives_the_default_network_ipv6() {
    let h = Harness::start().await;
    assert_eq!(h.controller.state().networks["bridge"].ipv6, None);
    let mut h = h
        .restart_ipv6(six(Some("fd00:d::/64"), None))
        .await
        .expect("restarts with --ipv6");
    let v6 = h.controller.state().networks["bridge"].ipv6.expect("IPv6");
    assert_eq!(v6.subnet.to_string(), "fd00:d::/64");
    h.controller
        .create_container("x", &on("bridge"))
        .await
        .expect("x");
    assert_eq!(endpoint_ip6(&h, "x", "bridge"), Some(ip6("fd00:d::2")));
    assert_consistent(&h.snapshot());
    // Started again without --ipv6: the network keeps what it has.
    let h = h
        .restart_ipv6(Ipv6Request::default())
        .await
        .expect("restarts without --ipv6");
    assert!(h.controller.state().networks["bridge"].ipv6.is_some());
    assert_consistent(&h.snapshot());
    // A first start with --ipv6 makes the default network dual-stack.
    let dir = super::harness::TempDir::new();
    let host = super::harness::bare_host();
    let h = Harness::start_ipv6(host, Default::default(), dir, six(None, None))
        .await
        .expect("first start with --ipv6");
    let v6 = h.controller.state().networks["bridge"].ipv6.expect("IPv6");
    assert_eq!(Some(v6.subnet), ipam6::auto_subnet(0));
    assert_consistent(&h.snapshot());
}

#[derive(Debug, Clone, Copy)]
enum Op {
    Create,
    CreateAuto,
    Remove,
    CreateContainer,
    Connect,
    Disconnect,
    RemoveContainer,
}

impl Plan for Op {
    fn removes(self) -> bool {
        matches!(self, Op::Remove | Op::Disconnect | Op::RemoveContainer)
    }

    async fn scene(self) -> Harness {
        scene().await
    }

    async fn run(self, h: &mut Harness) -> Result<()> {
        let c = &mut h.controller;
        match self {
            Op::Create => c
                .create_network_ipv6(
                    "more",
                    Some(net("10.9.0.0/24")),
                    None,
                    false,
                    &six(Some("fd00:9::/64"), Some("fd00:9::fe")),
                )
                .await
                .map(drop),
            Op::CreateAuto => c
                .create_network_ipv6("auto6", None, None, false, &six(None, None))
                .await
                .map(drop),
            Op::Remove => c.remove_network("spare6").await,
            Op::CreateContainer => {
                let mut opts = on("dual");
                opts.ip6 = Some(ip6("fd00:1::42"));
                c.create_container("new", &opts).await.map(drop)
            }
            Op::Connect => c.connect6("dual", "web", (None, None), &[]).await,
            Op::Disconnect => c.disconnect("dual", "db").await,
            Op::RemoveContainer => c.remove_container("a").await,
        }
    }
}

#[tokio::test]
async fn every_step_of_the_ipv6_operations() {
    for op in [
        Op::Create,
        Op::CreateAuto,
        Op::Remove,
        Op::CreateContainer,
        Op::Connect,
        Op::Disconnect,
        Op::RemoveContainer,
    ] {
        fail_each_step(op).await;
    }
}
