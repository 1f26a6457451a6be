//! The controller's plans, run against the in-memory host and datapath:
//! what each operation makes, and that removing it leaves nothing behind.

use std::net::{Ipv4Addr, SocketAddr};

use ebpfnet_common::ProgramId;

use super::{
    consistency::assert_consistent,
    harness::{Harness, UPLINK, UPLINK_INDEX, assert_same, net, on, tcp},
};
use crate::{
    controller::ControllerError,
    host::{netlink::Route, netns::netns_path},
    portspec::{PortMapping, Protocol},
    testing::LinkKind,
};

#[tokio::test]
async fn a_first_start_makes_the_default_network_and_attaches_the_uplink() {
    let h = Harness::start().await;
    let s = h.snapshot();
    assert_consistent(&s);
    let bridge = &s.host.links["ebpfnet0"];
    assert_eq!(bridge.addresses, [(Ipv4Addr::new(10, 214, 0, 1), 16)]);
    assert_eq!(
        s.datapath.programs_on(UPLINK),
        [ProgramId::UplinkIngress.program_name()]
    );
    assert_eq!(
        s.datapath.host_addrs.get(&Ipv4Addr::new(10, 214, 0, 1)),
        Some(&bridge.index),
        "HOST_ADDRS has the bridge's gateway"
    );
    assert_eq!(s.saved.networks.len(), 1);
}

#[tokio::test]
async fn network_create_and_rm() {
    let mut h = Harness::start().await;
    let before = h.snapshot();
    let c = &mut h.controller;
    c.create_network("front", Some(net("10.1.0.7/24")), None, false)
        .await
        .expect("create front");
    let front = c.state().networks["front"].clone();
    assert_eq!(
        front.subnet,
        Some(net("10.1.0.0/24")),
        "normalised as Docker does"
    );
    assert_eq!(front.gateway, Some(Ipv4Addr::new(10, 1, 0, 1)));
    let s = h.snapshot();
    assert_consistent(&s);
    assert_eq!(
        s.datapath.networks[&net("10.1.0.0/24")].network_id,
        front.number
    );

    let err = h
        .controller
        .create_network("front2", Some(net("10.1.0.128/25")), None, false)
        .await
        .expect_err("overlapping subnets are refused");
    assert!(
        err.to_string()
            .contains("overlaps subnet 10.1.0.0/24 of network front"),
        "{err}"
    );

    h.controller
        .remove_network("front")
        .await
        .expect("rm front");
    let after = h.snapshot();
    assert_consistent(&after);
    assert_same(&after, &before, "nothing of front is left");
}

#[tokio::test]
async fn automatic_subnets_avoid_the_hosts_routes() {
    let mut h = Harness::start().await;
    h.host.edit(|w| {
        w.static_routes.push(Route {
            destination: net("10.215.0.0/16"),
            output: Some(UPLINK_INDEX),
        })
    });
    h.controller
        .create_network("auto", None, None, false)
        .await
        .expect("create auto");
    assert_eq!(
        h.controller.state().networks["auto"].subnet,
        Some(net("10.216.0.0/16"))
    );
    let err = h
        .controller
        .create_network("clash", Some(net("10.215.3.0/24")), None, false)
        .await
        .expect_err("a subnet on a host route is refused");
    assert!(
        err.to_string()
            .contains("overlaps host route 10.215.0.0/16 on eth0"),
        "{err}"
    );
    assert_consistent(&h.snapshot());
}

#[tokio::test]
async fn container_create_and_rm() {
    let mut h = Harness::start().await;
    let before = h.snapshot();
    let mut opts = on("bridge");
    opts.ports = vec![tcp(8080, 80)];
    h.controller
        .create_container("web", &opts)
        .await
        .expect("create web");
    let s = h.snapshot();
    assert_consistent(&s);
    let web = &s.state.containers["web"];
    let endpoint = &web.endpoints[0];
    assert_eq!(
        endpoint.ip,
        Some(Ipv4Addr::new(10, 214, 0, 2)),
        "the first free address"
    );
    let ns = &s.host.namespaces[&netns_path("web")];
    assert_eq!(
        ns.default_route,
        Some((Ipv4Addr::new(10, 214, 0, 1), "eth0".into()))
    );
    assert!(ns.links.contains_key("eth0"));
    let published: Vec<_> = s.datapath.published.iter().map(|(k, v)| (*k, *v)).collect();
    assert_eq!(published.len(), 1);
    assert_eq!(
        (published[0].0.host_port, published[0].1.container_port),
        (8080, 80)
    );
    assert!(
        s.host
            .etc_files
            .contains_key(&("web".into(), "hosts".into()))
    );

    let err = h
        .controller
        .create_container("web2", &{
            let mut o = on("bridge");
            o.ports = vec![tcp(8080, 80)];
            o
        })
        .await
        .expect_err("a published port is taken");
    assert!(
        err.to_string()
            .contains("already published (by container web"),
        "{err}"
    );

    h.controller.remove_container("web").await.expect("rm web");
    let after = h.snapshot();
    assert_consistent(&after);
    assert_same(&after, &before, "nothing of web is left");
}

#[tokio::test]
async fn connect_and_disconnect_move_the_published_ports() {
    let mut h = Harness::start().await;
    let c = &mut h.controller;
    c.create_network("front", Some(net("10.1.0.0/24")), None, false)
        .await
        .expect("create front");
    let mut opts = on("bridge");
    opts.ports = vec![tcp(8080, 80)];
    c.create_container("web", &opts).await.expect("create web");
    c.connect("front", "web", None, &["www".into()])
        .await
        .expect("connect");
    let s = h.snapshot();
    assert_consistent(&s);
    let web = &s.state.containers["web"];
    assert_eq!(web.endpoints[1].ifname, "eth1");
    assert_eq!(web.endpoints[1].aliases, ["www"]);
    let ns = &s.host.namespaces[&netns_path("web")];
    assert_eq!(
        ns.default_route,
        Some((Ipv4Addr::new(10, 214, 0, 1), "eth0".into())),
        "unchanged"
    );

    // Its first endpoint goes: the mapping follows to the one left.
    h.controller
        .disconnect("bridge", "web")
        .await
        .expect("disconnect");
    let s = h.snapshot();
    assert_consistent(&s);
    let veth = &s.state.containers["web"].endpoints[0].host_veth;
    let value = s
        .datapath
        .published
        .values()
        .next()
        .expect("still published");
    assert_eq!(value.ifindex, s.host.links[veth].index);
    assert_eq!(value.container_ip, [10, 1, 0, 2]);

    h.controller
        .disconnect("front", "web")
        .await
        .expect("disconnect the last");
    let s = h.snapshot();
    assert_consistent(&s);
    assert!(s.datapath.published.is_empty(), "saved but inactive");
    assert_eq!(s.state.containers["web"].ports.len(), 1);
    assert!(
        !s.host
            .links
            .values()
            .any(|l| matches!(l.kind, LinkKind::Veth { .. })),
        "no veth left"
    );
}

#[tokio::test]
async fn publish_and_unpublish() {
    let mut h = Harness::start().await;
    h.controller
        .create_container("web", &on("bridge"))
        .await
        .expect("create web");
    let before = h.snapshot();
    let mapped = h
        .controller
        .publish("web", &[tcp(8081, 81)])
        .await
        .expect("publish");
    let expected = PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port: 8081,
        container_port: 81,
        protocol: Protocol::Tcp,
    };
    assert_eq!(mapped, [expected]);
    assert_consistent(&h.snapshot());

    h.host.edit(|w| {
        w.busy_ports
            .push((Protocol::Tcp, SocketAddr::from(([0, 0, 0, 0], 8082))))
    });
    let err = h
        .controller
        .publish("web", &[tcp(8082, 82)])
        .await
        .expect_err("a host process holds 8082");
    assert!(
        err.to_string().contains("in use by a process on this host"),
        "{err}"
    );

    let gone = h
        .controller
        .unpublish("web", &[tcp(8081, 81)])
        .await
        .expect("unpublish");
    assert_eq!(gone, [expected]);
    h.host.edit(|w| w.busy_ports.clear());
    assert_same(&h.snapshot(), &before, "publish then unpublish");
    let err = h
        .controller
        .unpublish("web", &[tcp(8081, 81)])
        .await
        .expect_err("nothing left to unpublish");
    assert!(matches!(err, ControllerError::Refused(_)), "{err}");
}

#[tokio::test]
async fn network_modes_and_adopted_namespaces() {
    let mut h = Harness::start().await;
    let before = h.snapshot();
    let c = &mut h.controller;
    c.create_container("alone", &on("none"))
        .await
        .expect("none");
    c.create_container("hosty", &on("host"))
        .await
        .expect("host");
    let adopted = std::path::Path::new("/proc/4242/ns/net");
    h.host.add_namespace(adopted);
    let mut opts = on("bridge");
    opts.pid = Some(4242);
    h.controller
        .create_container("pod", &opts)
        .await
        .expect("adopt");
    h.controller
        .create_container("side", &on("container:pod"))
        .await
        .expect("share");
    let s = h.snapshot();
    assert_consistent(&s);
    assert!(s.host.namespaces[&netns_path("alone")].links["lo"].up);
    assert!(s.host.namespaces[adopted].links.contains_key("eth0"));
    let err = h
        .controller
        .remove_container("pod")
        .await
        .expect_err("side shares it");
    assert!(
        err.to_string()
            .contains("shares its network namespace with side"),
        "{err}"
    );
    for name in ["side", "pod", "hosty", "alone"] {
        h.controller.remove_container(name).await.expect("rm");
    }
    let mut after = h.snapshot();
    assert_consistent(&after);
    // The adopted namespace is the owner's: it stays, without our veth.
    let left = after
        .host
        .namespaces
        .remove(adopted)
        .expect("adopted stays");
    assert_eq!(left.links.keys().collect::<Vec<_>>(), ["lo"]);
    assert_same(&after, &before, "every mode removed");
}

#[tokio::test]
async fn removed_interfaces_leave_no_counters() {
    let mut h = Harness::start().await;
    let c = &mut h.controller;
    c.create_network("front", Some(net("10.1.0.0/24")), None, false)
        .await
        .expect("create front");
    for name in ["web", "db"] {
        c.create_container(name, &on("bridge"))
            .await
            .expect("create");
    }
    c.connect("front", "web", None, &[]).await.expect("connect");
    let s = h.snapshot();
    let veth =
        |c: &str, i: usize| s.host.links[&s.state.containers[c].endpoints[i].host_veth].index;
    let (web, web_front, db) = (veth("web", 0), veth("web", 1), veth("db", 0));
    // Packets have counted on every veth and on the uplink.
    h.datapath
        .edit(|w| w.counted.extend([web, web_front, db, UPLINK_INDEX]));
    let counted = |h: &Harness| h.datapath.world().counted.into_iter().collect::<Vec<_>>();

    h.controller
        .disconnect("front", "web")
        .await
        .expect("disconnect");
    let mut left = vec![web, db, UPLINK_INDEX];
    left.sort();
    assert_eq!(counted(&h), left, "the disconnected veth is forgotten");
    h.controller.remove_container("web").await.expect("rm web");
    left.retain(|i| *i != web);
    assert_eq!(
        counted(&h),
        left,
        "the removed container's veth is forgotten"
    );

    // A clean-up that fails is logged; the removal goes through.
    h.faults.fail_op("forget_interface");
    h.controller
        .remove_container("db")
        .await
        .expect("rm db whatever its counters");
    h.faults.clear();
    let s = h.snapshot();
    assert_consistent(&s);
    assert!(!s.state.containers.contains_key("db"));
    assert_eq!(
        counted(&h),
        left,
        "db's counters stay where clearing failed"
    );
}
