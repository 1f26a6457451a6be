//! `container_ingress` on crafted frames (BPF_PROG_TEST_RUN, no daemon):
//! anti-spoofing, isolation, internal networks (published ports of host
//! addresses included), what passes unchanged. The
//! program keys on `skb->ifindex`, so each test runs in a throwaway
//! namespace whose `d0` link stands for the container's host-side veth.
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_common::maps::{NETWORK_INTERNAL, proto};
use ebpfnet_tests::packet::{TCP_SYN, arp_request, ipv6_frame};
use ebpfnet_tests::testrun::CONTAINER_INGRESS;
use ebpfnet_tests::topology::{
    C2, C2_MAC, C3, C3_IFINDEX, C3_MAC, GW_MAC, HOST, OUTSIDE, from_c2, target, with_container,
};

#[test]
fn same_network_passes_unchanged() {
    with_container(0, |dp, ifindex| {
        let frame = from_c2(C3).tcp(40000, 80, TCP_SYN);
        dp.expect_pass(CONTAINER_INGRESS, &frame, Some(ifindex));
        let udp = from_c2(C3).udp(40000, 53, b"q", true);
        dp.expect_pass(CONTAINER_INGRESS, &udp, Some(ifindex));
        // IPv6 beyond the link is refused (packets_hardening has the rest).
        dp.expect_drop(
            CONTAINER_INGRESS,
            &ipv6_frame(C2_MAC, GW_MAC),
            Some(ifindex),
            DropReason::Ipv6Disabled,
        );
    });
}

#[test]
fn other_network_dropped_but_its_gateway_reachable() {
    with_container(0, |dp, ifindex| {
        let frame = from_c2([10, 215, 0, 2]).tcp(40000, 80, TCP_SYN);
        dp.expect_container_drop(ifindex, &frame, DropReason::Isolation);
        let gateway = from_c2([10, 215, 0, 1]).tcp(40000, 80, TCP_SYN);
        dp.expect_pass(CONTAINER_INGRESS, &gateway, Some(ifindex));
    });
}

#[test]
fn spoofed_ip_and_mac_dropped() {
    with_container(0, |dp, ifindex| {
        let mut b = from_c2(C3);
        b.src_ip = [10, 214, 0, 9];
        let frame = b.tcp(40000, 80, TCP_SYN);
        dp.expect_container_drop(ifindex, &frame, DropReason::SpoofedIp);
        let frame = from_c2(C3)
            .macs([0x02, 0x42, 0x0a, 0xd6, 0x00, 0x09], GW_MAC)
            .tcp(1, 80, 0);
        dp.expect_container_drop(ifindex, &frame, DropReason::SpoofedMac);
    });
}

#[test]
fn arp_must_be_honest() {
    with_container(0, |dp, ifindex| {
        let foreign_mac = [0x02, 0x42, 0x0a, 0xd6, 0x00, 0x09];
        let run = |frame: Vec<u8>, drop: bool| {
            if drop {
                dp.expect_container_drop(ifindex, &frame, DropReason::SpoofedArp);
            } else {
                dp.expect_pass(CONTAINER_INGRESS, &frame, Some(ifindex));
            }
        };
        run(arp_request(C2_MAC, C2_MAC, C2, C3), false);
        // Duplicate-address probe: sender IP 0.0.0.0.
        run(arp_request(C2_MAC, C2_MAC, [0; 4], C2), false);
        run(arp_request(C2_MAC, C2_MAC, [10, 214, 0, 1], C3), true);
        run(arp_request(C2_MAC, foreign_mac, C2, C3), true);
        // A foreign MAC on the frame itself is a spoofed MAC, whatever it
        // carries.
        let frame = arp_request(foreign_mac, C2_MAC, C2, C3);
        dp.expect_container_drop(ifindex, &frame, DropReason::SpoofedMac);
    });
}

#[test]
fn internal_network_cannot_leave() {
    with_container(NETWORK_INTERNAL, |dp, ifindex| {
        let frame = from_c2(OUTSIDE).tcp(40000, 443, TCP_SYN);
        dp.expect_container_drop(ifindex, &frame, DropReason::InternalNetwork);
        let ping = from_c2(OUTSIDE).icmp_echo(8, 7, 1);
        dp.expect_container_drop(ifindex, &ping, DropReason::InternalNetwork);
        // Its own network is still reachable.
        dp.expect_pass(
            CONTAINER_INGRESS,
            &from_c2(C3).tcp(40000, 80, TCP_SYN),
            Some(ifindex),
        );
        // A published port of a host address leads to another network's
        // container: refused, as Docker's internal-network rules drop what
        // its DNAT sends there; on the gateway too. The host's own
        // (unpublished) ports stay reachable.
        dp.publish([0; 4], 9090, proto::TCP, target(C3, 90, C3_IFINDEX, C3_MAC));
        for (host, port) in [(HOST, 8080), (HOST, 9090), ([10, 214, 0, 1], 9090)] {
            let published = from_c2(host).tcp(40001, port, TCP_SYN);
            dp.expect_container_drop(ifindex, &published, DropReason::InternalNetwork);
        }
        dp.expect_pass(
            CONTAINER_INGRESS,
            &from_c2(HOST).tcp(40002, 22, TCP_SYN),
            Some(ifindex),
        );
        assert!(
            dp.nat_entries().is_empty(),
            "no flow from an internal network"
        );
    });
}

#[test]
fn malformed_ipv4_from_container_dropped() {
    with_container(0, |dp, ifindex| {
        let frame = from_c2(C3).tcp(40000, 80, TCP_SYN);
        let cut = frame[..40].to_vec();
        dp.expect_container_drop(ifindex, &cut, DropReason::Malformed);
        let bad_ihl = from_c2(C3).version_ihl(0x44).tcp(40000, 80, TCP_SYN);
        dp.expect_container_drop(ifindex, &bad_ihl, DropReason::Malformed);
    });
}

#[test]
fn unknown_interface_passes_unchanged() {
    with_container(0, |dp, _ifindex| {
        // lo (index 1) is no endpoint: container_ingress leaves it alone.
        let mut b = from_c2(C3);
        b.src_ip = [10, 214, 0, 9];
        dp.expect_pass(CONTAINER_INGRESS, &b.tcp(40000, 80, TCP_SYN), None);
    });
}

/// The gateway of a network is a host address too: Docker answers a port
/// published on 0.0.0.0 there (`--dst-type LOCAL` DNAT), so the hairpin
/// must apply to C2's own gateway and to another network's gateway alike.
#[test]
fn multicast_and_broadcast_stay_on_the_link() {
    with_container(0, |dp, ifindex| {
        for dst in [[224, 0, 0, 251], [255, 255, 255, 255]] {
            let frame = from_c2(dst).udp(5353, 5353, b"m", true);
            dp.expect_pass(CONTAINER_INGRESS, &frame, Some(ifindex));
        }
    });
}
