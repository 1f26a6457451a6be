//! `lan_parent_egress` on crafted frames (BPF_PROG_TEST_RUN, no daemon):
//! on a macvlan network's parent, a container's MAC sends its own address
//! only, and a container's address comes from its MAC only; the host's
//! own frames (unknown MAC and address) and other protocols pass
//! unchanged. Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_tests::packet::{Ipv4Builder, arp_request, ethernet};
use ebpfnet_tests::testrun::{Datapath, LAN_PARENT_EGRESS};
use ebpfnet_tests::topology::with_uplink;

const A: [u8; 4] = [192, 0, 2, 2];
const A_MAC: [u8; 6] = [0x02, 0x42, 192, 0, 2, 2];
const B: [u8; 4] = [192, 0, 2, 3];
const B_MAC: [u8; 6] = [0x02, 0x42, 192, 0, 2, 3];
const ROUTER: [u8; 4] = [192, 0, 2, 1];
const ROUTER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
/// The host's own address and MAC on the parent: in no map.
const HOST: [u8; 4] = [192, 0, 2, 254];
const HOST_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0xfe];
const FORGED_MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x77];

fn udp(mac: [u8; 6], src: [u8; 4]) -> Vec<u8> {
    Ipv4Builder::new(src, ROUTER)
        .macs(mac, ROUTER_MAC)
        .udp(4000, 53, b"q", true)
}

/// `test(dp, parent, other_parent)` with containers A and B on `parent`.
fn with_lan(test: impl FnOnce(&mut Datapath, u32, u32) + Send) {
    with_uplink(0, |dp, parent, other| {
        dp.add_lan_host(parent, A_MAC, A);
        dp.add_lan_host(parent, B_MAC, B);
        test(dp, parent, other);
    });
}

#[test]
fn ipv4_from_a_container_carries_its_own_address() {
    with_lan(|dp, parent, other| {
        let at = Some(parent);
        dp.expect_pass(LAN_PARENT_EGRESS, &udp(A_MAC, A), at);
        dp.expect_pass(LAN_PARENT_EGRESS, &udp(HOST_MAC, HOST), at);
        dp.expect_drop(
            LAN_PARENT_EGRESS,
            &udp(A_MAC, HOST),
            at,
            DropReason::SpoofedIp,
        );
        dp.expect_drop(LAN_PARENT_EGRESS, &udp(A_MAC, B), at, DropReason::SpoofedIp);
        dp.expect_drop(
            LAN_PARENT_EGRESS,
            &udp(FORGED_MAC, B),
            at,
            DropReason::SpoofedIp,
        );
        dp.expect_drop(
            LAN_PARENT_EGRESS,
            &udp(HOST_MAC, A),
            at,
            DropReason::SpoofedIp,
        );
        // What a forged MAC with an address no container has looks like:
        // the host's own; it passes (docs/drivers.md).
        dp.expect_pass(LAN_PARENT_EGRESS, &udp(FORGED_MAC, HOST), at);
        // The maps are per parent: on another interface A's MAC is nobody's.
        dp.expect_pass(LAN_PARENT_EGRESS, &udp(A_MAC, HOST), Some(other));
    });
}

#[test]
fn arp_from_a_container_announces_itself_only() {
    with_lan(|dp, parent, _| {
        let at = Some(parent);
        dp.expect_pass(LAN_PARENT_EGRESS, &arp_request(A_MAC, A_MAC, A, ROUTER), at);
        // A duplicate-address probe.
        let probe = arp_request(A_MAC, A_MAC, [0; 4], ROUTER);
        dp.expect_pass(LAN_PARENT_EGRESS, &probe, at);
        dp.expect_pass(
            LAN_PARENT_EGRESS,
            &arp_request(HOST_MAC, HOST_MAC, HOST, ROUTER),
            at,
        );
        for (frame, what) in [
            (arp_request(A_MAC, A_MAC, B, ROUTER), "claims B's address"),
            (
                arp_request(A_MAC, B_MAC, A, ROUTER),
                "names B's MAC as sender",
            ),
            (
                arp_request(A_MAC, A_MAC, HOST, ROUTER),
                "claims the host's address",
            ),
            (
                arp_request(FORGED_MAC, FORGED_MAC, B, ROUTER),
                "a stranger claims B's",
            ),
        ] {
            let before = dp.drops(DropReason::SpoofedArp);
            let outcome = dp.run(LAN_PARENT_EGRESS, &frame, at);
            assert_eq!(
                outcome.verdict,
                ebpfnet_tests::testrun::TC_ACT_SHOT,
                "ARP that {what}"
            );
            assert_eq!(dp.drops(DropReason::SpoofedArp), before + 1, "{what}");
        }
    });
}

#[test]
fn short_frames_and_other_protocols() {
    with_lan(|dp, parent, _| {
        let at = Some(parent);
        // ARP with no room for the sender: a container's is malformed, the
        // host's is not this program's call. (The kernel's test run takes
        // no IPv4 frame shorter than an IPv4 header.)
        let short = |mac| ethernet([0xff; 6], mac, 0x0806, &[0, 1, 8, 0, 6, 4, 0, 1]);
        dp.expect_drop(LAN_PARENT_EGRESS, &short(A_MAC), at, DropReason::Malformed);
        dp.expect_pass(LAN_PARENT_EGRESS, &short(HOST_MAC), at);
        // IPv6 is checked too (packets_lan6.rs): from a container's MAC
        // with an address not its own it is refused, the host's passes.
        let ipv6 = |mac| ethernet([0x33, 0x33, 0, 0, 0, 1], mac, 0x86dd, &[0x60; 40]);
        dp.expect_drop(LAN_PARENT_EGRESS, &ipv6(A_MAC), at, DropReason::SpoofedIp);
        dp.expect_pass(LAN_PARENT_EGRESS, &ipv6(HOST_MAC), at);
        // Other protocols pass.
        let other = ethernet([0xff; 6], A_MAC, 0x88b5, &[0; 46]);
        dp.expect_pass(LAN_PARENT_EGRESS, &other, at);
    });
}
