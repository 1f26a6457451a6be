//! The egress MTU before a NAT66 packet is redirected out of an uplink, the
//! IPv6 form of `mtu`. IPv6 routers never fragment (RFC 8200 §5): a packet
//! too big for the next link is answered with ICMPv6 "packet too big"
//! carrying that link's MTU, and the sender's path MTU discovery relies on
//! it. `bpf_redirect_neigh` skips the forwarding path's MTU check and a
//! veth or NIC drops an oversized frame silently, so the check is made
//! here and the error written here (RFC 4443 §3.2), from the untranslated
//! packet, back into the container that sent it, from its network's IPv6
//! gateway, as `ip6_forward` would.
//!
//! The error quotes the packet's IPv6 header, its extension headers and
//! the start of its upper layer (8 bytes; 20 for TCP, whose checksum field
//! must stay inside a `CHECKSUM_PARTIAL` packet): what the sender's stack
//! needs to find the socket. RFC 4443 allows quoting more; a longer quote
//! would only cost stack and checksum work.

use aya_ebpf::{
    btf_maps::PerCpuArray,
    helpers::{
        bpf_check_mtu, bpf_redirect_peer, bpf_skb_adjust_room, bpf_skb_change_tail,
        bpf_skb_load_bytes,
    },
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{DropReason, flows6::ICMPV6, maps::proto};

use crate::{
    counters::drop_packet,
    maps, mtu,
    parse::{ETH_LEN, ETH_P_IPV6, IP_OFF},
    parse6::{IPV6_HEADER_LEN, Packet6},
};

/// `BPF_ADJ_ROOM_MAC`: room between the L2 and L3 headers.
pub(crate) const BPF_ADJ_ROOM_MAC: u32 = 1;
/// Outer IPv6 header (40) + ICMPv6 header (8) put in front of the quote.
const ERROR_HEADROOM: usize = IPV6_HEADER_LEN + 8;
const ICMPV6_PACKET_TOO_BIG: u8 = 2;
/// ICMPv6 types below this are errors (RFC 4443 §2.1).
const ICMPV6_INFORMATIONAL: u8 = 128;
/// The hop limit Linux gives the errors it sends (`ip6_sk_dst_hoplimit`).
const HOP_LIMIT: u8 = 64;
/// The longest quote: the IPv6 header, extension headers, 20 bytes of TCP.
const QUOTE_MAX: usize = 128;

/// Room for the error: the headers put in front of the quote, the
/// packet's MACs and the quote as copied from the packet.
#[repr(C)]
pub struct TooBigBuf {
    head: [u8; ETH_LEN + ERROR_HEADROOM],
    macs: [u8; 12],
    quote: [u8; QUOTE_MAX],
}

#[btf_map]
static TOO_BIG_BUF: PerCpuArray<TooBigBuf, 1> = PerCpuArray::new();

/// `Some(verdict)` when `packet`, from the container behind this hook's
/// veth, is too big for the uplink `ifindex`: it is answered with "packet
/// too big" (or, when no error may be sent about it, dropped and counted
/// as `too_big`). A subprogram of its own.
#[inline(never)]
pub fn enforce(ctx: &TcContext, packet: &Packet6, ifindex: u32) -> Option<i32> {
    let mut mtu: u32 = 0;
    // SAFETY: `skb` is this invocation's; `mtu` is a valid out pointer.
    let ret = unsafe { bpf_check_mtu(ctx.skb.skb.cast(), ifindex, &mut mtu, 0, 0) };
    // No such device (< 0): the redirect itself reports that.
    if ret < 0 || ret == 0 && !mtu::segments_too_big(ctx, packet.protocol, packet.l4_off, mtu) {
        return None;
    }
    // Never an error about an ICMPv6 error (RFC 4443 §2.4 e), nor about a
    // later fragment, whose quote would name no socket (its first fragment,
    // as large, was answered).
    let error = packet.protocol == ICMPV6 && packet.icmp_type < ICMPV6_INFORMATIONAL;
    if error || packet.later_fragment() {
        return Some(drop_packet(DropReason::TooBig));
    }
    Some(packet_too_big(ctx, packet, mtu))
}

/// Turns the packet into "packet too big" (`mtu`) back to the container
/// behind this hook's veth, from its network's gateway.
#[inline(always)]
fn packet_too_big(ctx: &TcContext, packet: &Packet6, mtu: u32) -> i32 {
    let Some(network) = maps::network6_of(packet.src_ip) else {
        return drop_packet(DropReason::TooBig);
    };
    // SAFETY: this CPU's slot, used by one program run at a time.
    let Some(buf) = TOO_BIG_BUF.get_ptr_mut(0).map(|slot| unsafe { &mut *slot }) else {
        return drop_packet(DropReason::Malformed);
    };
    let tcp = packet.protocol == proto::TCP && !packet.fragment;
    // Bounded from the extension headers up, so the verifier sees a
    // length in 48..=QUOTE_MAX.
    let extensions = packet.l4_off.wrapping_sub(IP_OFF + IPV6_HEADER_LEN);
    if extensions > QUOTE_MAX - IPV6_HEADER_LEN - 20 {
        return drop_packet(DropReason::TooBig);
    }
    let quote_len = IPV6_HEADER_LEN + extensions + if tcp { 20 } else { 8 };
    let skb = ctx.skb.skb;
    // SAFETY: the destinations are this CPU's map value, as long as stated
    // (`quote_len` ≤ QUOTE_MAX, checked above).
    let copied = unsafe {
        bpf_skb_load_bytes(skb.cast(), 0, buf.macs.as_mut_ptr().cast(), 12) == 0
            && bpf_skb_load_bytes(
                skb.cast(),
                IP_OFF as u32,
                buf.quote.as_mut_ptr().cast(),
                quote_len as u32,
            ) == 0
    };
    if !copied {
        return drop_packet(DropReason::Malformed);
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
        return drop_packet(DropReason::Malformed);
    }
    let payload_len = (8 + quote_len) as u16;
    let (head, macs) = (&mut buf.head, &buf.macs);
    *head = [0u8; ETH_LEN + ERROR_HEADROOM];
    // Ethernet: back to the sender, from the MAC it sent to.
    head[0..6].copy_from_slice(&macs[6..12]);
    head[6..12].copy_from_slice(&macs[0..6]);
    head[12..14].copy_from_slice(&ETH_P_IPV6.to_be_bytes());
    // IPv6: the gateway → the sender.
    let ip = &mut head[ETH_LEN..ETH_LEN + IPV6_HEADER_LEN];
    ip[0] = 0x60;
    ip[4..6].copy_from_slice(&payload_len.to_be_bytes());
    ip[6] = ICMPV6;
    ip[7] = HOP_LIMIT;
    ip[8..24].copy_from_slice(&network.gateway);
    ip[24..40].copy_from_slice(&packet.src_ip);
    // ICMPv6: type, code, checksum, MTU.
    let icmp = ETH_LEN + IPV6_HEADER_LEN;
    head[icmp] = ICMPV6_PACKET_TOO_BIG;
    head[icmp + 4..icmp + 8].copy_from_slice(&mtu.to_be_bytes());
    let checksum = checksum(&network.gateway, &packet.src_ip, payload_len, buf);
    buf.head[icmp + 2..icmp + 4].copy_from_slice(&checksum.to_be_bytes());
    if ctx.store(0, &buf.head, 0).is_err() {
        return drop_packet(DropReason::Malformed);
    }
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation;
    // plain helper call into the container behind this veth.
    unsafe { bpf_redirect_peer((*skb).ifindex, 0) as i32 }
}

/// The ICMPv6 checksum: the pseudo-header (RFC 8200 §8.1), the ICMPv6
/// header in `buf.head` (checksum field zero) and the quote.
#[inline(always)]
fn checksum(src: &[u8; 16], dst: &[u8; 16], len: u16, buf: &TooBigBuf) -> u16 {
    let word = |b: &[u8], i: usize| u32::from(u16::from_be_bytes([b[i], b[i + 1]]));
    let mut sum: u32 = u32::from(len) + u32::from(ICMPV6);
    for i in 0..8 {
        sum += word(src, 2 * i) + word(dst, 2 * i);
    }
    let icmp = &buf.head[ETH_LEN + IPV6_HEADER_LEN..];
    for i in 0..4 {
        sum += word(icmp, 2 * i);
    }
    // The quote: its length is even (headers of whole 8-byte units, 8 or
    // 20 bytes of upper layer).
    let words = usize::from(len - 8) / 2;
    for i in 0..QUOTE_MAX / 2 {
        if i >= words {
            break;
        }
        sum += word(&buf.quote, 2 * i);
    }
    // At most 24 bits: two folds leave 16.
    sum = (sum & 0xffff) + (sum >> 16);
    sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}
