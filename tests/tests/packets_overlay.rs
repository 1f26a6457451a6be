//! The overlay parts of the datapath on crafted frames
//! (BPF_PROG_TEST_RUN, no daemon): a container's ARP request for a
//! container of its overlay network on another host is answered in place
//! with that container's MAC (and not for one of another network); its
//! packets to such a container get the remote MAC and are redirected
//! (to the VXLAN device, with the tunnel key set); a frame on the VXLAN
//! device without tunnel metadata is dropped and counted. On a dual-stack
//! overlay network the same for IPv6: a neighbour solicitation for a
//! remote container is answered in place with a solicited advertisement
//! (checksum and all), and IPv6 packets to it are redirected with its MAC.
//! The end-to-end path through a real VXLAN device is in `overlay.rs` and
//! `overlay6.rs`.

use ebpfnet_common::DropReason;
use ebpfnet_tests::packet::{UDP, View, arp_request};
use ebpfnet_tests::packet6::{
    ICMPV6_ECHO_REQUEST, ICMPV6_NEIGHBOR_ADVERTISEMENT, ICMPV6_NEIGHBOR_SOLICITATION, icmpv6_frame,
    neighbor_body, solicited_node,
};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, Datapath, OVERLAY_INGRESS, TC_ACT_REDIRECT};
use ebpfnet_tests::topology::{C2, C2_MAC, GW_MAC, from_c2, with_container};

/// A container of network 1 (10.214.0.0/16) on the host 198.18.0.2.
const REMOTE: [u8; 4] = [10, 214, 7, 9];
const REMOTE_MAC: [u8; 6] = [0x02, 0x42, 10, 214, 7, 9];
const REMOTE_HOST: [u8; 4] = [198, 18, 0, 2];
/// A container of network 2 (10.215.0.0/16) on that host.
const OTHER: [u8; 4] = [10, 215, 7, 9];
const OTHER_MAC: [u8; 6] = [0x02, 0x42, 10, 215, 7, 9];
const VNI: u32 = 4096;

#[test]
fn arp_for_a_remote_container_is_answered_with_its_mac() {
    with_container(0, |dp, d0| {
        dp.add_overlay_network(1, VNI, d0);
        dp.add_overlay_peer(1, REMOTE, REMOTE_MAC, REMOTE_HOST);
        dp.add_overlay_peer(2, OTHER, OTHER_MAC, REMOTE_HOST);
        let request = arp_request(C2_MAC, C2_MAC, C2, REMOTE);
        let outcome = dp.run(CONTAINER_INGRESS, &request, Some(d0));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "ARP not answered");
        let reply = View(&outcome.out);
        assert_eq!(reply.dst_mac(), C2_MAC);
        assert_eq!(reply.src_mac(), REMOTE_MAC);
        let arp = &outcome.out[14..];
        assert_eq!(&arp[6..8], &[0, 2], "not an ARP reply");
        assert_eq!(&arp[8..14], &REMOTE_MAC, "sender MAC");
        assert_eq!(&arp[14..18], &REMOTE, "sender IP");
        assert_eq!(&arp[18..24], &C2_MAC, "target MAC");
        assert_eq!(&arp[24..28], &C2, "target IP");
        // Another network's container, and an address nobody has: the
        // request takes the bridge unanswered.
        dp.expect_pass(
            CONTAINER_INGRESS,
            &arp_request(C2_MAC, C2_MAC, C2, OTHER),
            Some(d0),
        );
        let nobody = [10, 214, 7, 10];
        dp.expect_pass(
            CONTAINER_INGRESS,
            &arp_request(C2_MAC, C2_MAC, C2, nobody),
            Some(d0),
        );
    });
}

#[test]
fn packets_for_a_remote_container_are_redirected_with_its_mac() {
    with_container(0, |dp, d0| {
        dp.add_overlay_network(1, VNI, d0);
        dp.add_overlay_peer(1, REMOTE, REMOTE_MAC, REMOTE_HOST);
        let frame = from_c2(REMOTE).udp(4000, 53, b"q", true);
        let outcome = dp.run(CONTAINER_INGRESS, &frame, Some(d0));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "not encapsulated");
        let out = View(&outcome.out);
        assert_eq!(out.dst_mac(), REMOTE_MAC);
        assert_eq!(out.src_mac(), C2_MAC);
        assert_eq!((out.src_ip(), out.dst_ip()), (C2, REMOTE));
        assert_eq!(out.protocol(), UDP);
        assert_eq!(
            &outcome.out[14..],
            &frame[14..],
            "the IP packet was changed"
        );
        // Isolation holds before the overlay: network 2's container is
        // not reachable from network 1, even with a peer entry.
        dp.add_overlay_peer(2, OTHER, OTHER_MAC, REMOTE_HOST);
        let frame = from_c2(OTHER).udp(4000, 53, b"q", true);
        dp.expect_drop(CONTAINER_INGRESS, &frame, Some(d0), DropReason::Isolation);
    });
}

#[test]
fn a_frame_without_tunnel_metadata_is_dropped_on_the_vxlan_device() {
    with_container(0, |dp, d0| {
        dp.add_overlay_network(1, VNI, d0);
        dp.add_overlay_peer(1, REMOTE, REMOTE_MAC, REMOTE_HOST);
        dp.add_endpoint_ip(C2, d0, C2_MAC);
        let frame = ebpfnet_tests::packet::Ipv4Builder::new(REMOTE, C2)
            .macs(REMOTE_MAC, C2_MAC)
            .udp(53, 4000, b"a", true);
        dp.expect_drop(
            OVERLAY_INGRESS,
            &frame,
            Some(d0),
            DropReason::OverlayUnknownVni,
        );
    });
}

/// fd00:e1::/64 is network 1's IPv6 subnet, fd00:e2::/64 network 2's.
const fn v6(net: u8, host: u8) -> [u8; 16] {
    let mut ip = [0u8; 16];
    ip[0] = 0xfd;
    ip[2] = 0xe0 | net;
    ip[15] = host;
    ip
}
const C2_V6: [u8; 16] = v6(1, 2);
const REMOTE_V6: [u8; 16] = v6(1, 9);
const OTHER_V6: [u8; 16] = v6(2, 9);

/// C2 (behind `ifindex`) on dual-stack overlay network 1 with a remote
/// container at `REMOTE_V6`; network 2 is an overlay network too, with
/// one at `OTHER_V6`.
fn dual_stack_overlay(dp: &mut Datapath, ifindex: u32) {
    for net in [1u8, 2] {
        dp.add_plain_network6(u32::from(net), v6(net, 0), v6(net, 1));
    }
    dp.add_container6(ifindex, C2_V6, C2_MAC);
    dp.add_overlay_network(1, VNI, ifindex);
    dp.add_overlay_peer6(1, REMOTE_V6, REMOTE_MAC, REMOTE_HOST);
    dp.add_overlay_peer6(2, OTHER_V6, OTHER_MAC, REMOTE_HOST);
}

/// A solicitation from C2 for `target`, multicast (to its solicited-node
/// group) or unicast (to `target` itself, as neighbour unreachability
/// detection sends).
fn solicitation(target: [u8; 16], multicast: bool) -> Vec<u8> {
    let (dst, dst_mac) = if multicast {
        let group = solicited_node(target);
        (
            group,
            [0x33, 0x33, group[12], group[13], group[14], group[15]],
        )
    } else {
        (target, REMOTE_MAC)
    };
    icmpv6_frame(
        (C2_MAC, dst_mac),
        C2_V6,
        dst,
        ICMPV6_NEIGHBOR_SOLICITATION,
        &neighbor_body(0, target, Some((1, C2_MAC))),
        false,
    )
}

#[test]
fn a_solicitation_for_a_remote_ipv6_container_is_answered_with_its_mac() {
    with_container(0, |dp, d0| {
        dual_stack_overlay(dp, d0);
        // What the remote container itself would answer: a solicited,
        // overriding advertisement from its address with its MAC.
        let expected = icmpv6_frame(
            (REMOTE_MAC, C2_MAC),
            REMOTE_V6,
            C2_V6,
            ICMPV6_NEIGHBOR_ADVERTISEMENT,
            &neighbor_body(0x60, REMOTE_V6, Some((2, REMOTE_MAC))),
            false,
        );
        for multicast in [true, false] {
            let outcome = dp.run(
                CONTAINER_INGRESS,
                &solicitation(REMOTE_V6, multicast),
                Some(d0),
            );
            assert_eq!(
                outcome.verdict, TC_ACT_REDIRECT,
                "not answered (multicast {multicast})"
            );
            assert_eq!(
                outcome.out, expected,
                "the advertisement (multicast {multicast}), checksum included"
            );
        }
        // Another network's container, and an address nobody has: the
        // solicitation takes the bridge unanswered.
        for target in [OTHER_V6, v6(1, 10)] {
            dp.expect_pass(CONTAINER_INGRESS, &solicitation(target, true), Some(d0));
        }
    });
}

#[test]
fn ipv6_packets_for_a_remote_container_are_redirected_with_its_mac() {
    with_container(0, |dp, d0| {
        dual_stack_overlay(dp, d0);
        let echo = |dst: [u8; 16], dst_mac: [u8; 6]| {
            icmpv6_frame(
                (C2_MAC, dst_mac),
                C2_V6,
                dst,
                ICMPV6_ECHO_REQUEST,
                &[0, 1, 0, 1],
                false,
            )
        };
        let frame = echo(REMOTE_V6, GW_MAC);
        let outcome = dp.run(CONTAINER_INGRESS, &frame, Some(d0));
        assert_eq!(outcome.verdict, TC_ACT_REDIRECT, "not encapsulated");
        let out = View(&outcome.out);
        assert_eq!(out.dst_mac(), REMOTE_MAC);
        assert_eq!(out.src_mac(), C2_MAC);
        assert_eq!(
            &outcome.out[14..],
            &frame[14..],
            "the IPv6 packet was changed"
        );
        // Isolation holds before the overlay, for IPv6 too.
        dp.expect_drop(
            CONTAINER_INGRESS,
            &echo(OTHER_V6, GW_MAC),
            Some(d0),
            DropReason::Isolation,
        );
    });
}
