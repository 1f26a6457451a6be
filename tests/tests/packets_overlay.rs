//! The overlay parts of the datapath on crafted frames
//! (BPF_PROG_TEST_RUN, no daemon): a container's ARP request for a
//! container of its overlay network on another host is answered in place
//! with that container's MAC (and not for one of another network); its
//! packets to such a container get the remote MAC and are redirected
//! (to the VXLAN device, with the tunnel key set); a frame on the VXLAN
//! device without tunnel metadata is dropped and counted. The end-to-end
//! path through a real VXLAN device is in `overlay.rs`.

use ebpfnet_common::DropReason;
use ebpfnet_tests::packet::{UDP, View, arp_request};
use ebpfnet_tests::testrun::{CONTAINER_INGRESS, OVERLAY_INGRESS, TC_ACT_REDIRECT};
use ebpfnet_tests::topology::{C2, C2_MAC, from_c2, with_container};

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
