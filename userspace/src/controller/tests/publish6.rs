//! Publishing on IPv6 host addresses over the fakes: both families of a
//! plain `-p`, an IPv6-only network, unpublishing one family, what a
//! restart keeps and drops, and `HOST_ADDRS6` following the host.

use ebpfnet_common::published6::{PublishedKey6, PublishedValue6};

use super::{
    consistency::assert_consistent,
    harness::{assert_same, ip6, on, ports, with_ds_and_six},
};
use crate::portspec::PortMapping;

fn shown(mappings: &[PortMapping]) -> Vec<String> {
    mappings.iter().map(ToString::to_string).collect()
}

#[tokio::test]
async fn a_plain_port_is_published_on_both_families_of_a_dual_stack_container() {
    let mut h = with_ds_and_six().await;
    let mut opts = on("ds");
    opts.ports = ports("8180:80");
    h.controller.create_container("d", &opts).await.expect("d");
    assert_eq!(
        shown(&h.controller.ports("d").expect("ports")),
        ["80/tcp -> 0.0.0.0:8180", "80/tcp -> [::]:8180"]
    );
    let world = h.datapath.world();
    let value = world.published6[&PublishedKey6::new([0; 16], 8180, 6)];
    assert_eq!(value.container_ip, ip6("fd00:7::2").octets());
    assert_eq!(value.container_port, 80);
    assert_consistent(&h.snapshot());
    // One family goes, the other stays.
    let gone = h
        .controller
        .unpublish("d", &ports("[::]::80"))
        .await
        .expect("unpublish IPv6");
    assert_eq!(shown(&gone), ["80/tcp -> [::]:8180"]);
    assert!(h.datapath.world().published6.is_empty());
    assert_eq!(
        shown(&h.controller.ports("d").expect("ports")),
        ["80/tcp -> 0.0.0.0:8180"]
    );
    assert_consistent(&h.snapshot());
    // Only IPv6, on loopback, with a host port chosen for it.
    let got = h
        .controller
        .publish("d", &ports("[::1]::80/udp"))
        .await
        .expect("::1");
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].host_ip, ip6("::1"));
    assert_consistent(&h.snapshot());
}

#[tokio::test]
async fn an_ipv6_only_container_publishes_on_both_families_and_ipv4_loopback() {
    let mut h = with_ds_and_six().await;
    let mut opts = on("six");
    opts.ports = ports("8085:80");
    h.controller.create_container("o", &opts).await.expect("o");
    // IPv4 too, translated to IPv6 by the datapath (nat46).
    assert_eq!(
        shown(&h.controller.ports("o").expect("ports")),
        ["80/tcp -> 0.0.0.0:8085", "80/tcp -> [::]:8085"]
    );
    assert_consistent(&h.snapshot());
    // Host-local IPv4 is published too: the daemon relays it
    // (relay46.rs).
    h.controller
        .publish("o", &ports("127.0.0.1:9090:90"))
        .await
        .expect("host-local IPv4");
    let before = h.snapshot();
    // IPv4-only web cannot take an IPv6 address; nothing changes.
    let err = h
        .controller
        .publish("web", &ports("[::]:9090:90"))
        .await
        .expect_err("no IPv6");
    assert!(err.to_string().contains("no IPv6 address"), "{err}");
    assert_same(&h.snapshot(), &before, "refusals change nothing");
    // `web` holds 0.0.0.0:8080; `o` holds 8085 on both families.
    let mut opts = on("ds");
    opts.ports = ports("0.0.0.0:8080:80/tcp");
    let err = h
        .controller
        .create_container("d", &opts)
        .await
        .expect_err("web holds 0.0.0.0:8080");
    assert!(err.to_string().contains("container web"), "{err}");
    opts.ports = ports("127.0.0.1:8088:80");
    h.controller.create_container("d", &opts).await.expect("d");
    opts.ports = ports("[::1]:8085:80");
    let err = h
        .controller
        .create_container("e", &opts)
        .await
        .expect_err("o holds [::]:8085");
    assert!(
        err.to_string()
            .contains("[::1]:8085/tcp is already published (by container o"),
        "{err}"
    );
    // Its translated IPv4 side is held as any IPv4 mapping.
    opts.ports = ports("0.0.0.0:8085:80");
    let err = h
        .controller
        .create_container("e", &opts)
        .await
        .expect_err("o holds 0.0.0.0:8085");
    assert!(err.to_string().contains("(by container o"), "{err}");
    assert_consistent(&h.snapshot());
}

#[tokio::test]
async fn a_restart_keeps_ipv6_mappings_and_drops_stale_ones() {
    let mut h = with_ds_and_six().await;
    let mut opts = on("six");
    opts.ports = ports("[::]:8080:80");
    h.controller.create_container("o", &opts).await.expect("o");
    let saved = h.saved();
    let stale = PublishedKey6::new(ip6("2001:db8::9").octets(), 9999, 17);
    let mut h = h
        .restart(|_, datapath| {
            datapath
                .published6
                .insert(stale, PublishedValue6::default());
        })
        .await
        .expect("restarts");
    assert_eq!(h.saved(), saved);
    assert!(!h.datapath.world().published6.contains_key(&stale));
    assert_consistent(&h.snapshot());
    h.controller.remove_container("o").await.expect("rm o");
    assert!(h.datapath.world().published6.is_empty());
    assert_consistent(&h.snapshot());
}
