//! The egress MTU before a redirect out of an uplink. `bpf_redirect_neigh`
//! skips the forwarding path's MTU check, and a veth (or a NIC) drops a
//! frame larger than its MTU without a word; a router answers ICMP
//! "fragmentation needed" instead, and Path MTU Discovery relies on it.
//!
//! The error is written here (`icmp_reply`), from the untranslated packet,
//! as `ip_forward` would: from the container's gateway, quoting the IP
//! header and the start of the datagram (RFC 792), with the next-hop MTU
//! (RFC 1191). Writing it here rather than handing the packet to the
//! host's stack keeps it independent of the host's forwarding settings and
//! of what its FORWARD chain holds.
//!
//! Packets that enter a container (`Forward::Peer`) are not checked:
//! `bpf_redirect_peer` delivers into the container's stack, which accepts a
//! packet larger than its MTU (only a transmitting veth enforces it).
//!
//! Nor are the packets of a flow whose cached next hop ([`fits`], under
//! the current `NEXTHOP_GEN`, nexthop.rs) found the container's veth MTU no
//! larger than the egress device's: a container's stack sends no IP packet
//! and no GSO segment larger than its eth0's MTU, which ebpfnet sets to its
//! veth's, so none can be too big. The daemon moves the generation on
//! when any link's MTU changes, so a changed MTU is judged again on the
//! flow's next packet. (A container with `CAP_NET_ADMIN` that raises its
//! own eth0's MTU past its veth's gets, on such flows, its oversize
//! packets sent on rather than answered: the veth passes GSO packets and
//! 4 bytes more than its MTU for a VLAN tag.)

use aya_ebpf::{helpers::bpf_check_mtu, programs::TcContext};
use ebpfnet_common::{
    DropReason,
    maps::{Forward, NH_MTU_FITS, NatEntry, proto},
};

use crate::{
    counters::drop_packet,
    icmp,
    icmp_reply::{self, ErrorReply, ICMP_DEST_UNREACH, ICMP_FRAG_NEEDED, Toward},
    maps, nexthop,
    parse::{ETH_LEN, IP_DF, IP_FRAG_OFF, IP_OFF, Packet},
};

/// `Some(verdict)` when the packet is too big for the uplink `entry` sends
/// it out of: answered with "fragmentation needed" (without DF, counted as
/// `TooBig` too: the packet itself is lost, the datapath cannot fragment).
#[inline(always)]
pub fn enforce(ctx: &TcContext, packet: &Packet, entry: &NatEntry) -> Option<i32> {
    if entry.forward != Forward::Neigh as u8 {
        return None;
    }
    if entry.tcp_flags & NH_MTU_FITS != 0 && nexthop::is_current(entry) {
        return None;
    }
    let mut mtu: u32 = 0;
    // SAFETY: `skb` is this invocation's; `mtu` is a valid out pointer.
    let ret = unsafe { bpf_check_mtu(ctx.skb.skb.cast(), entry.ifindex, &mut mtu, 0, 0) };
    // No such device (< 0): the redirect itself reports that.
    if ret < 0 || ret == 0 && !segments_too_big(ctx, packet.protocol, packet.l4_off, mtu) {
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

/// Whether every packet that reaches this program through the current
/// device (a container's host-side veth) fits device `egress`: its MTU is
/// no smaller than the veth's. Asked once per flow and next-hop
/// generation, when the next hop is cached.
#[inline(always)]
pub fn fits(ctx: &TcContext, egress: u32) -> bool {
    // One slot for both answers: the callers' frames are tight.
    let mut mtu: u32 = 0;
    // SAFETY: as in `enforce`; ifindex 0 is the packet's current device.
    // Each call writes the device's MTU whatever it answers for the packet
    // itself; only a missing device fails (< 0).
    if unsafe { bpf_check_mtu(ctx.skb.skb.cast(), 0, &mut mtu, 0, 0) } < 0 {
        return false;
    }
    let here = mtu;
    mtu = 0;
    // SAFETY: as above.
    if unsafe { bpf_check_mtu(ctx.skb.skb.cast(), egress, &mut mtu, 0, 0) } < 0 {
        return false;
    }
    here != 0 && here <= mtu
}

/// Whether a GSO packet (which `bpf_check_mtu` passes whatever its length:
/// it is cut into segments later) has segments larger than `mtu`, as
/// `skb_gso_validate_network_len` judges them for `ip_forward`. Computed
/// here rather than with `BPF_MTU_CHK_SEGS`: since Linux stopped setting the
/// transport header on received packets, that flag fails with `-EINVAL` on
/// packets without one.
/// For either family: `l4_off` is where the TCP or UDP header starts.
#[inline(always)]
pub(crate) fn segments_too_big(ctx: &TcContext, protocol: u8, l4_off: usize, mtu: u32) -> bool {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let gso_size = unsafe { (*ctx.skb.skb).gso_size };
    if gso_size == 0 || ctx.len() <= mtu + ETH_LEN as u32 {
        return false;
    }
    match segment_l4_len(ctx, protocol, l4_off, gso_size) {
        Some(len) => (l4_off - IP_OFF) as u32 + len > mtu,
        None => false,
    }
}

/// How long each segment of a GSO packet of `gso_size` (payload bytes) is
/// from its L4 header (at `l4_off`, TCP or UDP) on: that header and
/// `gso_size`. `None` when the TCP header cannot be read.
#[inline(always)]
pub(crate) fn segment_l4_len(
    ctx: &TcContext,
    protocol: u8,
    l4_off: usize,
    gso_size: u32,
) -> Option<u32> {
    let l4_header = match protocol {
        proto::TCP => u32::from(ctx.load::<u8>(l4_off + 12).ok()? >> 4) * 4,
        proto::UDP => 8,
        _ => 0,
    };
    Some(l4_header + gso_size)
}

/// Turns the packet into ICMP "fragmentation needed" (`mtu`) back to the
/// container that sent it, from its gateway.
#[inline(always)]
fn frag_needed(ctx: &TcContext, packet: &Packet, mtu: u32) -> i32 {
    let Some(network) = maps::network_of(packet.src_ip) else {
        return drop_packet(DropReason::TooBig);
    };
    let reply = ErrorReply {
        icmp_type: ICMP_DEST_UNREACH,
        code: ICMP_FRAG_NEEDED,
        mtu: mtu as u16,
        source: network.gateway,
        toward: Toward::Container,
    };
    icmp_reply::send(ctx, packet, &reply)
}
