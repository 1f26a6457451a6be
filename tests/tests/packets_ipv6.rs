//! `container_ingress` on crafted IPv6 frames (BPF_PROG_TEST_RUN, no
//! daemon): on a network with IPv6 a container sends from its own global
//! and link-local addresses only, reaches its network's containers
//! directly and no other network, and its neighbour discovery claims
//! nothing that is not its own. Run as root: the tests fail (never skip)
//! otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_tests::packet::View;
use ebpfnet_tests::packet6::{
    ALL_NODES, ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMPV6_NEIGHBOR_SOLICITATION,
    icmpv6_frame, link_local, neighbor_body, solicited_node,
};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Datapath, TC_ACT_REDIRECT, UPLINK_INGRESS};
use ebpfnet_tests::topology::{C2_MAC, C3_IFINDEX, C3_MAC, GW_MAC, with_container};

/// fd00:e1::/64 is network 1's (C2's), fd00:e2::/64 network 2's.
const fn v6(net: u8, host: u8) -> [u8; 16] {
    [
        0xfd,
        0,
        0xe0 | net,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        0,
        host,
    ]
}
const C2_V6: [u8; 16] = v6(1, 2);
const C3_V6: [u8; 16] = v6(1, 3);
const GATEWAY_V6: [u8; 16] = v6(1, 1);
const OTHER_NETWORK_V6: [u8; 16] = v6(2, 2);
const OUTSIDE_V6: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9];

/// C2 behind `ifindex` on dual-stack network 1, C3 beside it, network 2
/// with IPv6 too.
fn dual_stack(dp: &mut Datapath, ifindex: u32) {
    for net in [1u8, 2] {
        dp.add_plain_network6(u32::from(net), v6(net, 0), v6(net, 1));
    }
    dp.add_container6(ifindex, C2_V6, C2_MAC);
    dp.add_endpoint_ip6(C3_V6, C3_IFINDEX, C3_MAC);
}

fn echo(src: [u8; 16], dst: [u8; 16]) -> Vec<u8> {
    icmpv6_frame(
        (C2_MAC, GW_MAC),
        src,
        dst,
        ICMPV6_ECHO_REQUEST,
        &[0, 1, 0, 1],
        false,
    )
}

#[test]
fn a_container_reaches_its_network_by_ipv6_and_nothing_beyond() {
    with_container(0, |dp, ifindex| {
        dual_stack(dp, ifindex);
        // Straight into C3, with C3's MAC.
        let outcome = dp.run(CONTAINER_INGRESS, &echo(C2_V6, C3_V6), Some(ifindex));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "to C3");
        assert_eq!(View(&outcome.out).dst_mac(), C3_MAC);
        // The gateway is the host's, reached over the bridge.
        dp.expect_pass(CONTAINER_INGRESS, &echo(C2_V6, GATEWAY_V6), Some(ifindex));
        dp.expect_drop(
            CONTAINER_INGRESS,
            &echo(C2_V6, OTHER_NETWORK_V6),
            Some(ifindex),
            DropReason::Isolation,
        );
        // Beyond its networks: the NAT66 program, by tail call; with its
        // slot empty (this harness fills no `TAIL_CALLS`), dropped, never
        // passed on with the container's own address (nat66.rs runs it).
        dp.expect_drop(
            CONTAINER_INGRESS,
            &echo(C2_V6, OUTSIDE_V6),
            Some(ifindex),
            DropReason::Untranslatable,
        );
        // From its link-local address, nothing leaves its link.
        dp.expect_drop(
            CONTAINER_INGRESS,
            &echo(link_local(C2_MAC), OUTSIDE_V6),
            Some(ifindex),
            DropReason::Ipv6Disabled,
        );
        // Link-local to link-local stays on the link.
        dp.expect_pass(
            CONTAINER_INGRESS,
            &echo(link_local(C2_MAC), link_local(C3_MAC)),
            Some(ifindex),
        );
    });
}

#[test]
fn a_container_sends_only_from_its_own_ipv6_addresses() {
    with_container(0, |dp, ifindex| {
        dual_stack(dp, ifindex);
        for (src, dst) in [
            (C3_V6, GATEWAY_V6),
            (v6(1, 99), C3_V6),
            (link_local(C3_MAC), link_local(C3_MAC)),
        ] {
            dp.expect_drop(
                CONTAINER_INGRESS,
                &echo(src, dst),
                Some(ifindex),
                DropReason::SpoofedIp,
            );
        }
        // Without IPv6 on the network, its link-local address still may
        // not be a neighbour's.
        let mut plain = Datapath::load();
        plain.add_endpoint(
            ifindex,
            ebpfnet_common::maps::EndpointInfo {
                mac: C2_MAC,
                network_id: 1,
                ..Default::default()
            },
        );
        plain.expect_drop(
            CONTAINER_INGRESS,
            &echo(link_local(C3_MAC), link_local(C3_MAC)),
            Some(ifindex),
            DropReason::SpoofedIp,
        );
    });
}

#[test]
fn neighbour_discovery_claims_only_what_is_the_containers() {
    with_container(0, |dp, ifindex| {
        dual_stack(dp, ifindex);
        let own_ll = link_local(C2_MAC);
        let nd = |src: [u8; 16], dst: [u8; 16], kind: u8, body: Vec<u8>| {
            icmpv6_frame((C2_MAC, GW_MAC), src, dst, kind, &body, false)
        };
        // Unsolicited, to every node on the link.
        let advert = |target, mac| {
            nd(
                own_ll,
                ALL_NODES,
                ICMPV6_NEIGHBOR_ADVERTISEMENT,
                neighbor_body(0x60, target, Some((2, mac))),
            )
        };
        let solicit = |src, target, mac| {
            let option = (src != [0; 16]).then_some((1, mac));
            nd(
                src,
                solicited_node(target),
                ICMPV6_NEIGHBOR_SOLICITATION,
                neighbor_body(0, target, option),
            )
        };
        let spoofed = DropReason::SpoofedNeighbor;
        // Advertising its own addresses with its own MAC: fine.
        dp.expect_pass(CONTAINER_INGRESS, &advert(C2_V6, C2_MAC), Some(ifindex));
        dp.expect_pass(CONTAINER_INGRESS, &advert(own_ll, C2_MAC), Some(ifindex));
        // A neighbour's address, or its own with another MAC: refused.
        let attacks = [
            advert(C3_V6, C2_MAC),
            advert(GATEWAY_V6, C2_MAC),
            advert(C2_V6, C3_MAC),
            solicit(own_ll, C3_V6, C3_MAC),
            // A duplicate address probe for a neighbour's address would
            // make the neighbour give it up.
            solicit([0; 16], C3_V6, C2_MAC),
        ];
        for (i, frame) in attacks.iter().enumerate() {
            let before = dp.drops(spoofed);
            dp.expect_container_drop(ifindex, frame, spoofed);
            assert_eq!(dp.drops(spoofed), before + 1, "attack {i}");
        }
        // Asking for a neighbour, and probing its own address: fine.
        dp.expect_pass(
            CONTAINER_INGRESS,
            &solicit(own_ll, C3_V6, C2_MAC),
            Some(ifindex),
        );
        dp.expect_pass(
            CONTAINER_INGRESS,
            &solicit([0; 16], C2_V6, C2_MAC),
            Some(ifindex),
        );
    });
}

#[test]
fn from_an_uplink_no_ipv6_reaches_containers_or_loopback() {
    with_container(0, |dp, ifindex| {
        dual_stack(dp, ifindex);
        let from_outside = |src, dst| {
            icmpv6_frame(
                ([0x02, 0, 0, 0, 0, 9], GW_MAC),
                src,
                dst,
                ICMPV6_ECHO_REQUEST,
                &[0, 1, 0, 1],
                false,
            )
        };
        let host_v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        let mut loopback = [0u8; 16];
        loopback[15] = 1;
        for (src, dst, reason) in [
            (OUTSIDE_V6, loopback, DropReason::LoopbackFromUplink),
            (OUTSIDE_V6, C3_V6, DropReason::Unsolicited),
            (OUTSIDE_V6, v6(2, 7), DropReason::Unsolicited),
            (C3_V6, host_v6, DropReason::SpoofedIp),
        ] {
            dp.expect_drop(UPLINK_INGRESS, &from_outside(src, dst), None, reason);
        }
        // The host's own IPv6 traffic is the host's.
        dp.expect_pass(UPLINK_INGRESS, &from_outside(OUTSIDE_V6, host_v6), None);
    });
}
