//! ICMPv6 errors (destination unreachable, packet too big, time exceeded,
//! parameter problem) about a flow of the IPv6 NAT tables, translated for
//! any entry, whatever made it (masquerade, published ports, routed mode):
//! errors a container sends about a packet it received ("port
//! unreachable" for a reply it no longer wants, "packet too big"), and
//! errors from the path about a flow `icmp6` does not translate.
//!
//! As in `icmp` (IPv4) and Linux's `nf_nat_icmpv6_reply_translation`: the
//! error quotes a packet of the flow travelling the other way, so the
//! entry of the quoted tuple's reverse is the direction the error
//! travels in, and it says how the quoted packet looked on the other side:
//! its source becomes the entry's new destination, its destination the
//! entry's new source. The outer destination (the quoted packet's sender)
//! follows the quoted source; an outer source that is the quoted
//! destination (the flow's peer itself answering) follows it, a router on
//! the path keeps its own. Checksums: the outer addresses through the
//! ICMPv6 pseudo-header; each quoted change also goes into the quoted L4
//! checksum when the quote holds it (the two changes cancel in the ICMPv6
//! checksum, which covers both), else into the ICMPv6 checksum itself.

use aya_ebpf::{btf_maps::PerCpuArray, macros::btf_map, programs::TcContext};
use ebpfnet_common::{
    DropReason,
    flows6::{FlowKey6, ICMPV6, NatEntry6},
    maps::{NatKind, proto},
};

use crate::{
    conntrack,
    counters::drop_packet,
    hook::Hook,
    nat6, nat46_icmp,
    parse6::{DST_OFF, HOP_LIMIT_OFF, ICMPV6_ECHO_REPLY, ICMPV6_ECHO_REQUEST, Packet6, SRC_OFF},
};

const DEST_UNREACH: u8 = 1;
const PARAM_PROBLEM: u8 = 4;
const ICMP_HEADER_LEN: usize = 8;
const QUOTED_SRC_OFF: usize = 8;
const QUOTED_DST_OFF: usize = 24;
const QUOTED_L4_OFF: usize = 40;

/// The quoted flow, as this error's direction keys it, and where its
/// fields sit: too much for the stack beside the callers'.
#[repr(C)]
pub struct Quote6 {
    /// The quoted tuple reversed.
    key: FlowKey6,
    /// Offsets of the quoted addresses, ports (or echo identifier) and
    /// L4 checksum; of the ICMPv6 checksum.
    src_ip_off: usize,
    dst_ip_off: usize,
    src_port_off: usize,
    dst_port_off: usize,
    inner_csum_off: usize,
    outer_csum_off: usize,
    /// Whether the quote holds its L4 checksum.
    inner_csum: bool,
    /// Echo: one identifier for both "ports".
    echo: bool,
}

#[btf_map]
static QUOTE6: PerCpuArray<Quote6, 1> = PerCpuArray::new();

/// Whether `icmp_type` is an ICMPv6 error this module translates.
#[inline(always)]
pub fn is_error(icmp_type: u8) -> bool {
    (DEST_UNREACH..=PARAM_PROBLEM).contains(&icmp_type)
}

/// The verdict on `packet`, an ICMPv6 error that entered at `hook`, about
/// a flow whose entries `hook` applies; `None` when it is not one (the
/// caller decides). A subprogram of its own; the packet is parsed by the
/// caller, so the parser's frame does not add to this one's.
#[inline(never)]
pub fn translate(ctx: &TcContext, packet: &Packet6, hook: Hook) -> Option<i32> {
    if packet.protocol != ICMPV6 || packet.fragment || !is_error(packet.icmp_type) {
        return None;
    }
    // SAFETY: this CPU's slot, used by one program run at a time.
    let quote = unsafe { &mut *QUOTE6.get_ptr_mut(0)? };
    if !read_quote(ctx, packet.l4_off, quote) || quote.key.dst_ip != packet.dst_ip {
        return None;
    }
    let entry = conntrack::peek(&quote.key)?;
    if !nat6::applies(hook, entry) {
        return None;
    }
    // An error is never answered with one: it just goes no further.
    if packet.hop_limit <= 1 {
        return Some(drop_packet(DropReason::TtlExceeded));
    }
    // About an IPv4 client's flow: to that client as ICMPv4 (nat46_icmp).
    // (Its other entry never applies where an IPv6 error could be about it.)
    if entry.kind == NatKind::Nat46Reply as u8 {
        return Some(nat46_icmp::to_client(ctx, packet, entry));
    }
    if entry.kind == NatKind::Nat46Request as u8 {
        return Some(drop_packet(DropReason::Untranslatable));
    }
    Some(forward(ctx, packet, quote, entry))
}

/// Rewrites the error as the flow's other side sees it and sends it on,
/// one hop less. A subprogram of its own: the rewrites' copies stay out
/// of `translate`'s frame, below which `read_quote` runs.
#[inline(never)]
fn forward(ctx: &TcContext, packet: &Packet6, quote: &Quote6, entry: &NatEntry6) -> i32 {
    let outer_src_follows = packet.src_ip == quote.key.src_ip;
    if rewrite_quote(ctx, quote, entry).is_none()
        || nat6::set_ip(ctx, packet, DST_OFF, &packet.dst_ip, &entry.new_dst_ip).is_err()
        || (outer_src_follows
            && nat6::set_ip(ctx, packet, SRC_OFF, &packet.src_ip, &entry.new_src_ip).is_err())
        || ctx
            .store(HOP_LIMIT_OFF, &(packet.hop_limit - 1), 0)
            .is_err()
    {
        return drop_packet(DropReason::Malformed);
    }
    nat6::forward(ctx, entry)
}

/// Reads the quoted packet (its IPv6 header directly followed by TCP, UDP
/// or an ICMPv6 echo) into `quote`; false for anything else. A
/// subprogram of its own (its copies stay out of `translate`'s frame).
#[inline(never)]
fn read_quote(ctx: &TcContext, icmp_off: usize, quote: &mut Quote6) -> bool {
    let ip = icmp_off + ICMP_HEADER_LEN;
    // Version … next header.
    let Ok(head) = ctx.load::<[u8; 8]>(ip) else {
        return false;
    };
    let protocol = head[6];
    if head[0] >> 4 != 6 || !matches!(protocol, proto::TCP | proto::UDP | ICMPV6) {
        return false;
    }
    let l4 = ip + QUOTED_L4_OFF;
    // Ports (TCP, UDP) or type, code, checksum, identifier (echo).
    let Ok(words) = ctx.load::<[u8; 6]>(l4) else {
        return false;
    };
    let (Ok(src_ip), Ok(dst_ip)) = (
        ctx.load::<[u8; 16]>(ip + QUOTED_SRC_OFF),
        ctx.load::<[u8; 16]>(ip + QUOTED_DST_OFF),
    ) else {
        return false;
    };
    quote.echo = protocol == ICMPV6;
    let (sport, dport) = if quote.echo {
        if words[0] != ICMPV6_ECHO_REQUEST && words[0] != ICMPV6_ECHO_REPLY {
            return false;
        }
        let id = u16::from_be_bytes([words[4], words[5]]);
        quote.src_port_off = l4 + 4;
        quote.inner_csum_off = l4 + 2;
        (id, id)
    } else {
        quote.src_port_off = l4;
        quote.inner_csum_off = if protocol == proto::TCP {
            l4 + 16
        } else {
            l4 + 6
        };
        (
            u16::from_be_bytes([words[0], words[1]]),
            u16::from_be_bytes([words[2], words[3]]),
        )
    };
    quote.dst_port_off = if quote.echo { l4 + 4 } else { l4 + 2 };
    quote.src_ip_off = ip + QUOTED_SRC_OFF;
    quote.dst_ip_off = ip + QUOTED_DST_OFF;
    quote.outer_csum_off = icmp_off + 2;
    quote.inner_csum = ctx.load::<[u8; 2]>(quote.inner_csum_off).is_ok();
    quote.key = FlowKey6::new(dst_ip, dport, src_ip, sport, protocol);
    true
}

/// The quoted packet as the other side saw it: source from the entry's
/// new destination, destination from its new source. A subprogram of
/// its own.
#[inline(never)]
fn rewrite_quote(ctx: &TcContext, quote: &Quote6, entry: &NatEntry6) -> Option<()> {
    // key.dst is the quoted source, key.src the quoted destination.
    set_quoted_ip(
        ctx,
        quote,
        quote.src_ip_off,
        &quote.key.dst_ip,
        &entry.new_dst_ip,
    )?;
    set_quoted_ip(
        ctx,
        quote,
        quote.dst_ip_off,
        &quote.key.src_ip,
        &entry.new_src_ip,
    )?;
    if quote.echo {
        // Both ends of an echo entry carry the one identifier.
        return set_quoted_port(
            ctx,
            quote,
            quote.src_port_off,
            quote.key.dst_port,
            entry.new_dst_port,
        );
    }
    set_quoted_port(
        ctx,
        quote,
        quote.src_port_off,
        quote.key.dst_port,
        entry.new_dst_port,
    )?;
    set_quoted_port(
        ctx,
        quote,
        quote.dst_port_off,
        quote.key.src_port,
        entry.new_src_port,
    )
}

/// Accounts a change of the quoted word `from` → `to` (`size` bytes): in
/// the quoted L4 checksum when there is one, else in the ICMPv6 checksum.
#[inline(always)]
fn account(ctx: &TcContext, quote: &Quote6, from: u32, to: u32, size: u64) -> Option<()> {
    if quote.inner_csum {
        ctx.l3_csum_replace(quote.inner_csum_off, u64::from(from), u64::from(to), size)
            .ok()
    } else {
        ctx.l4_csum_replace(quote.outer_csum_off, u64::from(from), u64::from(to), size)
            .ok()
    }
}

#[inline(always)]
fn set_quoted_ip(
    ctx: &TcContext,
    quote: &Quote6,
    offset: usize,
    old: &[u8; 16],
    new: &[u8; 16],
) -> Option<()> {
    if old == new {
        return Some(());
    }
    for (from, to) in nat6::words(old).iter().zip(nat6::words(new).iter()) {
        if from != to {
            account(ctx, quote, *from, *to, 4)?;
        }
    }
    ctx.store(offset, new, 0).ok()
}

#[inline(always)]
fn set_quoted_port(
    ctx: &TcContext,
    quote: &Quote6,
    offset: usize,
    old: u16,
    new: u16,
) -> Option<()> {
    if old == new {
        return Some(());
    }
    let (old_be, new_be) = (old.to_be(), new.to_be());
    account(ctx, quote, u32::from(old_be), u32::from(new_be), 2)?;
    ctx.store(offset, &new_be, 0).ok()
}
