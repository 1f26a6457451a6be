//! IPv6 packets the datapath forwards (NAT66, routed mode) whose hop limit
//! would reach 0 at this hop: answered with ICMPv6 "time exceeded" (type 3,
//! code 0, RFC 4443 §3.3) as a router does, built here from the packet
//! itself. The host's IPv6 forwarding stays off (as `ip_forward` does for
//! IPv4), so its stack would only drop them: traceroute and `ping -t`
//! would see nothing of this hop.
//!
//! The error comes from this hop's address on the sender's side: a
//! container's packet from its network's IPv6 gateway, another host's from
//! the uplink address it was sent to (the masquerade address) or, for a
//! routed container's address, from the uplink's own IPv6 address. It
//! quotes the IPv6 header and the first 8 bytes after it (20 for TCP,
//! whose checksum must stay inside a `CHECKSUM_PARTIAL` packet, as in
//! `icmp_reply`): what traceroute and ping match their probes by.

use aya_ebpf::{
    btf_maps::PerCpuArray,
    helpers::{
        bpf_redirect, bpf_redirect_peer, bpf_skb_adjust_room, bpf_skb_change_tail,
        bpf_skb_load_bytes,
    },
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{DropReason, flows6::ICMPV6, maps::proto};

use crate::{
    counters::drop_packet,
    hook::Hook,
    icmp::Sum,
    maps,
    mtu6::BPF_ADJ_ROOM_MAC,
    parse::{ETH_LEN, ETH_P_IPV6, IP_OFF},
    parse6::{IPV6_HEADER_LEN, Packet6},
};

const ICMPV6_TIME_EXCEEDED: u8 = 3;
const ICMPV6_HOP_LIMIT_EXCEEDED: u8 = 0;
/// The hop limit of the error itself (Linux's default for its own packets).
const ERROR_HOP_LIMIT: u8 = 64;
/// Outer IPv6 header (40) + ICMPv6 header (8) put in front of the quote.
const ERROR_HEADROOM: usize = IPV6_HEADER_LEN + 8;
/// The quote: the IPv6 header and 8 bytes after it, or 20 for TCP.
const SHORT_QUOTE: usize = IPV6_HEADER_LEN + 8;
const TCP_QUOTE: usize = IPV6_HEADER_LEN + 20;

/// Room for the error: the headers put in front of the quote, and what
/// is copied from the packet.
#[repr(C)]
pub struct ErrorBuf6 {
    /// Ethernet (14) + IPv6 (40) + ICMPv6 (8).
    head: [u8; ETH_LEN + ERROR_HEADROOM],
    /// The packet's MACs, as received.
    macs: [u8; 12],
    /// The packet from its IPv6 header on, as received.
    quote: [u8; TCP_QUOTE],
}

#[btf_map]
static ERROR_BUF6: PerCpuArray<ErrorBuf6, 1> = PerCpuArray::new();

/// `packet` (its hop limit 0 or 1) goes no further: the sender gets "time
/// exceeded" (counted as `ttl_exceeded`). `hook`: where it came in, so
/// where the answer goes back. An ICMPv6 error is never answered with one
/// (RFC 4443 §2.4 e): it is only dropped.
#[inline(never)]
pub fn expired(ctx: &TcContext, packet: &Packet6, hook: Hook) -> i32 {
    let verdict = drop_packet(DropReason::TtlExceeded);
    if packet.protocol == ICMPV6 && packet.icmp_type < 128 {
        return verdict;
    }
    let source = match hook {
        Hook::Container => match maps::network6_of(packet.src_ip) {
            Some(network) => network.gateway,
            None => return verdict,
        },
        Hook::Uplink => match uplink_address(ctx, packet) {
            Some(ip) => ip,
            None => return verdict,
        },
    };
    send(ctx, packet, &source, hook).unwrap_or(verdict)
}

/// This hop's address towards an outside sender: the uplink address the
/// packet was sent to, unless that is a container's (routed mode), then
/// the uplink's own IPv6 address.
#[inline(always)]
fn uplink_address(ctx: &TcContext, packet: &Packet6) -> Option<[u8; 16]> {
    if maps::network6_of(packet.dst_ip).is_none() {
        return Some(packet.dst_ip);
    }
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    crate::masquerade6::uplink_ip(ifindex)
}

/// Turns the packet into the error and sends it back; `None` when it
/// cannot be built (the caller drops the packet).
#[inline(always)]
fn send(ctx: &TcContext, packet: &Packet6, source: &[u8; 16], hook: Hook) -> Option<i32> {
    let buf = ERROR_BUF6.get_ptr_mut(0)?;
    // SAFETY: this CPU's slot, used by one program run at a time.
    let buf = unsafe { &mut *buf };
    let tcp = packet.protocol == proto::TCP && packet.l4_off == IP_OFF + IPV6_HEADER_LEN;
    let quote_len = if tcp { TCP_QUOTE } else { SHORT_QUOTE };
    let skb = ctx.skb.skb;
    // Fixed lengths: the verifier refuses a length that may be 0.
    // SAFETY: the destinations are this CPU's map value, as long as stated.
    let copied = unsafe {
        bpf_skb_load_bytes(skb.cast(), 0, buf.macs.as_mut_ptr().cast(), 12) == 0
            && if tcp {
                bpf_skb_load_bytes(
                    skb.cast(),
                    IP_OFF as u32,
                    buf.quote.as_mut_ptr().cast(),
                    TCP_QUOTE as u32,
                ) == 0
            } else {
                bpf_skb_load_bytes(
                    skb.cast(),
                    IP_OFF as u32,
                    buf.quote.as_mut_ptr().cast(),
                    SHORT_QUOTE as u32,
                ) == 0
            }
    };
    if !copied {
        return None;
    }
    // SAFETY: helper calls on this invocation's skb; every later access
    // goes through load/store helpers. change_tail also resets a GSO
    // packet's segmentation state; the room goes between the Ethernet and
    // IPv6 headers (what follows is the quote).
    let resized = unsafe {
        bpf_skb_change_tail(skb, (ETH_LEN + quote_len) as u32, 0) == 0
            && bpf_skb_adjust_room(skb, ERROR_HEADROOM as i32, BPF_ADJ_ROOM_MAC, 0) == 0
    };
    if !resized {
        return None;
    }
    let length = (8 + quote_len) as u16;
    let (head, macs, quote) = (&mut buf.head, &buf.macs, &buf.quote);
    *head = [0u8; ETH_LEN + ERROR_HEADROOM];
    // Ethernet: back to the sender, from the MAC it sent to.
    head[0..6].copy_from_slice(&macs[6..12]);
    head[6..12].copy_from_slice(&macs[0..6]);
    head[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    // IPv6: this hop → the sender.
    let ip = &mut head[ETH_LEN..ETH_LEN + IPV6_HEADER_LEN];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&length.to_be_bytes());
    ip[6] = ICMPV6;
    ip[7] = ERROR_HOP_LIMIT;
    ip[8..24].copy_from_slice(source);
    ip[24..40].copy_from_slice(&packet.src_ip);
    // ICMPv6: type, code, checksum, 4 unused bytes.
    let icmp_off = ETH_LEN + IPV6_HEADER_LEN;
    head[icmp_off] = ICMPV6_TIME_EXCEEDED;
    head[icmp_off + 1] = ICMPV6_HOP_LIMIT_EXCEEDED;
    // The checksum covers the pseudo-header (both addresses, the length,
    // the next header), the ICMPv6 header and the whole quote.
    let mut sum = Sum::of(source);
    sum.add(&packet.src_ip);
    sum.add(&[0, 0]);
    sum.add(&length.to_be_bytes());
    sum.add(&[0, ICMPV6]);
    sum.add(&head[icmp_off..icmp_off + 8]);
    sum.add(&quote[..SHORT_QUOTE]);
    if tcp {
        sum.add(&quote[SHORT_QUOTE..]);
    }
    let checksum = sum.checksum();
    head[icmp_off + 2..icmp_off + 4].copy_from_slice(&checksum.to_be_bytes());
    ctx.store(0, head, 0).ok()?;
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let ifindex = unsafe { (*skb).ifindex };
    // SAFETY: plain helper calls.
    Some(match hook {
        // Into the container behind this hook's veth.
        Hook::Container => unsafe { bpf_redirect_peer(ifindex, 0) as i32 },
        // Out of the uplink it came in on, to the hop it came from.
        Hook::Uplink => unsafe { bpf_redirect(ifindex, 0) as i32 },
    })
}
