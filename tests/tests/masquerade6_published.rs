//! NAT66 masquerade never takes a port published on IPv6 (`[::]:P`): a
//! reply to the masqueraded flow and a new connection to the mapping would
//! be the same tuple (cilium#34041; the IPv4 rule is tested in
//! isolation.rs). With 1,000 ports of the masquerade range published on
//! `::`, 200 UDP flows from a container to an outside IPv6 address leave
//! from the uplink's IPv6 address on other ports of the range.

use std::{collections::BTreeSet, time::Duration};

use ebpfnet_tests::ipv6_publish::echo_server6;
use ebpfnet_tests::outside6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

#[test]
fn nat66_masquerade_port_is_never_a_published_ipv6_port() {
    let env = TestEnv::new("masqp6");
    env.create_network("mp6", &["--ipv6"]);
    let (lo, hi) = masq_range(&env);
    assert!(lo > 1024 && hi >= lo + 1000, "masquerade range {lo}-{hi}");
    env.create_container("mp", &["--network", "mp6"]);
    env.create_container("mc", &["--network", "mp6"]);
    let _uplink6 = Uplink6::add(&env);
    let _server = echo_server6(&env.outside_ns, "outside", 9000);
    let (first, last) = (lo, lo + 999);
    let out = env.ok(&[
        "publish",
        &format!("[::]:{first}-{last}:1000-1999/udp"),
        "--container",
        "mp",
    ]);
    assert_eq!(out.lines().count(), 1000, "publish printed {out}");
    // The daemon follows the uplink's new address (netlink): wait for a
    // first flow to come back.
    assert!(
        wait_for(Duration::from_secs(10), || {
            sequential_udp("mc", OUTSIDE6, 9000, 1)
                .iter()
                .all(|r| peer_of(r).is_some())
        }),
        "no UDP through NAT66"
    );
    let replies = sequential_udp("mc", OUTSIDE6, 9000, 200);
    assert_eq!(replies.len(), 200);
    let mut seen = BTreeSet::new();
    let mut failed = Vec::new();
    for r in &replies {
        let Some((ip, port)) = peer_of(r) else {
            failed.push(r.clone());
            continue;
        };
        assert_eq!(ip, UPLINK6, "{r}");
        assert!(
            !(first..=last).contains(&port),
            "NAT66 masquerade used published port {port}: {r}"
        );
        assert!((lo..=hi).contains(&port), "{port} not in {lo}-{hi}");
        seen.insert(port);
    }
    // Skipping published ports must not make flows fail while thousands
    // of masquerade ports are free.
    assert!(failed.is_empty(), "flows failed: {failed:?}");
    assert!(
        seen.len() > 150,
        "only {} distinct masquerade ports",
        seen.len()
    );
}
