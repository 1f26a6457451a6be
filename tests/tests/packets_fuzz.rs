//! Packet fuzzer: `uplink_ingress` and `container_ingress` get tens of
//! thousands of mutated frames each (BPF_PROG_TEST_RUN, seeded and so
//! replayable), over maps that hold a realistic setup, and every outcome is
//! checked against what must always hold:
//! (a) a changed IPv4 packet that was not dropped has valid IPv4 and L4
//!     checksums where the input's were valid;
//! (b) a frame is redirected only as a map entry allows: to a published
//!     port's target, to a container of the same network, or as a NAT
//!     entry of its flow translates it;
//! (c) no verdict outside the known set.
//! `EBPFNET_PACKET_FUZZ_SEED` and `EBPFNET_PACKET_FUZZ_FRAMES` replay or
//! extend a run. Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::maps::{Config, NatEntry, NatKind, proto};
use ebpfnet_tests::fuzzer::{self, Published, Rules};
use ebpfnet_tests::invariants::checksums_kept;
use ebpfnet_tests::mutate::{Interesting, fix_checksums};
use ebpfnet_tests::packet::{ICMP, Ipv4Builder, TCP_ACK, TCP_SYN, arp_request, ipv6_frame};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Datapath, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{
    C2, C2_IFINDEX, C2_MAC, C3, C3_IFINDEX, C3_MAC, CLIENT, HOST, OUTSIDE, add_networks, flow,
    from_c2, masquerade_reply_to_c2, published_reply, target, with_uplink,
};
use ebpfnet_tests::{require_root, serial};

/// Without a ctx the test run's skb comes from `lo`, index 1: the uplink.
const UPLINK_IFINDEX: u32 = 1;
const GATEWAYS: [[u8; 4]; 2] = [[10, 214, 0, 1], [10, 215, 0, 1]];

fn masquerade_reply(dst_port: u16, protocol_port: u16) -> NatEntry {
    masquerade_reply_to_c2(OUTSIDE, protocol_port, dst_port, C2_IFINDEX)
}

/// The uplink's maps: three published ports (one on every host address,
/// one on loopback) and replies of three masqueraded flows.
fn uplink_setup() -> (Datapath, Rules) {
    let mut dp = Datapath::load();
    add_networks(&mut dp, UPLINK_IFINDEX);
    let mut rules = Rules {
        program: UPLINK_INGRESS,
        ifindex: None,
        published: Vec::new(),
        host_addrs: [&[HOST][..], &GATEWAYS].concat(),
        same_network: Vec::new(),
        nat_kinds: &[NatKind::PublishedRequest, NatKind::MasqueradeReply],
    };
    let c2 = |port| target(C2, port, C2_IFINDEX, C2_MAC);
    rules.publish(&mut dp, HOST, 8080, proto::TCP, c2(80));
    rules.publish(&mut dp, HOST, 5353, proto::UDP, c2(53));
    rules.publish(&mut dp, [0; 4], 9090, proto::TCP, c2(80));
    rules.publish(&mut dp, [127, 0, 0, 1], 8081, proto::TCP, c2(81));
    // Replies of flows C2 started, masqueraded as HOST:61000-61002.
    dp.nat_insert(
        flow(OUTSIDE, 443, HOST, 61000, proto::TCP),
        masquerade_reply(45678, 443),
    );
    dp.nat_insert(
        flow(OUTSIDE, 53, HOST, 61002, proto::UDP),
        masquerade_reply(5300, 53),
    );
    dp.nat_insert(
        flow(OUTSIDE, 61001, HOST, 61001, proto::ICMP),
        masquerade_reply(7, 7),
    );
    (dp, rules)
}

#[test]
fn uplink_ingress_keeps_its_invariants_on_mutated_frames() {
    let _g = serial();
    require_root();
    let (mut dp, rules) = uplink_setup();
    let client = Ipv4Builder::new(CLIENT, HOST);
    let outside = Ipv4Builder::new(OUTSIDE, HOST);
    // "Port unreachable" from OUTSIDE about HOST:61002 → OUTSIDE:53.
    let inner = Ipv4Builder::new(HOST, OUTSIDE).udp(61002, 53, b"q", true);
    let mut unreachable = vec![3, 3, 0, 0, 0, 0, 0, 0];
    unreachable.extend_from_slice(&inner[14..14 + 28]);
    let csum = ebpfnet_tests::packet::internet_checksum(&unreachable, 0);
    unreachable[2..4].copy_from_slice(&csum.to_be_bytes());
    let bases = [
        ("published TCP SYN", client.tcp(40000, 8080, TCP_SYN)),
        (
            "published TCP ACK with options",
            client
                .clone()
                .options(&[1, 1, 1, 0])
                .tcp(40001, 8080, TCP_ACK),
        ),
        ("published UDP", client.udp(40002, 5353, b"query", true)),
        (
            "published UDP without checksum",
            client.udp(40003, 5353, b"query", false),
        ),
        ("wildcard-published TCP", client.tcp(40004, 9090, TCP_SYN)),
        (
            "masquerade TCP reply",
            outside.tcp(443, 61000, TCP_SYN | TCP_ACK),
        ),
        (
            "masquerade UDP reply",
            outside.udp(53, 61002, b"answer", true),
        ),
        ("masquerade echo reply", outside.icmp_echo(0, 61001, 1)),
        (
            "ICMP error about a masqueraded flow",
            outside.ipv4(ICMP, &unreachable),
        ),
        (
            "TCP straight to a container",
            Ipv4Builder::new(CLIENT, C2).tcp(40005, 80, TCP_SYN),
        ),
        (
            "TCP to loopback",
            Ipv4Builder::new(CLIENT, [127, 0, 0, 1]).tcp(40006, 8081, TCP_SYN),
        ),
        (
            "fragment",
            client.clone().frag(0x2000).udp(40007, 5353, b"x", true),
        ),
        (
            "ARP",
            arp_request([2, 0, 0, 0, 0, 0xaa], [2, 0, 0, 0, 0, 0xaa], CLIENT, HOST),
        ),
        ("IPv6", ipv6_frame([2, 0, 0, 0, 0, 0xaa], C2_MAC)),
    ];
    let interesting = Interesting {
        addrs: vec![
            HOST,
            CLIENT,
            OUTSIDE,
            C2,
            C3,
            GATEWAYS[0],
            [127, 0, 0, 1],
            [255; 4],
            [0; 4],
        ],
        ports: vec![8080, 5353, 9090, 8081, 61000, 61001, 61002, 443, 53, 80, 0],
    };
    fuzzer::run(&mut dp, &rules, &bases, &interesting);
}

#[test]
fn container_ingress_keeps_its_invariants_on_mutated_frames() {
    // C2 (network 1) behind d0; d1 is the uplink HOST routes out of.
    with_uplink(0, |dp, d0, uplink| {
        dp.set_config(Config {
            masq_port_min: 61000,
            masq_port_max: 61100,
            ..Default::default()
        });
        dp.add_endpoint_ip(C2, d0, C2_MAC);
        dp.add_endpoint_ip(C3, C3_IFINDEX, C3_MAC);
        let mut rules = Rules {
            program: CONTAINER_INGRESS,
            ifindex: Some(d0),
            // with_uplink published HOST:8080/tcp → C3:80.
            published: vec![Published {
                host_ip: HOST,
                port: 8080,
                protocol: proto::TCP,
                target: target(C3, 80, C3_IFINDEX, C3_MAC),
            }],
            host_addrs: [&[HOST][..], &GATEWAYS].concat(),
            same_network: vec![C2, C3],
            nat_kinds: &[
                NatKind::PublishedRequest,
                NatKind::PublishedReply,
                NatKind::MasqueradeRequest,
            ],
        };
        let c3 = |port| target(C3, port, C3_IFINDEX, C3_MAC);
        rules.publish(dp, [0; 4], 9090, proto::TCP, c3(80));
        rules.publish(dp, HOST, 5353, proto::UDP, c3(53));
        // C2 serves a published port: its replies to CLIENT:40000 leave as HOST:8082.
        let reply = published_reply(8082, CLIENT, 40000, uplink);
        dp.nat_insert(flow(C2, 80, CLIENT, 40000, proto::TCP), reply);

        let bases = [
            (
                "hairpin to a published port",
                from_c2(HOST).tcp(40010, 8080, TCP_SYN),
            ),
            (
                "hairpin via a gateway",
                from_c2(GATEWAYS[1]).tcp(40011, 9090, TCP_SYN),
            ),
            (
                "hairpin UDP",
                from_c2(HOST).udp(40012, 5353, b"query", true),
            ),
            (
                "published reply",
                from_c2(CLIENT).tcp(80, 40000, TCP_SYN | TCP_ACK),
            ),
            ("masquerade TCP", from_c2(OUTSIDE).tcp(40013, 443, TCP_SYN)),
            (
                "masquerade UDP",
                from_c2(OUTSIDE).udp(40014, 53, b"query", true),
            ),
            (
                "masquerade UDP without checksum",
                from_c2(OUTSIDE).udp(40015, 53, b"q", false),
            ),
            ("masquerade ping", from_c2(OUTSIDE).icmp_echo(8, 7, 1)),
            ("same network", from_c2(C3).tcp(40016, 80, TCP_SYN)),
            (
                "other network",
                from_c2([10, 215, 0, 5]).tcp(40017, 80, TCP_SYN),
            ),
            (
                "DNS to the gateway",
                from_c2(GATEWAYS[0]).udp(40018, 53, b"query", true),
            ),
            (
                "spoofed source",
                Ipv4Builder::new(C3, OUTSIDE)
                    .macs(C2_MAC, [2, 0x42, 10, 214, 0, 1])
                    .tcp(1, 443, TCP_SYN),
            ),
            ("ARP", arp_request(C2_MAC, C2_MAC, C2, GATEWAYS[0])),
            ("IPv6", ipv6_frame(C2_MAC, [2, 0x42, 10, 214, 0, 1])),
        ];
        let interesting = Interesting {
            addrs: vec![
                C2,
                C3,
                HOST,
                CLIENT,
                OUTSIDE,
                GATEWAYS[0],
                GATEWAYS[1],
                [10, 215, 0, 5],
                [224, 0, 0, 1],
                [255; 4],
            ],
            ports: vec![8080, 9090, 5353, 8082, 40000, 443, 80, 53, 61000, 0],
        };
        fuzzer::run(dp, &rules, &bases, &interesting);
    });
}

/// The checks themselves: a translation the maps allow passes them; a
/// wrong destination or a broken checksum in the same output does not.
#[test]
fn the_checks_catch_a_wrong_translation() {
    let _g = serial();
    require_root();
    let (mut dp, rules) = uplink_setup();
    let syn = Ipv4Builder::new(CLIENT, HOST).tcp(40100, 8080, TCP_SYN);
    let outcome = dp.run(UPLINK_INGRESS, &syn, None);
    assert_eq!(outcome.verdict, TC_ACT_REDIRECT);
    let good = outcome.out;
    assert_eq!(rules.redirect_allowed(&mut dp, &syn, &good), Ok(()));
    assert_eq!(checksums_kept(&syn, TC_ACT_REDIRECT, &good), Ok(()));

    let mut elsewhere = good.clone();
    elsewhere[30..34].copy_from_slice(&C3); // the destination address
    fix_checksums(&mut elsewhere);
    assert!(rules.redirect_allowed(&mut dp, &syn, &elsewhere).is_err());
    let mut other_port = good.clone();
    other_port[36..38].copy_from_slice(&81u16.to_be_bytes());
    fix_checksums(&mut other_port);
    assert!(rules.redirect_allowed(&mut dp, &syn, &other_port).is_err());

    let mut bad_ip_sum = good.clone();
    bad_ip_sum[24] ^= 0xff;
    assert!(checksums_kept(&syn, TC_ACT_REDIRECT, &bad_ip_sum).is_err());
    let mut bad_tcp_sum = good.clone();
    bad_tcp_sum[50] ^= 0x01;
    assert!(checksums_kept(&syn, TC_ACT_REDIRECT, &bad_tcp_sum).is_err());
}
