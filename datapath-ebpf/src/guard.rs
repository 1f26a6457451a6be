//! TC egress on a container's host-side veth: the guard for host
//! interfaces that are not uplinks (moby#49325). The uplink program only
//! watches the uplinks; a host with forwarding on would route a packet
//! from any other interface (a second NIC, a VPN, a VM bridge) straight
//! to a container address. Such a packet leaves through a container's
//! veth, and this program refuses it there, whatever interface it came in
//! on, with nothing attached to the host's own interfaces.
//!
//! What may leave a container's veth, by `skb->ingress_ifindex` (the
//! interface a received packet came in on; 0 for one the host made):
//! - 0: the host's own packets (its clients, ARP, ICMP errors);
//! - a container's host-side veth (in `ENDPOINTS`): frames the bridge
//!   passes between the containers of a network (broadcast, ARP, unicast
//!   not taken by the direct path).
//!
//! Replies and published traffic are handed into containers with
//! `bpf_redirect_peer`, which never passes this hook. Anything else was
//! forwarded by the host from another interface: dropped.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::DropReason;

use crate::{TCX_NEXT, counters::drop_packet, maps};

/// `ingress_ifindex` of a packet the host itself sent.
const MADE_BY_HOST: u32 = 0;

#[inline(always)]
pub fn handle(ctx: &TcContext) -> i32 {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let came_in_on = unsafe { (*ctx.skb.skb).ingress_ifindex };
    if came_in_on == MADE_BY_HOST {
        return TCX_NEXT;
    }
    // SAFETY: only tested for presence.
    if unsafe { maps::ENDPOINTS.get(came_in_on) }.is_some() {
        return TCX_NEXT;
    }
    drop_packet(DropReason::ForwardedFromHostInterface)
}
