//! ICMP errors about IPv4 clients' flows into IPv6-only containers
//! (`nat46`), translated between the families with the packet they quote
//! (RFC 7915 §4.2 and §5.2; Cilium's `nat_46x64` maps only the outer
//! header): an ICMPv6 error from the container ("port unreachable",
//! "packet too big") reaches the client as the matching ICMPv4 error, from
//! the published address, quoting the client's own packet; an ICMPv4
//! error from the IPv4 side ("fragmentation needed" from a router towards
//! the client, ...) reaches the container as ICMPv6, from the sender's
//! address embedded in `64:ff9b:1::/96`, quoting the container's packet.
//! Types and codes map as `ebpfnet_common::nat46_icmp` says; what it does
//! not map is dropped (`untranslatable`), never passed on as it was.
//!
//! Only these packets take this path (`errors6` finds a `Nat46Reply`
//! entry; `uplink_ingress` tail-calls `uplink_ingress46` for an ICMP
//! error quoting a port marked in `NAT46_PORTS`): established flows never
//! come here. Both the outer and the quoted header change family, so the
//! packet grows or shrinks by 40 bytes: `bpf_skb_change_proto` moves 20
//! bytes after the Ethernet header, `bpf_skb_adjust_room` 20 more after
//! the outer IP header, and the three headers (outer IP, ICMP, quoted IP)
//! are written whole. The quoted L4 header keeps its place behind them:
//! its ports become the other side's and its checksum (when quoted)
//! follows the changed pseudo-header. The ICMP checksum is updated, not
//! recomputed over the quote: `bpf_csum_diff` of everything it covers
//! that changed, the ICMPv6 pseudo-header included (`Side6` keeps those
//! bytes adjacent for it).

use aya_ebpf::{
    btf_maps::PerCpuArray, helpers::bpf_redirect_neigh, macros::btf_map, programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    flows6::{FlowKey6, ICMPV6, NatEntry6},
    maps::{NatKind, proto},
    nat46, nat46_icmp,
};

use crate::{
    conntrack,
    counters::drop_packet,
    icmp,
    ip_header::{Fragmentation, IPV4_HEADER_LEN, Ipv4Header, Ipv6Header},
    ip_ident, nat,
    nat46_icmp_parts::{
        ICMP_HEADER_LEN, at_mut, csum_diff, head_of, load, quoted_csum, resize, s_ptr, store,
        store_tail, updated, write_icmp,
    },
    parse::{ETH_P_IP, ETH_P_IPV6, IP_OFF, Packet},
    parse6::{IPV6_HEADER_LEN, Packet6},
};

/// The headers written whole on each side: outer IP, ICMP, quoted IP.
const HEADERS4: usize = IPV4_HEADER_LEN + ICMP_HEADER_LEN + IPV4_HEADER_LEN;
const HEADERS6: usize = IPV6_HEADER_LEN + ICMP_HEADER_LEN + IPV6_HEADER_LEN;

/// The IPv4 side of an error. `csum` holds the quoted L4 checksum (when
/// quoted; else zero on both sides) and two zero bytes.
#[repr(C, align(4))]
struct Side4 {
    ip: Ipv4Header,
    icmp: [u8; ICMP_HEADER_LEN],
    quoted: Ipv4Header,
    ports: [u8; 4],
    csum: [u8; 4],
}

/// The IPv6 side, and after it the rest of the ICMPv6 pseudo-header
/// (length, three zero bytes, next header): from the outer source address
/// on, everything the ICMPv6 checksum covers that changes is adjacent.
#[repr(C, align(4))]
struct Side6 {
    ip: Ipv6Header,
    icmp: [u8; ICMP_HEADER_LEN],
    quoted: Ipv6Header,
    ports: [u8; 4],
    csum: [u8; 4],
    pseudo: [u8; 8],
}

/// Both sides of the error being translated, and the flow key it finds
/// its entry by: too much for the stack.
#[repr(C)]
pub struct Icmp46 {
    v4: Side4,
    v6: Side6,
    key: FlowKey6,
}

// The spans summed and stored below are these fields, adjacent.
const _: () = assert!(core::mem::size_of::<Side4>() == HEADERS4 + 8);
const _: () = assert!(core::mem::size_of::<Side6>() == HEADERS6 + 16);

#[btf_map]
static ICMP46: PerCpuArray<Icmp46, 1> = PerCpuArray::new();

/// What the ICMP checksum covers that changes: from the ICMP header to
/// the end of `Side4`; from the outer source address to the end of
/// `Side6` (the pseudo-header's addresses, length and next header).
const SUM4: (usize, u32) = (IPV4_HEADER_LEN, (HEADERS4 + 8 - IPV4_HEADER_LEN) as u32);
const SUM6: (usize, u32) = (8, (HEADERS6 + 16 - 8) as u32);
/// What the quoted L4 checksum covers that changes: the quoted addresses
/// (its pseudo-header; length and protocol sum alike) and ports.
const INNER4: (usize, u32) = (IPV4_HEADER_LEN + ICMP_HEADER_LEN + 12, 12);
const INNER6: (usize, u32) = (IPV6_HEADER_LEN + ICMP_HEADER_LEN + 8, 36);

/// An ICMPv6 error the container behind this veth sent about a packet of
/// an IPv4 client's flow (`entry`: the flow's `Nat46Reply`), hop limit
/// checked by `errors6`: sent to the client as ICMPv4 from the published
/// address, out of the uplink the flow came in on. A subprogram of its own.
#[inline(never)]
pub fn to_client(ctx: &TcContext, packet: &Packet6, entry: &NatEntry6) -> i32 {
    match ipv6_to_ipv4(ctx, packet, entry) {
        // SAFETY: plain helper call; the kernel resolves the IPv4 next hop.
        Ok(()) => unsafe { bpf_redirect_neigh(entry.ifindex, core::ptr::null_mut(), 0, 0) as i32 },
        Err(reason) => drop_packet(reason),
    }
}

/// An ICMPv4 error from an uplink (`uplink_ingress46`): when it is about
/// an IPv4 client's flow, the verdict (translated into the container, or
/// dropped); `None` otherwise (the caller goes on as `uplink_ingress`).
/// A subprogram of its own.
#[inline(never)]
pub fn from_uplink(ctx: &TcContext, packet: &Packet) -> Option<i32> {
    if !icmp::is_error(packet) || packet.l4_off != IP_OFF + IPV4_HEADER_LEN {
        return None;
    }
    // SAFETY: this CPU's slot, used by one program run at a time.
    let s = unsafe { &mut *ICMP46.get_ptr_mut(0)? };
    // The outer header, then ICMP header, quoted header and ports.
    load(ctx, IP_OFF, at_mut(&mut s.v4, 0), IPV4_HEADER_LEN)?;
    load(ctx, packet.l4_off, at_mut(&mut s.v4, IPV4_HEADER_LEN), 32)?;
    let q = &s.v4.quoted;
    // The quoted packet: a whole one or a first fragment, without options
    // (what `nat46_xlate::to_ipv4` sends), of TCP or UDP.
    if q.version_ihl != 0x45
        || q.fragment_offset() != 0
        || !matches!(q.protocol, proto::TCP | proto::UDP)
    {
        return None;
    }
    let (src, dst) = (q.src, q.dst);
    // An error goes to the sender of the packet it quotes.
    if packet.dst_ip != src {
        return None;
    }
    let p = s.v4.ports;
    // The direction the error travels in: client → host, as the IPv6
    // tables key it (nat46.rs).
    s.key = FlowKey6::new(
        nat46::client6(dst),
        u16::from_be_bytes([p[2], p[3]]),
        nat46::mapped(src),
        u16::from_be_bytes([p[0], p[1]]),
        q.protocol,
    );
    let entry = conntrack::peek(&s.key)?;
    if entry.kind != NatKind::Nat46Request as u8 {
        return None;
    }
    // Routed like the flow's packets: one hop less.
    if packet.ttl <= 1 {
        return Some(drop_packet(DropReason::TtlExceeded));
    }
    Some(match ipv4_to_ipv6(ctx, packet, entry, s) {
        Ok(()) => nat::deliver_to_container(ctx, entry.ifindex, entry.dst_mac),
        Err(reason) => drop_packet(reason),
    })
}

/// Rewrites the ICMPv4 error in `s.v4` (loaded) as ICMPv6 into the
/// container: from the sender embedded in `64:ff9b:1::/96`, quoting the
/// container's packet (container → client, as it sent it).
#[inline(always)]
fn ipv4_to_ipv6(
    ctx: &TcContext,
    packet: &Packet,
    entry: &NatEntry6,
    s: &mut Icmp46,
) -> Result<(), DropReason> {
    let (v4, v6) = (&mut s.v4, &mut s.v6);
    let quoted_len = u16::from_be_bytes(v4.quoted.total_len);
    let icmp = nat46_icmp::icmp4_to_icmp6(head_of(&v4.icmp), quoted_len)
        .ok_or(DropReason::Untranslatable)?;
    let old_icmp_csum = [v4.icmp[2], v4.icmp[3]];
    v4.icmp[2..4].fill(0);
    let protocol = v4.quoted.protocol;
    let csum_at = quoted_csum(ctx, protocol, IP_OFF + HEADERS4, &mut v4.csum);

    // The ICMPv6 payload is as long as the IPv4 packet was: 20 bytes
    // more for each IP header, less the outer IPv4 header.
    let length = u16::from_be_bytes(v4.ip.total_len);
    v6.ip = Ipv6Header::new(
        v4.ip.tos,
        length,
        ICMPV6,
        packet.ttl - 1,
        (nat46::client6(packet.src_ip), entry.new_dst_ip),
    );
    write_icmp(&mut v6.icmp, icmp);
    let payload = quoted_len
        .checked_sub(IPV4_HEADER_LEN as u16)
        .ok_or(DropReason::Malformed)?;
    // Container → client, as the container sent it.
    v6.quoted = Ipv6Header::new(
        v4.quoted.tos,
        payload,
        protocol,
        v4.quoted.ttl,
        (entry.new_dst_ip, entry.new_src_ip),
    );
    v6.ports[0..2].copy_from_slice(&entry.new_dst_port.to_be_bytes());
    v6.ports[2..4].copy_from_slice(&entry.new_src_port.to_be_bytes());
    v6.pseudo = [0, 0, 0, 0, 0, 0, 0, ICMPV6];
    v6.pseudo[2..4].copy_from_slice(&length.to_be_bytes());

    v6.csum = v4.csum;
    if csum_at.is_some() {
        let diff = csum_diff(
            s_ptr(&*v4, INNER4.0),
            INNER4.1,
            s_ptr(&*v6, INNER6.0),
            INNER6.1,
        )?;
        v6.csum[0..2].copy_from_slice(&updated([v4.csum[0], v4.csum[1]], diff, protocol));
    }
    let diff = csum_diff(s_ptr(&*v4, SUM4.0), SUM4.1, s_ptr(&*v6, SUM6.0), SUM6.1)?;
    v6.icmp[2..4].copy_from_slice(&updated(old_icmp_csum, diff, 0));

    resize(
        ctx,
        ETH_P_IPV6,
        IPV6_HEADER_LEN as i32 - IPV4_HEADER_LEN as i32,
    )?;
    store(ctx, IP_OFF, s_ptr(&*v6, 0), HEADERS6)?;
    store_tail(ctx, IP_OFF + HEADERS6, &v6.ports, csum_at, &v6.csum)
}

/// Rewrites the ICMPv6 error (`packet`, from the container) as ICMPv4 to
/// the client, from the published address, quoting the client's packet.
#[inline(always)]
fn ipv6_to_ipv4(ctx: &TcContext, packet: &Packet6, entry: &NatEntry6) -> Result<(), DropReason> {
    // The ICMPv6 header right after the fixed one (so is the quoted
    // packet's L4 header: `errors6` read the quote).
    if packet.l4_off != IP_OFF + IPV6_HEADER_LEN || packet.hop_limit <= 1 {
        return Err(DropReason::Untranslatable);
    }
    // SAFETY: this CPU's slot, used by one program run at a time.
    let s = unsafe { &mut *ICMP46.get_ptr_mut(0).ok_or(DropReason::Malformed)? };
    let (v4, v6) = (&mut s.v4, &mut s.v6);
    load(ctx, IP_OFF, at_mut(&mut *v6, 0), IPV6_HEADER_LEN).ok_or(DropReason::Malformed)?;
    load(ctx, packet.l4_off, at_mut(&mut *v6, IPV6_HEADER_LEN), 52).ok_or(DropReason::Malformed)?;
    let protocol = v6.quoted.next_header;
    if v6.quoted.version() != 6 || !matches!(protocol, proto::TCP | proto::UDP) {
        return Err(DropReason::Untranslatable);
    }
    let icmp = nat46_icmp::icmp6_to_icmp4(head_of(&v6.icmp)).ok_or(DropReason::Untranslatable)?;
    let old_icmp_csum = [v6.icmp[2], v6.icmp[3]];
    v6.icmp[2..4].fill(0);
    let csum_at = quoted_csum(ctx, protocol, IP_OFF + HEADERS6, &mut v6.csum);
    let length = u16::from_be_bytes(v6.ip.payload_len);
    v6.pseudo = [0, 0, 0, 0, 0, 0, 0, ICMPV6];
    v6.pseudo[2..4].copy_from_slice(&length.to_be_bytes());

    // The IPv4 packet is as long as the ICMPv6 payload was.
    let (host, client) = (
        nat46::embedded(&entry.new_src_ip),
        nat46::embedded(&entry.new_dst_ip),
    );
    // DF as for the flow's packets (RFC 7915 §5.1; an error of at most
    // 1280 bytes as IPv6 has none).
    let fragmentation = ip_ident::fragmentation(length, host, client, proto::ICMP, 1);
    v4.ip = Ipv4Header::new(
        v6.ip.traffic_class(),
        length,
        proto::ICMP,
        packet.hop_limit - 1,
        (host, client),
        fragmentation,
    );
    write_icmp(&mut v4.icmp, icmp);
    // Client → host, as the client sent it.
    let quoted_len = u16::from_be_bytes(v6.quoted.payload_len)
        .checked_add(IPV4_HEADER_LEN as u16)
        .ok_or(DropReason::Malformed)?;
    v4.quoted = Ipv4Header::new(
        v6.quoted.traffic_class(),
        quoted_len,
        protocol,
        v6.quoted.hop_limit,
        (client, host),
        // Its own ID is lost with IPv6 (the client matches an error by
        // addresses and ports).
        Fragmentation {
            dont_fragment: nat46::dont_fragment(quoted_len),
            id: 0,
        },
    );
    v4.ports[0..2].copy_from_slice(&entry.new_dst_port.to_be_bytes());
    v4.ports[2..4].copy_from_slice(&entry.new_src_port.to_be_bytes());

    v4.csum = v6.csum;
    if csum_at.is_some() {
        let diff = csum_diff(
            s_ptr(&*v6, INNER6.0),
            INNER6.1,
            s_ptr(&*v4, INNER4.0),
            INNER4.1,
        )?;
        v4.csum[0..2].copy_from_slice(&updated([v6.csum[0], v6.csum[1]], diff, protocol));
    }
    let diff = csum_diff(s_ptr(&*v6, SUM6.0), SUM6.1, s_ptr(&*v4, SUM4.0), SUM4.1)?;
    v4.icmp[2..4].copy_from_slice(&updated(old_icmp_csum, diff, 0));

    resize(
        ctx,
        ETH_P_IP,
        IPV4_HEADER_LEN as i32 - IPV6_HEADER_LEN as i32,
    )?;
    store(ctx, IP_OFF, s_ptr(&*v4, 0), HEADERS4)?;
    store_tail(ctx, IP_OFF + HEADERS4, &v4.ports, csum_at, &v4.csum)
}
