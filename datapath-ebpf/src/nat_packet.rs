//! What NAT does alike to a packet of either family (`parse::Packet`,
//! `parse6::Packet6`), written once over [`NatPacket`]: the L4 checksum's
//! place, the rewrite of ports (or of an echo's identifier), and the
//! checks a container's packet passes before it may open a masqueraded
//! flow. Generic, `#[inline(always)]`: each family's path gets its own
//! copy, compiled as the twins these replaced were.

use aya_ebpf::{bindings::BPF_F_MARK_MANGLED_0, programs::TcContext};
use ebpfnet_common::{DropReason, flows6::ICMPV6, maps::proto};

use crate::{
    counters::drop_packet,
    parse::{ICMP_ECHO_REPLY, Packet},
    parse6::{ICMPV6_ECHO_REPLY, Packet6},
};

/// Field offsets inside the L4 header of what NAT rewrites.
const SRC_PORT_OFF: usize = 0;
const DST_PORT_OFF: usize = 2;
const ICMP_ID_OFF: usize = 4;

/// A parsed packet of either family, as NAT reads and rewrites it.
pub trait NatPacket {
    /// The family's ICMP (`proto::ICMP`, `ICMPV6`) and its echo reply.
    const ICMP: u8;
    const ECHO_REPLY: u8;
    fn protocol(&self) -> u8;
    fn l4_off(&self) -> usize;
    /// Source and destination port, host order (an echo's identifier).
    fn ports(&self) -> (u16, u16);
    /// TTL or hop limit.
    fn hops(&self) -> u8;
    fn icmp_type(&self) -> u8;
    /// Whether NAT can translate it (`parse::flow_packet`).
    fn translatable(&self) -> bool;
    /// Whether it may open a flow (`parse::flow_packet`).
    fn opens_flow(&self) -> bool;
}

/// `NatPacket` for one family's packet type: its ICMP, echo reply type
/// and hop field.
macro_rules! nat_packet {
    ($packet:ty, $icmp:expr, $echo_reply:expr, $hops:ident) => {
        impl NatPacket for $packet {
            const ICMP: u8 = $icmp;
            const ECHO_REPLY: u8 = $echo_reply;
            #[inline(always)]
            fn protocol(&self) -> u8 {
                self.protocol
            }
            #[inline(always)]
            fn l4_off(&self) -> usize {
                self.l4_off
            }
            #[inline(always)]
            fn ports(&self) -> (u16, u16) {
                (self.src_port, self.dst_port)
            }
            #[inline(always)]
            fn hops(&self) -> u8 {
                self.$hops
            }
            #[inline(always)]
            fn icmp_type(&self) -> u8 {
                self.icmp_type
            }
            #[inline(always)]
            fn translatable(&self) -> bool {
                <$packet>::translatable(self)
            }
            #[inline(always)]
            fn opens_flow(&self) -> bool {
                <$packet>::opens_flow(self)
            }
        }
    };
}

nat_packet!(Packet, proto::ICMP, ICMP_ECHO_REPLY, ttl);
nat_packet!(Packet6, ICMPV6, ICMPV6_ECHO_REPLY, hop_limit);

/// Where the L4 checksum sits (its offset in the packet), and the flags
/// its updates need: TCP's, UDP's (a zero one means "none" and must stay
/// zero) and the family's ICMP's.
#[inline(always)]
pub fn l4_checksum<P: NatPacket>(packet: &P) -> Option<(usize, u64)> {
    let l4 = packet.l4_off();
    match packet.protocol() {
        proto::TCP => Some((l4 + 16, 0)),
        proto::UDP => Some((l4 + 6, u64::from(BPF_F_MARK_MANGLED_0))),
        icmp if icmp == P::ICMP => Some((l4 + 2, 0)),
        _ => None,
    }
}

/// Rewrites the 16-bit field at `l4_off + field` (a port, or the echo
/// identifier) from `old` to `new`, both in host byte order, and the L4
/// checksum with it. Only TCP, UDP and the family's ICMP are rewritten:
/// another protocol is an error.
#[inline(always)]
fn set_port<P: NatPacket>(
    ctx: &TcContext,
    packet: &P,
    field: usize,
    old: u16,
    new: u16,
) -> Result<(), ()> {
    if old == new {
        return Ok(());
    }
    let (csum_off, flags) = l4_checksum(packet).ok_or(())?;
    let (old_be, new_be) = (old.to_be(), new.to_be());
    ctx.l4_csum_replace(csum_off, u64::from(old_be), u64::from(new_be), flags | 2)
        .map_err(|_| ())?;
    ctx.store(packet.l4_off() + field, &new_be, 0)
        .map_err(|_| ())
}

/// Rewrites the packet's ports to `new` (source, destination; host
/// order). Both "ports" of an echo are its identifier: it takes the new
/// source one.
#[inline(always)]
pub fn set_ports<P: NatPacket>(ctx: &TcContext, packet: &P, new: (u16, u16)) -> Result<(), ()> {
    let (src, dst) = packet.ports();
    if packet.protocol() == P::ICMP {
        return set_port(ctx, packet, ICMP_ID_OFF, src, new.0);
    }
    set_port(ctx, packet, SRC_PORT_OFF, src, new.0)?;
    set_port(ctx, packet, DST_PORT_OFF, dst, new.1)
}

/// What a container's packet of no flow, routed out of an uplink, passes
/// before it may open a masqueraded one: `Some(verdict)` when it may not.
/// Through an uplink a packet leaves masqueraded or not at all (the
/// host's stack would route it out with the container's own address); an
/// echo reply leaves only through its own flow's entry; a TTL or hop
/// limit that runs out is answered "time exceeded" as a router does
/// (`hops_expired`: the family's answer); a stray TCP segment of no flow
/// (as conntrack's INVALID packets leak) does not start one, only a SYN
/// does.
#[inline(always)]
pub fn refuse_new_masquerade<P: NatPacket>(
    packet: &P,
    hops_expired: impl FnOnce() -> i32,
) -> Option<i32> {
    let echo_reply = packet.protocol() == P::ICMP && packet.icmp_type() == P::ECHO_REPLY;
    if !packet.translatable() || echo_reply {
        return Some(drop_packet(DropReason::Untranslatable));
    }
    if packet.hops() <= 1 {
        return Some(hops_expired());
    }
    if !packet.opens_flow() {
        return Some(drop_packet(DropReason::NoFlow));
    }
    None
}
