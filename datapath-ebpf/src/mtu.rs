//! The egress MTU before a redirect out of an uplink. `bpf_redirect_neigh`
//! skips the forwarding path's MTU check, and a veth (or a NIC) drops a
//! frame larger than its MTU without a word; a router answers ICMP
//! "fragmentation needed" instead, and Path MTU Discovery relies on it.
//!
//! The packet cannot simply be handed to the host's stack to answer: a
//! container's veth is a bridge port, so the stack would route it from the
//! bridge, where forwarding is off (and must stay off, or every packet the
//! programs pass on would leave untranslated): it drops it silently. So the
//! error is written here, from the untranslated packet, as `ip_forward`
//! would: from the container's gateway, quoting the IP header and the start
//! of the datagram (RFC 792), with the next-hop MTU (RFC 1191).
//!
//! Packets that enter a container (`Forward::Peer`) are not checked:
//! `bpf_redirect_peer` delivers into the container's stack, which accepts a
//! packet larger than its MTU (only a transmitting veth enforces it).

use aya_ebpf::{
    helpers::{
        bpf_check_mtu, bpf_redirect_peer, bpf_skb_adjust_room, bpf_skb_change_tail,
        bpf_skb_load_bytes,
    },
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    maps::{Forward, NatEntry, proto},
};

use crate::{
    counters::drop_packet,
    icmp::{self, Sum},
    maps, scratch,
    parse::{ETH_LEN, ETH_P_IP, IP_DF, IP_FRAG_OFF, IP_OFF, Packet},
};

/// `BPF_ADJ_ROOM_MAC`: room between the L2 and L3 headers.
const BPF_ADJ_ROOM_MAC: u32 = 1;

const ICMP_DEST_UNREACH: u8 = 3;
const ICMP_FRAG_NEEDED: u8 = 4;
/// `IPTOS_PREC_INTERNETCONTROL`, the TOS Linux gives its ICMP errors.
const TOS_INTERNETCONTROL: u8 = 0xc0;
/// Outer IPv4 header (20) + ICMP header (8) put in front of the quote.
const ERROR_HEADROOM: u32 = 28;

/// `Some(verdict)` when the packet is too big for the uplink `entry` sends
/// it out of: answered with "fragmentation needed" (without DF, counted as
/// `TooBig` too: the packet itself is lost, the datapath cannot fragment).
#[inline(always)]
pub fn enforce(ctx: &TcContext, packet: &Packet, entry: &NatEntry) -> Option<i32> {
    if entry.forward != Forward::Neigh as u8 {
        return None;
    }
    let mut mtu: u32 = 0;
    // SAFETY: `skb` is this invocation's; `mtu` is a valid out pointer.
    let ret = unsafe { bpf_check_mtu(ctx.skb.skb.cast(), entry.ifindex, &mut mtu, 0, 0) };
    // No such device (< 0): the redirect itself reports that.
    if ret < 0 || ret == 0 && !segments_too_big(ctx, packet, mtu) {
        return None;
    }
    let frag = u16::from_be_bytes(ctx.load(IP_FRAG_OFF).ok()?);
    // Never an ICMP error about an ICMP error (RFC 1122 3.2.2), nor about
    // a later fragment, whose quote would name no socket.
    if icmp::is_error(packet) || packet.fragment {
        return Some(drop_packet(DropReason::TooBig));
    }
    if frag & IP_DF == 0 {
        // A router would fragment it; the datapath cannot, so this one is
        // lost (counted). Its sender is told the MTU all the same: Linux
        // lowers the path MTU on "fragmentation needed" whether or not the
        // packet had DF, and fragments to it from the next datagram on.
        let _ = drop_packet(DropReason::TooBig);
    }
    Some(frag_needed(ctx, packet, mtu))
}

/// Whether a GSO packet (which `bpf_check_mtu` passes whatever its length:
/// it is cut into segments later) has segments larger than `mtu`, as
/// `skb_gso_validate_network_len` judges them for `ip_forward`. Computed
/// here rather than with `BPF_MTU_CHK_SEGS`: since Linux stopped setting the
/// transport header on received packets, that flag fails with `-EINVAL` on
/// packets without one.
#[inline(always)]
fn segments_too_big(ctx: &TcContext, packet: &Packet, mtu: u32) -> bool {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let gso_size = unsafe { (*ctx.skb.skb).gso_size };
    if gso_size == 0 || ctx.len() <= mtu + ETH_LEN as u32 {
        return false;
    }
    let l4_header = match packet.protocol {
        proto::TCP => match ctx.load::<u8>(packet.l4_off + 12) {
            Ok(offset) => u32::from(offset >> 4) * 4,
            Err(_) => return false,
        },
        proto::UDP => 8,
        _ => 0,
    };
    (packet.l4_off - IP_OFF) as u32 + l4_header + gso_size > mtu
}

/// Turns the packet into ICMP "fragmentation needed" (`mtu`) back to the
/// container that sent it, behind this hook's veth. A subprogram of its
/// own: building the error takes stack the translation paths that inline
/// `nat::apply` cannot spare.
#[inline(never)]
fn frag_needed(ctx: &TcContext, packet: &Packet, mtu: u32) -> i32 {
    let Some(network) = maps::network_of(packet.src_ip) else {
        return drop_packet(DropReason::TooBig);
    };
    // The IP header and 8 bytes of the datagram (RFC 792); 20 for TCP,
    // whose checksum field must stay inside a CHECKSUM_PARTIAL packet
    // (bpf_skb_change_tail refuses to cut before it).
    let tcp = packet.protocol == proto::TCP && !packet.fragment;
    let l4_len: usize = if tcp { 20 } else { 8 };
    let Some(buf) = scratch::error_buf() else {
        return drop_packet(DropReason::TooBig);
    };
    // Fixed lengths (aya's load_bytes clamps to what is left, which the
    // verifier refuses as possibly zero).
    // SAFETY: the destinations are this CPU's map value, as long as stated.
    let copied = unsafe {
        bpf_skb_load_bytes(ctx.skb.skb.cast(), 0, buf.macs.as_mut_ptr().cast(), 12) == 0
            && bpf_skb_load_bytes(
                ctx.skb.skb.cast(),
                packet.l4_off as u32,
                buf.quoted_l4.as_mut_ptr().cast(),
                20,
            ) == 0
    };
    if !copied {
        return drop_packet(DropReason::Malformed);
    }
    let quote_len = (packet.l4_off - IP_OFF + l4_len) as u32;
    let skb = ctx.skb.skb;
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
    let (head, macs, quoted_l4) = (&mut buf.head, &buf.macs, &buf.quoted_l4);
    *head = [0u8; ETH_LEN + ERROR_HEADROOM as usize];
    // Ethernet: back to the container, from the MAC it sent to.
    head[0..6].copy_from_slice(&macs[6..12]);
    head[6..12].copy_from_slice(&macs[0..6]);
    head[12..14].copy_from_slice(&ETH_P_IP.to_be_bytes());
    // IPv4: gateway → container, no options, not fragmented.
    let ip = &mut head[ETH_LEN..ETH_LEN + 20];
    ip[0] = 0x45;
    ip[1] = TOS_INTERNETCONTROL;
    ip[2..4].copy_from_slice(&total.to_be_bytes());
    ip[8] = 64;
    ip[9] = proto::ICMP;
    ip[12..16].copy_from_slice(&network.gateway);
    ip[16..20].copy_from_slice(&packet.src_ip);
    let ip_csum = Sum::of(ip).checksum();
    ip[10..12].copy_from_slice(&ip_csum.to_be_bytes());
    // ICMP: type 3 code 4, next-hop MTU in the low half of the second word.
    let icmp = &mut head[ETH_LEN + 20..];
    icmp[0] = ICMP_DEST_UNREACH;
    icmp[1] = ICMP_FRAG_NEEDED;
    icmp[6..8].copy_from_slice(&(mtu as u16).to_be_bytes());
    // The quoted IP header sums to 0xffff (its own checksum makes it so),
    // which adds nothing in ones' complement: the ICMP checksum needs only
    // the ICMP header and the quoted bytes of the datagram.
    let mut sum = Sum::of(icmp);
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
    // SAFETY: plain helper call.
    unsafe { bpf_redirect_peer(ifindex, 0) as i32 }
}
