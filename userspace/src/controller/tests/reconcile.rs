//! Starting again over a host that is not what the state file says: after
//! a reboot, after someone deleted a device, after a crash that left map
//! entries the state no longer has.

use std::path::Path;

use ebpfnet_common::{
    ProgramId,
    maps::{NetworkInfo, PublishedKey, PublishedValue, UplinkInfo},
};

use super::{
    consistency::assert_consistent,
    harness::{Harness, TempDir, UPLINK, UPLINK_INDEX, bare_host, net, on, populated},
};
use crate::{
    host::netns::netns_path,
    testing::{DatapathWorld, LinkKind},
};

#[tokio::test]
async fn after_a_reboot_everything_is_made_again() {
    let h = populated().await;
    let saved = h.saved();
    // A reboot: no bridge, veth, namespace or map survives; /etc does.
    let h = h.reboot().await.expect("restart");
    let s = h.snapshot();
    assert_eq!(s.state, saved, "the state is the one saved");
    assert_consistent(&s);
    assert!(s.host.namespaces[&netns_path("quiet")].links["lo"].up);
}

#[tokio::test]
async fn a_veth_deleted_behind_the_back_comes_back_and_the_ports_follow() {
    let h = populated().await;
    let veth = h.controller.state().containers["web"].endpoints[0]
        .host_veth
        .clone();
    let old = h.snapshot().host.links[&veth].index;
    h.host.edit(|w| {
        let link = w.links.remove(&veth).expect("web's veth");
        if let LinkKind::Veth {
            peer, peer_netns, ..
        } = link.kind
        {
            let ns = w.namespaces.get_mut(&peer_netns).expect("web's namespace");
            ns.links.remove(&peer);
            ns.default_route = None;
        }
    });
    let h = h.restart(|_, _| {}).await.expect("restart");
    let s = h.snapshot();
    assert_consistent(&s);
    let new = s.host.links[&veth].index;
    assert_ne!(new, old, "a new interface");
    let value = s.datapath.published.values().next().expect("8080");
    assert_eq!(value.ifindex, new, "PUBLISHED leads to the new veth");
    assert!(
        !s.datapath.endpoints.contains_key(&old),
        "the old entry is gone"
    );
}

#[tokio::test]
async fn a_restart_prunes_what_the_state_no_longer_has() {
    let h = populated().await;
    let stale_key = PublishedKey {
        host_ip: [198, 51, 100, 9],
        host_port: 5555,
        protocol: 6,
        _pad: 0,
    };
    let h = h
        .restart(|_, datapath| {
            // A crash between writing the maps and saving the state.
            datapath
                .networks
                .insert(net("10.9.0.0/24"), NetworkInfo::default());
            datapath.endpoints.insert(999, Default::default());
            datapath
                .published
                .insert(stale_key, PublishedValue::default());
            datapath.uplinks.insert(77, UplinkInfo::default());
            datapath.attached.insert(
                ("gone0".into(), ProgramId::ContainerIngress.program_name()),
                41,
            );
        })
        .await
        .expect("restart");
    // Exactly what the state has: nothing stale is left in any map.
    assert_consistent(&h.snapshot());
}

#[tokio::test]
async fn a_vanished_adopted_namespace_takes_its_containers_along() {
    let mut h = populated().await;
    let adopted = Path::new("/proc/4242/ns/net");
    h.host.add_namespace(adopted);
    let mut opts = on("front");
    opts.netns = Some(adopted.into());
    let c = &mut h.controller;
    c.create_container("pod", &opts).await.expect("adopt");
    c.create_container("side", &on("container:pod"))
        .await
        .expect("share");
    // The pod's process exited while the daemon was down.
    let h = h
        .restart(|host, _| {
            host.namespaces.remove(adopted);
            host.links.retain(|_, l| {
                !matches!(&l.kind, LinkKind::Veth { peer_netns, .. } if peer_netns == adopted)
            });
        })
        .await
        .expect("restart");
    let s = h.snapshot();
    assert_consistent(&s);
    assert!(!s.state.containers.contains_key("pod"));
    assert!(!s.state.containers.contains_key("side"));
    assert!(s.state.containers.contains_key("web"), "the others stay");
}

#[tokio::test]
async fn an_uplink_made_again_gets_its_program_back() {
    let mut h = populated().await;
    h.host.edit(|w| {
        let mut uplink = w.links.remove(UPLINK).expect("eth0");
        uplink.index = 50;
        w.links.insert(UPLINK.into(), uplink);
    });
    h.controller.refresh_host().await.expect("refresh");
    let dp = h.datapath.world();
    assert_eq!(
        dp.attached
            .get(&(UPLINK.into(), ProgramId::UplinkIngress.program_name())),
        Some(&50)
    );
    assert!(
        !dp.uplinks.contains_key(&UPLINK_INDEX),
        "the old entry went"
    );
    assert!(dp.uplinks.contains_key(&50), "the new one masquerades");
}

#[tokio::test]
async fn a_missing_uplink_is_refused_at_start() {
    let mut host = bare_host();
    host.links.remove(UPLINK);
    let err = Harness::start_on(host, DatapathWorld::default(), TempDir::new())
        .await
        .err()
        .expect("no uplink, no start");
    assert_eq!(err.to_string(), "uplink eth0 not found");
}

#[tokio::test]
async fn a_reboot_brings_back_made_parents_and_lan_interfaces_and_prunes_stale_lan_hosts() {
    let mut h = populated().await;
    let none = std::collections::BTreeMap::new();
    let c = &mut h.controller;
    c.create_network_with_driver(
        "lan",
        Some(net("10.5.0.0/24")),
        None,
        false,
        Some("macvlan"),
        &none,
    )
    .await
    .expect("macvlan on a dummy");
    c.create_container("mac", &on("lan")).await.expect("mac");
    c.connect("lan", "db", None, &[]).await.expect("db on lan");
    let saved = h.saved();
    let lan = saved.networks["lan"]
        .lan
        .clone()
        .expect("a macvlan network");
    assert!(lan.made_parent.is_some(), "{lan:?}");
    let h = h
        .reboot_with(|_, datapath| {
            // Left by a container removed while the daemon was down.
            datapath
                .lan_hosts
                .insert((9, [2, 0, 0, 0, 0, 9], [10, 5, 0, 99]));
        })
        .await
        .expect("restart");
    let s = h.snapshot();
    assert_eq!(s.state, saved, "the state is the one saved");
    assert_consistent(&s);
    assert_eq!(s.host.links[&lan.parent].kind, LinkKind::Dummy);
    assert_eq!(s.datapath.lan_hosts.len(), 2, "{:?}", s.datapath.lan_hosts);
}
