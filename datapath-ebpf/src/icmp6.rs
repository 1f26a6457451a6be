//! ICMPv6 errors about masqueraded IPv6 flows (destination unreachable,
//! packet too big, time exceeded, parameter problem), arriving on an
//! uplink from a router on the path or from the peer: sent on to the
//! container, as Linux's `nf_nat_icmpv6_reply_translation` does. The error
//! quotes the packet as it left (from the uplink's address and masquerade
//! port); the NAT entry of the quoted tuple's reverse (the reply
//! direction) names the container. Rewritten: the outer destination (the
//! ICMPv6 checksum through its pseudo-header), the quoted source address
//! and port (or echo identifier) and the quoted L4 checksum with them — a
//! change and its checksum's change cancel in the ICMPv6 checksum, which
//! covers both. Packet too big is what path MTU discovery needs: IPv6
//! routers never fragment.

use aya_ebpf::{btf_maps::PerCpuArray, macros::btf_map, programs::TcContext};
use ebpfnet_common::{
    DropReason,
    flows6::{FlowKey6, ICMPV6},
    maps::{FROM_CONTAINER, NatKind, proto},
};

use crate::{
    conntrack,
    counters::drop_packet,
    nat, nat6,
    parse6::{DST_OFF, HOP_LIMIT_OFF, IPV6_HEADER_LEN, Packet6},
};

const DEST_UNREACH: u8 = 1;
const PARAM_PROBLEM: u8 = 4;
const ICMP_HEADER_LEN: usize = 8;
const QUOTED_SRC_OFF: usize = 8;
const QUOTED_DST_OFF: usize = 24;

#[btf_map]
static ERROR_KEY6: PerCpuArray<FlowKey6, 1> = PerCpuArray::new();

/// The verdict on an ICMPv6 error from an uplink about a masqueraded flow;
/// `None` when it is none (or not about one of ours). A subprogram of its
/// own.
#[inline(never)]
pub fn translate_error(ctx: &TcContext, packet: &Packet6) -> Option<i32> {
    if packet.protocol != ICMPV6
        || packet.fragment
        || !(DEST_UNREACH..=PARAM_PROBLEM).contains(&packet.icmp_type)
    {
        return None;
    }
    let quoted = packet.l4_off + ICMP_HEADER_LEN;
    // Version … next header: the quoted upper layer must follow directly.
    let head: [u8; 8] = ctx.load(quoted).ok()?;
    let protocol = head[6];
    if head[0] >> 4 != 6 || !matches!(protocol, proto::TCP | proto::UDP | ICMPV6) {
        return None;
    }
    // The reply direction's key: the quoted tuple reversed, built in place.
    // SAFETY: this CPU's slot, used by one program run at a time.
    let key = unsafe { &mut *ERROR_KEY6.get_ptr_mut(0)? };
    key.dst_ip = ctx.load(quoted + QUOTED_SRC_OFF).ok()?;
    if key.dst_ip != packet.dst_ip {
        return None;
    }
    key.src_ip = ctx.load(quoted + QUOTED_DST_OFF).ok()?;
    let l4 = quoted + IPV6_HEADER_LEN;
    // Ports (TCP, UDP) or type, code, checksum, identifier (echo).
    let words: [u8; 6] = ctx.load(l4).ok()?;
    let (port_off, csum_off, sport, dport) = if protocol == ICMPV6 {
        let id = u16::from_be_bytes([words[4], words[5]]);
        (l4 + 4, l4 + 2, id, id)
    } else {
        let csum = if protocol == proto::TCP {
            l4 + 16
        } else {
            l4 + 6
        };
        (
            l4,
            csum,
            u16::from_be_bytes([words[0], words[1]]),
            u16::from_be_bytes([words[2], words[3]]),
        )
    };
    key.src_port = dport;
    key.dst_port = sport;
    key.protocol = protocol;
    key._pad = [0; 3];
    // The reply direction of a masqueraded flow, or the request direction
    // of a published one (the error is about the container's reply, which
    // left from the published address): both lead to the container.
    let entry = conntrack::peek(key)?;
    let published =
        entry.kind == NatKind::PublishedRequest as u8 && entry.tcp_flags & FROM_CONTAINER == 0;
    if entry.kind != NatKind::MasqueradeReply as u8 && !published {
        return None;
    }
    if packet.hop_limit <= 1 {
        return Some(drop_packet(DropReason::TtlExceeded));
    }
    // The quoted L4 checksum, when the quote holds it.
    let inner_csum = ctx.load::<[u8; 2]>(csum_off).is_ok();
    for (from, to) in nat6::words(&key.dst_ip)
        .iter()
        .zip(nat6::words(&entry.new_dst_ip).iter())
    {
        if from != to && inner_csum {
            ctx.l3_csum_replace(csum_off, u64::from(*from), u64::from(*to), 4)
                .ok()?;
        }
    }
    ctx.store(quoted + QUOTED_SRC_OFF, &entry.new_dst_ip, 0)
        .ok()?;
    let (old_be, new_be) = (sport.to_be(), entry.new_dst_port.to_be());
    if old_be != new_be {
        if inner_csum {
            ctx.l3_csum_replace(csum_off, u64::from(old_be), u64::from(new_be), 2)
                .ok()?;
        }
        ctx.store(port_off, &new_be, 0).ok()?;
    }
    if !inner_csum {
        // Nothing cancels the quoted changes: the ICMPv6 checksum takes them.
        return Some(drop_packet(DropReason::Malformed));
    }
    if nat6::set_ip(ctx, packet, DST_OFF, &packet.dst_ip, &entry.new_dst_ip).is_err() {
        return Some(drop_packet(DropReason::Malformed));
    }
    if ctx
        .store(HOP_LIMIT_OFF, &(packet.hop_limit - 1), 0)
        .is_err()
    {
        return Some(drop_packet(DropReason::Malformed));
    }
    Some(nat::deliver_to_container(ctx, entry.ifindex, entry.dst_mac))
}
