//! `container_egress` on crafted frames (BPF_PROG_TEST_RUN, no daemon):
//! what leaves a container's host-side veth is judged by
//! `skb->ingress_ifindex`. Made by the host (0) or bridged from a
//! container's veth (in `ENDPOINTS`): passes unchanged; forwarded from any
//! other interface: dropped as `forwarded_from_host_interface`.
//! Run as root: the tests fail (never skip) otherwise.

use ebpfnet_common::DropReason;
use ebpfnet_tests::packet::{Ipv4Builder, TCP_SYN, arp_request};
use ebpfnet_tests::testrun::{CONTAINER_EGRESS, TC_ACT_SHOT, TCX_NEXT};
use ebpfnet_tests::topology::{C2, C2_MAC, GW_MAC, OUTSIDE, with_container};

/// An interface index no link of the test namespace has, standing for a
/// host NIC the packet was forwarded from.
const FOREIGN_IFINDEX: u32 = 4000;

#[test]
fn only_host_made_and_container_bridged_frames_leave_for_a_container() {
    with_container(0, |dp, d0| {
        let to_c2 = Ipv4Builder::new(OUTSIDE, C2)
            .macs(GW_MAC, C2_MAC)
            .tcp(40000, 80, TCP_SYN);
        let arp = arp_request(GW_MAC, GW_MAC, [10, 214, 0, 1], C2);
        for (frame, what) in [(&to_c2, "TCP"), (&arp, "ARP")] {
            for (came_in_on, from) in [(0, "the host"), (d0, "a container's veth")] {
                let before = dp.drops(DropReason::ForwardedFromHostInterface);
                let outcome = dp.run_ctx(CONTAINER_EGRESS, frame, None, came_in_on);
                assert_eq!(outcome.verdict, TCX_NEXT, "{what} from {from} must pass");
                assert_eq!(&outcome.out, frame, "{what} from {from} was modified");
                assert_eq!(dp.drops(DropReason::ForwardedFromHostInterface), before);
            }
            let before = dp.drops(DropReason::ForwardedFromHostInterface);
            let outcome = dp.run_ctx(CONTAINER_EGRESS, frame, None, FOREIGN_IFINDEX);
            assert_eq!(
                outcome.verdict, TC_ACT_SHOT,
                "{what} forwarded from #{FOREIGN_IFINDEX} must be dropped"
            );
            assert_eq!(
                dp.drops(DropReason::ForwardedFromHostInterface),
                before + 1,
                "the drop must be counted once"
            );
        }
    });
}
