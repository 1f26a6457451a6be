//! The relay for this host's own IPv4 clients of IPv6-only containers
//! (nat46.rs, relay46) over the fakes: which mappings have one and where
//! it sends, `127.0.0.1` published (relayed, no datapath entry), a relay
//! that cannot listen failing the publish with nothing changed (but not
//! a restart: the datapath serves other hosts), and unpublish, `rm` and a
//! restart.

use std::{collections::BTreeMap, net::SocketAddrV6};

use ebpfnet_common::{nat46, published6::PublishedKey6};

use super::{
    consistency::assert_consistent,
    harness::{Harness, assert_same, on, ports, with_ds_and_six},
};
use crate::{controller::ControllerError, portspec::Protocol};

/// The fake relay's keys and targets, as `LISTEN/PROTO -> TARGET`.
fn relays(h: &Harness) -> Vec<String> {
    shown(&h.relay.running())
}

fn shown(running: &BTreeMap<crate::relay46::RelayKey, SocketAddrV6>) -> Vec<String> {
    running
        .iter()
        .map(|(k, t)| format!("{}/{} -> {t}", k.listen, k.protocol))
        .collect()
}

#[tokio::test]
async fn ipv4_mappings_of_ipv6_only_containers_are_relayed_until_unpublished() {
    let mut h = with_ds_and_six().await;
    let mut opts = on("six");
    opts.ports = ports("8180:80");
    opts.ports.extend(ports("127.0.0.1:9190:90/udp"));
    h.controller.create_container("a", &opts).await.expect("a");
    let mut dual = on("ds");
    dual.ports = ports("8181:80");
    h.controller.create_container("d", &dual).await.expect("d");
    // IPv4 mappings of the IPv6-only container only; IPv6 ones and the
    // dual-stack container's are the datapath's alone.
    assert_eq!(
        relays(&h),
        [
            "0.0.0.0:8180/tcp -> [fd00:6::2]:80",
            "127.0.0.1:9190/udp -> [fd00:6::2]:90"
        ]
    );
    // 127.0.0.1 has no datapath entry: no uplink carries it.
    let world = h.datapath.world();
    let loopback = PublishedKey6::new(nat46::mapped([127, 0, 0, 1]), 9190, 17);
    assert!(!world.published6.contains_key(&loopback));
    assert!(
        world
            .published6
            .contains_key(&PublishedKey6::new(nat46::mapped([0; 4]), 8180, 6))
    );
    assert_consistent(&h.snapshot());

    // Published later, on a host address: relayed there too.
    let host_ip = h
        .controller
        .uplink_ips
        .values()
        .next()
        .copied()
        .expect("uplink");
    h.controller
        .publish("a", &ports(&format!("{host_ip}:8182:82")))
        .await
        .expect("publish");
    assert!(
        relays(&h).contains(&format!("{host_ip}:8182/tcp -> [fd00:6::2]:82")),
        "{:?}",
        relays(&h)
    );
    h.controller
        .unpublish("a", &ports("127.0.0.1:9190:90/udp"))
        .await
        .expect("unpublish");
    h.controller
        .unpublish("a", &ports(&format!("{host_ip}:8182:82")))
        .await
        .expect("unpublish");
    assert_eq!(relays(&h), ["0.0.0.0:8180/tcp -> [fd00:6::2]:80"]);

    // A restart starts the saved ones again; `rm` stops them.
    let mut h = h.restart(|_, _| {}).await.expect("restart");
    assert_eq!(relays(&h), ["0.0.0.0:8180/tcp -> [fd00:6::2]:80"]);
    h.controller.remove_container("a").await.expect("rm");
    assert!(relays(&h).is_empty(), "{:?}", relays(&h));
}

#[tokio::test]
async fn a_relay_that_cannot_listen_fails_the_publish_and_changes_nothing() {
    let mut h = with_ds_and_six().await;
    let mut opts = on("six");
    opts.ports = ports("8180:80");
    h.controller.create_container("a", &opts).await.expect("a");
    let before = h.snapshot();
    let running = h.relay.running();
    h.faults.fail_op("relay_start");
    // The IPv4 mapping's relay fails after its PUBLISHED6 entry and the
    // IPv6 mapping's were written: both are taken back.
    let err = h
        .controller
        .publish("a", &ports("8190:90/udp"))
        .await
        .expect_err("the relay cannot listen");
    assert!(matches!(err, ControllerError::Refused(_)), "{err}");
    assert!(
        err.to_string()
            .contains("cannot listen on 0.0.0.0:8190/udp for this host's own IPv4 clients"),
        "{err}"
    );
    assert_same(&h.snapshot(), &before, "publish");
    assert_eq!(h.relay.running(), running);
    assert_eq!(h.controller.ports("a").expect("ports").len(), 2);
    // `create` of a container too: no container, namespace or entry left.
    let mut opts = on("six");
    opts.ports = ports("127.0.0.1:8191:80");
    let err = h
        .controller
        .create_container("b", &opts)
        .await
        .expect_err("the relay cannot listen");
    assert!(err.to_string().contains("127.0.0.1:8191/tcp"), "{err}");
    assert_same(&h.snapshot(), &before, "create");
    assert_eq!(h.relay.running(), running);
    h.faults.clear();
    h.controller
        .publish("a", &ports("8190:90/udp"))
        .await
        .expect("publish once it can listen");
    assert!(
        h.relay
            .running()
            .keys()
            .any(|k| k.protocol == Protocol::Udp && k.listen.port() == 8190)
    );
}

#[tokio::test]
async fn a_relay_that_cannot_listen_at_start_does_not_keep_the_daemon_down() {
    let mut h = with_ds_and_six().await;
    let mut opts = on("six");
    opts.ports = ports("8180:80");
    h.controller.create_container("a", &opts).await.expect("a");
    let published6 = h.datapath.world().published6;
    let h = h
        .restart_failing("relay_start")
        .await
        .expect("the daemon starts");
    assert!(relays(&h).is_empty(), "{:?}", relays(&h));
    // The datapath still serves other hosts; the mapping stays saved.
    assert_eq!(h.datapath.world().published6, published6);
    assert_eq!(h.controller.ports("a").expect("ports").len(), 2);
    // The next start relays it again.
    let h = h.restart(|_, _| {}).await.expect("restart");
    assert_eq!(relays(&h), ["0.0.0.0:8180/tcp -> [fd00:6::2]:80"]);
}
