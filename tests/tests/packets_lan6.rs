//! `lan_parent_egress` on crafted IPv6 frames (BPF_PROG_TEST_RUN, no
//! daemon): on a macvlan network's parent, a container's MAC sends IPv6
//! from its own link-local and global addresses only, its neighbour
//! discovery claims only what is its own, it sends no router
//! advertisement or redirect, and a container's IPv6 address comes from
//! its MAC only; the host's own IPv6 passes. Run as root: the tests fail
//! (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_tests::packet6::*;
use ebpfnet_tests::testrun::{Datapath, LAN_PARENT_EGRESS};
use ebpfnet_tests::topology::with_uplink;

const A_MAC: [u8; 6] = [0x02, 0x42, 192, 0, 2, 2];
const B_MAC: [u8; 6] = [0x02, 0x42, 192, 0, 2, 3];
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const FORGED_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x77];

const fn lan6(host: u8) -> [u8; 16] {
    [
        0x20, 0x01, 0x0d, 0xb8, 0, 0xe9, 0, 0, 0, 0, 0, 0, 0, 0, 0, host,
    ]
}
const A6: [u8; 16] = lan6(2);
const B6: [u8; 16] = lan6(3);
const ROUTER6: [u8; 16] = lan6(1);
const HOST6: [u8; 16] = lan6(0xfe);

fn echo(mac: [u8; 6], src: [u8; 16]) -> Vec<u8> {
    icmpv6_frame(
        (mac, ROUTER_MAC),
        src,
        ROUTER6,
        ICMPV6_ECHO_REQUEST,
        &[0, 1, 0, 1],
        false,
    )
}

fn advertisement(mac: [u8; 6], target: [u8; 16], option_mac: [u8; 6]) -> Vec<u8> {
    let body = neighbor_body(0x20, target, Some((2, option_mac)));
    let macs = (mac, multicast_mac(ALL_NODES));
    icmpv6_frame(
        macs,
        link_local(mac),
        ALL_NODES,
        ICMPV6_NEIGHBOR_ADVERTISEMENT,
        &body,
        false,
    )
}

/// `test(dp, parent)` with dual-stack containers A and B on `parent`.
fn with_lan6(test: impl FnOnce(&mut Datapath, u32) + Send) {
    with_uplink(0, |dp, parent, _| {
        dp.add_lan_host(parent, A_MAC, [192, 0, 2, 2]);
        dp.add_lan_host(parent, B_MAC, [192, 0, 2, 3]);
        dp.add_lan_host6(parent, A_MAC, A6);
        dp.add_lan_host6(parent, B_MAC, B6);
        test(dp, parent);
    });
}

#[test]
fn ipv6_from_a_macvlan_container_carries_its_own_addresses() {
    with_lan6(|dp, parent| {
        let at = Some(parent);
        let refused = |frame: &[u8], reason| dp.expect_drop(LAN_PARENT_EGRESS, frame, at, reason);
        dp.expect_pass(LAN_PARENT_EGRESS, &echo(A_MAC, A6), at);
        dp.expect_pass(LAN_PARENT_EGRESS, &echo(A_MAC, link_local(A_MAC)), at);
        refused(&echo(A_MAC, B6), DropReason::SpoofedIp);
        refused(&echo(A_MAC, link_local(B_MAC)), DropReason::SpoofedIp);
        refused(&echo(A_MAC, HOST6), DropReason::SpoofedIp);
        // Another container's addresses from a MAC that is nobody's.
        refused(&echo(FORGED_MAC, B6), DropReason::SpoofedIp);
        refused(&echo(FORGED_MAC, link_local(B_MAC)), DropReason::SpoofedIp);
        // The host's own IPv6 on the parent.
        dp.expect_pass(LAN_PARENT_EGRESS, &echo(HOST_MAC, HOST6), at);
        dp.expect_pass(LAN_PARENT_EGRESS, &echo(HOST_MAC, link_local(HOST_MAC)), at);
    });
}

#[test]
fn neighbour_discovery_and_router_messages_from_a_macvlan_container() {
    with_lan6(|dp, parent| {
        let at = Some(parent);
        let refused = |frame: &[u8], reason| dp.expect_drop(LAN_PARENT_EGRESS, frame, at, reason);
        dp.expect_pass(LAN_PARENT_EGRESS, &advertisement(A_MAC, A6, A_MAC), at);
        refused(
            &advertisement(A_MAC, B6, A_MAC),
            DropReason::SpoofedNeighbor,
        );
        refused(
            &advertisement(A_MAC, A6, B_MAC),
            DropReason::SpoofedNeighbor,
        );
        // A duplicate-address probe for its own address, not another's.
        let probe = |target| {
            let group = solicited_node(target);
            let body = neighbor_body(0, target, None);
            let macs = (A_MAC, multicast_mac(group));
            icmpv6_frame(
                macs,
                [0; 16],
                group,
                ICMPV6_NEIGHBOR_SOLICITATION,
                &body,
                false,
            )
        };
        dp.expect_pass(LAN_PARENT_EGRESS, &probe(A6), at);
        refused(&probe(B6), DropReason::SpoofedNeighbor);
        let prefix = [0x20, 0x01, 0x0d, 0xb8, 0, 0x66, 0, 0];
        for frame in router_messages(A_MAC, prefix, ROUTER6) {
            refused(&frame, DropReason::RouterAdvertisement);
        }
    });
}
