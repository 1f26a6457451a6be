//! NAT66 masquerade never takes a port published on IPv6 (`[::]:P`): a
//! reply to the masqueraded flow and a new connection to the mapping would
//! be the same tuple (cilium#34041; the IPv4 rule is tested in
//! isolation.rs). With 1,000 ports of the masquerade range published on
//! `::`, 200 UDP flows from a container to an outside IPv6 address leave
//! from the uplink's IPv6 address on other ports of the range.

use std::time::Duration;

use ebpfnet_tests::ipv6_publish::echo_server6;
use ebpfnet_tests::outside6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

#[test]
fn nat66_masquerade_port_is_never_a_published_ipv6_port() {
    let env = TestEnv::new("masqp6");
    env.create_network("mp6", &["--ipv6"]);
    env.create_container("mp", &["--network", "mp6"]);
    env.create_container("mc", &["--network", "mp6"]);
    let _uplink6 = Uplink6::add(&env);
    let _server = echo_server6(&env.outside_ns, "outside", 9000);
    let ports = publish_masquerade_ports(&env, "[::]:", "mp");
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
    check_masquerade_ports(&replies, UPLINK6, ports, "NAT66 masquerade", |failed| {
        format!("flows failed: {failed:?}")
    });
}
