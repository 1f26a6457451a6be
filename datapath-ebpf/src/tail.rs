//! Tail calls into the programs of `TAIL_CALLS` (filled by the
//! controller): the IPv6 NAT paths run with a stack of their own, which
//! they would not have below `container_ingress`'s and `uplink_ingress`'s
//! IPv4 frames.

use aya_ebpf::{btf_maps::ProgramArray, macros::btf_map, programs::TcContext};
use ebpfnet_common::{
    DropReason,
    names::{TAIL_CALLS_CAPACITY, TAIL_CONTAINER6, TAIL_UPLINK6},
    nat46::TAIL_UPLINK46,
};

use crate::{counters::drop_packet, ipv6};

#[btf_map]
static TAIL_CALLS: ProgramArray<{ TAIL_CALLS_CAPACITY as usize }> = ProgramArray::new();

/// `skb->cb[0]` for `container_ingress6`: the destination is in no
/// container network (`container_ingress` walked the LPM for it).
const BEYOND_NETWORKS: u32 = 1;

/// Continues in `container_ingress6`, telling it whether the destination
/// is `beyond` every container network ([`beyond_networks`]), so a new
/// flow's first packet does not walk the same LPM again. Only returns
/// when that cannot run (its slot is empty): then the packet is dropped,
/// never sent on with the container's own address. Must be called from a
/// program's main body (the verifier limits tail calls from subprograms).
#[inline(always)]
pub fn container6(ctx: &TcContext, beyond: bool) -> i32 {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation,
    // whose `cb` a TC program may write; it goes along the tail call.
    unsafe { (*ctx.skb.skb).cb[0] = u32::from(beyond) * BEYOND_NETWORKS };
    // SAFETY: the slot holds a TC program or nothing; on success control
    // never comes back here.
    unsafe { TAIL_CALLS.tail_call(ctx, TAIL_CONTAINER6) };
    drop_packet(DropReason::Untranslatable)
}

/// In `container_ingress6` (only ever tail-called by [`container6`],
/// which writes it): whether the packet's destination is in no container
/// network.
#[inline(always)]
pub fn beyond_networks(ctx: &TcContext) -> bool {
    // SAFETY: as in `container6`.
    unsafe { (*ctx.skb.skb).cb[0] == BEYOND_NETWORKS }
}

/// Continues in `uplink_ingress6` (NAT66 replies, ICMPv6 errors about
/// masqueraded flows). When that cannot run, spoofed sources and
/// unsolicited IPv6 to container addresses are still dropped here.
#[inline(always)]
pub fn uplink6(ctx: &TcContext) -> i32 {
    // SAFETY: as in `container6`.
    unsafe { TAIL_CALLS.tail_call(ctx, TAIL_UPLINK6) };
    ipv6::spoofed(ctx).unwrap_or_else(|| ipv6::unsolicited(ctx))
}

/// Continues in `uplink_ingress46` (IPv4 into IPv6-only containers,
/// nat46.rs). Returns only when that cannot run: the caller goes on.
#[inline(always)]
pub fn uplink46(ctx: &TcContext) {
    // SAFETY: as in `container6`.
    unsafe { TAIL_CALLS.tail_call(ctx, TAIL_UPLINK46) };
}
