//! ICMP errors the datapath answers itself, as a router on the path would,
//! built from the packet that caused them: "fragmentation needed" to a
//! container whose packet is too big for the uplink (`mtu`), "time
//! exceeded" to another host whose packet to a published port or a
//! masqueraded flow would leave this hop with no TTL (`nat`). The error
//! quotes the IP header and the start of the datagram (RFC 792).

use aya_ebpf::{
    helpers::{
        bpf_redirect, bpf_redirect_peer, bpf_skb_adjust_room, bpf_skb_change_tail,
        bpf_skb_load_bytes,
    },
    programs::TcContext,
};
use ebpfnet_common::{DropReason, maps::proto};

use crate::{
    counters::drop_packet,
    icmp::Sum,
    parse::{ETH_LEN, ETH_P_IP, IP_OFF, Packet},
    scratch,
};

/// `BPF_ADJ_ROOM_MAC`: room between the L2 and L3 headers.
const BPF_ADJ_ROOM_MAC: u32 = 1;
/// `IPTOS_PREC_INTERNETCONTROL`, the TOS Linux gives its ICMP errors.
const TOS_INTERNETCONTROL: u8 = 0xc0;
/// Outer IPv4 header (20) + ICMP header (8) put in front of the quote.
const ERROR_HEADROOM: u32 = 28;

pub const ICMP_DEST_UNREACH: u8 = 3;
pub const ICMP_FRAG_NEEDED: u8 = 4;
pub const ICMP_TIME_EXCEEDED: u8 = 11;
pub const ICMP_TTL_EXCEEDED: u8 = 0;

/// Where the sender of the packet is.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Toward {
    /// The container behind this hook's veth.
    Container,
    /// Beyond the uplink this hook is on.
    Uplink,
}

/// The error to answer with.
pub struct ErrorReply {
    pub icmp_type: u8,
    pub code: u8,
    /// Next-hop MTU ("fragmentation needed"), else 0.
    pub mtu: u16,
    /// The address the error comes from: this hop's on the sender's side.
    pub source: [u8; 4],
    pub toward: Toward,
}

/// Turns the packet into `reply` and sends it back to its sender. A
/// subprogram of its own: building the error takes stack the translation
/// paths cannot spare.
#[inline(never)]
pub fn send(ctx: &TcContext, packet: &Packet, reply: &ErrorReply) -> i32 {
    // The IP header and 8 bytes of the datagram (RFC 792); 20 for TCP,
    // whose checksum field must stay inside a CHECKSUM_PARTIAL packet
    // (bpf_skb_change_tail refuses to cut before it).
    let tcp = packet.protocol == proto::TCP && !packet.fragment;
    let l4_len: usize = if tcp { 20 } else { 8 };
    let Some(buf) = scratch::error_buf() else {
        return drop_packet(DropReason::Malformed);
    };
    // Fixed lengths (aya's load_bytes clamps to what is left, which the
    // verifier refuses as possibly zero), and only what the quote takes:
    // a short datagram has no 20 bytes after its IP header.
    let skb = ctx.skb.skb;
    let quoted = buf.quoted_l4.as_mut_ptr().cast();
    let l4_off = packet.l4_off as u32;
    // SAFETY: the destinations are this CPU's map value, as long as stated.
    // Only a header without options is quoted (the checksum below sums
    // exactly those 20 bytes); a packet with options goes unanswered.
    if packet.l4_off != IP_OFF + 20 {
        return drop_packet(DropReason::Malformed);
    }
    let copied = unsafe {
        bpf_skb_load_bytes(skb.cast(), 0, buf.macs.as_mut_ptr().cast(), 12) == 0
            && bpf_skb_load_bytes(
                skb.cast(),
                IP_OFF as u32,
                buf.quoted_ip.as_mut_ptr().cast(),
                20,
            ) == 0
            && if tcp {
                bpf_skb_load_bytes(skb.cast(), l4_off, quoted, 20) == 0
            } else {
                bpf_skb_load_bytes(skb.cast(), l4_off, quoted, 8) == 0
            }
    };
    if !copied {
        return drop_packet(DropReason::Malformed);
    }
    let quote_len = (packet.l4_off - IP_OFF + l4_len) as u32;
    // SAFETY: helper calls on this invocation's skb; every later access
    // goes through load/store helpers, so no packet pointer goes stale.
    // change_tail also resets a GSO packet's segmentation state; the room
    // goes between the Ethernet and IP headers (the network header moves
    // with it: what follows is the quote).
    let resized = unsafe {
        bpf_skb_change_tail(skb, ETH_LEN as u32 + quote_len, 0) == 0
            && bpf_skb_adjust_room(skb, ERROR_HEADROOM as i32, BPF_ADJ_ROOM_MAC, 0) == 0
    };
    if !resized {
        return drop_packet(DropReason::Malformed);
    }
    let total = (ERROR_HEADROOM + quote_len) as u16;
    let (head, macs, quoted_l4, quoted_ip) =
        (&mut buf.head, &buf.macs, &buf.quoted_l4, &buf.quoted_ip);
    *head = [0u8; ETH_LEN + ERROR_HEADROOM as usize];
    // Ethernet: back to the sender, from the MAC it sent to.
    head[0..6].copy_from_slice(&macs[6..12]);
    head[6..12].copy_from_slice(&macs[0..6]);
    head[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
    // IPv4: this hop → the sender, no options, not fragmented.
    let ip = &mut head[ETH_LEN..ETH_LEN + 20];
    ip[0] = 0x45;
    ip[1] = TOS_INTERNETCONTROL;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = proto::ICMP;
    ip[12..16].copy_from_slice(&reply.source);
    ip[16..20].copy_from_slice(&packet.src_ip);
    let ip_csum = Sum::of(ip).checksum();
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());
    // ICMP: type and code; a next-hop MTU in the low half of the second
    // word (RFC 1191), 0 for other errors.
    let icmp = &mut head[ETH_LEN + 20..];
    icmp[0] = reply.icmp_type;
    icmp[1] = reply.code;
    icmp[6..8].copy_from_slice(&reply.mtu.to_be_bytes());
    // The ICMP checksum covers the header and the whole quote. The quoted
    // IP header is summed as received: its own checksum may be wrong (a
    // crafted packet), so it cannot be taken to sum to 0xffff.
    let mut sum = Sum::of(icmp);
    sum.add(quoted_ip);
    sum.add(&quoted_l4[..8]);
    if tcp {
        sum.add(&quoted_l4[8..]);
    }
    let icmp_csum = sum.checksum();
    icmp[2..4].copy_from_slice(&icmp_csum.to_be_bytes());
    if ctx.store(0, head, 0).is_err() {
        return drop_packet(DropReason::Malformed);
    }
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let ifindex = unsafe { (*skb).ifindex };
    // SAFETY: plain helper calls.
    match reply.toward {
        // Into the container behind this hook's veth.
        Toward::Container => unsafe { bpf_redirect_peer(ifindex, 0) as i32 },
        // Out of the uplink it came in on, to the hop it came from.
        Toward::Uplink => unsafe { bpf_redirect(ifindex, 0) as i32 },
    }
}
