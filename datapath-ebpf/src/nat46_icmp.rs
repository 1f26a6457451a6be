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
    bindings::BPF_F_RECOMPUTE_CSUM,
    btf_maps::PerCpuArray,
    helpers::{bpf_csum_diff, bpf_redirect_neigh, bpf_skb_load_bytes, bpf_skb_store_bytes},
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason,
    flows6::{FlowKey6, ICMPV6, NatEntry6},
    maps::{NatKind, proto},
    nat46,
    nat46_icmp::{self, IcmpHead},
};

use crate::{
    conntrack,
    counters::drop_packet,
    icmp, nat,
    parse::{ETH_P_IP, ETH_P_IPV6, IP_OFF, Packet},
    parse6::{IPV6_HEADER_LEN, Packet6},
};

const IPV4_HEADER_LEN: usize = 20;
const ICMP_HEADER_LEN: usize = 8;
const ETHERTYPE_OFF: usize = 12;
/// `BPF_ADJ_ROOM_NET`: room right after the (base) network header.
const BPF_ADJ_ROOM_NET: u32 = 0;
/// The headers written whole on each side: outer IP, ICMP, quoted IP.
const HEADERS4: usize = IPV4_HEADER_LEN + ICMP_HEADER_LEN + IPV4_HEADER_LEN;
const HEADERS6: usize = IPV6_HEADER_LEN + ICMP_HEADER_LEN + IPV6_HEADER_LEN;

/// The IPv4 side of an error. `csum` holds the quoted L4 checksum (when
/// quoted; else zero on both sides) and two zero bytes.
#[repr(C, align(4))]
struct Side4 {
    ip: [u8; IPV4_HEADER_LEN],
    icmp: [u8; ICMP_HEADER_LEN],
    quoted: [u8; IPV4_HEADER_LEN],
    ports: [u8; 4],
    csum: [u8; 4],
}

/// The IPv6 side, and after it the rest of the ICMPv6 pseudo-header
/// (length, three zero bytes, next header): from the outer source address
/// on, everything the ICMPv6 checksum covers that changes is adjacent.
#[repr(C, align(4))]
struct Side6 {
    ip: [u8; IPV6_HEADER_LEN],
    icmp: [u8; ICMP_HEADER_LEN],
    quoted: [u8; IPV6_HEADER_LEN],
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
    let offset = u16::from_be_bytes([q[6], q[7]]) & 0x1fff;
    if q[0] != 0x45 || offset != 0 || !matches!(q[9], proto::TCP | proto::UDP) {
        return None;
    }
    let (src, dst) = ([q[12], q[13], q[14], q[15]], [q[16], q[17], q[18], q[19]]);
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
        q[9],
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
    let quoted_len = u16::from_be_bytes([v4.quoted[2], v4.quoted[3]]);
    let icmp = nat46_icmp::icmp4_to_icmp6(head_of(&v4.icmp), quoted_len)
        .ok_or(DropReason::Untranslatable)?;
    let old_icmp_csum = [v4.icmp[2], v4.icmp[3]];
    v4.icmp[2..4].fill(0);
    let csum_at = quoted_csum(ctx, v4.quoted[9], IP_OFF + HEADERS4, &mut v4.csum);

    // The ICMPv6 payload is as long as the IPv4 packet was: 20 bytes
    // more for each IP header, less the outer IPv4 header.
    let length = u16::from_be_bytes([v4.ip[2], v4.ip[3]]);
    write_ipv6(&mut v6.ip, v4.ip[1], length, ICMPV6, packet.ttl - 1);
    v6.ip[8..24].copy_from_slice(&nat46::client6(packet.src_ip));
    v6.ip[24..40].copy_from_slice(&entry.new_dst_ip);
    write_icmp(&mut v6.icmp, icmp);
    let payload = quoted_len
        .checked_sub(IPV4_HEADER_LEN as u16)
        .ok_or(DropReason::Malformed)?;
    write_ipv6(
        &mut v6.quoted,
        v4.quoted[1],
        payload,
        v4.quoted[9],
        v4.quoted[8],
    );
    // Container → client, as the container sent it.
    v6.quoted[8..24].copy_from_slice(&entry.new_dst_ip);
    v6.quoted[24..40].copy_from_slice(&entry.new_src_ip);
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
        v6.csum[0..2].copy_from_slice(&updated([v4.csum[0], v4.csum[1]], diff, v4.quoted[9]));
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
    let protocol = v6.quoted[6];
    if v6.quoted[0] >> 4 != 6 || !matches!(protocol, proto::TCP | proto::UDP) {
        return Err(DropReason::Untranslatable);
    }
    let icmp = nat46_icmp::icmp6_to_icmp4(head_of(&v6.icmp)).ok_or(DropReason::Untranslatable)?;
    let old_icmp_csum = [v6.icmp[2], v6.icmp[3]];
    v6.icmp[2..4].fill(0);
    let csum_at = quoted_csum(ctx, protocol, IP_OFF + HEADERS6, &mut v6.csum);
    let length = u16::from_be_bytes([v6.ip[4], v6.ip[5]]);
    v6.pseudo = [0, 0, 0, 0, 0, 0, 0, ICMPV6];
    v6.pseudo[2..4].copy_from_slice(&length.to_be_bytes());

    // The IPv4 packet is as long as the ICMPv6 payload was.
    let (host, client) = (
        nat46::embedded(&entry.new_src_ip),
        nat46::embedded(&entry.new_dst_ip),
    );
    let tos = (v6.ip[0] << 4) | (v6.ip[1] >> 4);
    write_ipv4(&mut v4.ip, tos, length, proto::ICMP, packet.hop_limit - 1);
    v4.ip[6] = 0;
    v4.ip[12..16].copy_from_slice(&host);
    v4.ip[16..20].copy_from_slice(&client);
    set_ipv4_checksum(&mut v4.ip)?;
    write_icmp(&mut v4.icmp, icmp);
    // Client → host, as the client sent it.
    let quoted_len = u16::from_be_bytes([v6.quoted[4], v6.quoted[5]])
        .checked_add(IPV4_HEADER_LEN as u16)
        .ok_or(DropReason::Malformed)?;
    let tos = (v6.quoted[0] << 4) | (v6.quoted[1] >> 4);
    write_ipv4(&mut v4.quoted, tos, quoted_len, protocol, v6.quoted[7]);
    v4.quoted[12..16].copy_from_slice(&client);
    v4.quoted[16..20].copy_from_slice(&host);
    set_ipv4_checksum(&mut v4.quoted)?;
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

/// The type, code and second word of an ICMP header.
#[inline(always)]
fn head_of(icmp: &[u8; ICMP_HEADER_LEN]) -> IcmpHead {
    IcmpHead {
        kind: icmp[0],
        code: icmp[1],
        rest: [icmp[4], icmp[5], icmp[6], icmp[7]],
    }
}

/// Writes `head` with a zero checksum.
#[inline(always)]
fn write_icmp(icmp: &mut [u8; ICMP_HEADER_LEN], head: IcmpHead) {
    *icmp = [
        head.kind,
        head.code,
        0,
        0,
        head.rest[0],
        head.rest[1],
        head.rest[2],
        head.rest[3],
    ];
}

/// An IPv6 header's first 8 bytes (traffic class from `tos`, no flow
/// label); the addresses are the caller's.
#[inline(always)]
fn write_ipv6(ip: &mut [u8; IPV6_HEADER_LEN], tos: u8, payload: u16, next: u8, hops: u8) {
    let len = payload.to_be_bytes();
    ip[0..8].copy_from_slice(&[
        0x60 | (tos >> 4),
        tos << 4,
        0,
        0,
        len[0],
        len[1],
        next,
        hops,
    ]);
}

/// An IPv4 header without options, DF set, ID 0 (as `nat46_xlate`
/// writes them), checksum zero; the addresses are the caller's.
#[inline(always)]
fn write_ipv4(ip: &mut [u8; IPV4_HEADER_LEN], tos: u8, total: u16, protocol: u8, ttl: u8) {
    let len = total.to_be_bytes();
    ip[0..12].copy_from_slice(&[
        0x45, tos, len[0], len[1], 0, 0, 0x40, 0, ttl, protocol, 0, 0,
    ]);
}

/// Fills in the checksum of an IPv4 header whose checksum field is zero.
#[inline(always)]
fn set_ipv4_checksum(ip: &mut [u8; IPV4_HEADER_LEN]) -> Result<(), DropReason> {
    let sum = csum_diff(core::ptr::null(), 0, ip.as_ptr(), IPV4_HEADER_LEN as u32)?;
    ip[10..12].copy_from_slice(&(!fold(u64::from(sum))).to_ne_bytes());
    Ok(())
}

/// Where the quoted L4 checksum of `protocol` sits when the quote (its L4
/// header at `l4`) holds it; its bytes go into `csum` (zero otherwise).
#[inline(always)]
fn quoted_csum(ctx: &TcContext, protocol: u8, l4: usize, csum: &mut [u8; 4]) -> Option<usize> {
    let at = l4 + if protocol == proto::TCP { 16 } else { 6 };
    *csum = [0; 4];
    match ctx.load::<[u8; 2]>(at) {
        Ok(bytes) => {
            csum[0..2].copy_from_slice(&bytes);
            Some(at - l4)
        }
        Err(_) => None,
    }
}

/// Gives the packet the family of `ethertype` (`bpf_skb_change_proto`)
/// and `grow` more bytes (or fewer) after its new IP header: room for the
/// headers written next.
#[inline(always)]
fn resize(ctx: &TcContext, ethertype: u16, grow: i32) -> Result<(), DropReason> {
    ctx.change_proto(ethertype.to_be(), 0)
        .map_err(|_| DropReason::Untranslatable)?;
    ctx.adjust_room(grow, BPF_ADJ_ROOM_NET, 0)
        .map_err(|_| DropReason::Untranslatable)?;
    let ethertype = ethertype.to_be();
    ctx.store(ETHERTYPE_OFF, &ethertype, 0)
        .map_err(|_| DropReason::Malformed)
}

/// The quoted L4 ports (at `l4`), and its checksum when quoted.
#[inline(always)]
fn store_tail(
    ctx: &TcContext,
    l4: usize,
    ports: &[u8; 4],
    csum_at: Option<usize>,
    csum: &[u8; 4],
) -> Result<(), DropReason> {
    store(ctx, l4, ports.as_ptr(), 4)?;
    match csum_at {
        Some(at) => store(ctx, l4 + at, csum.as_ptr(), 2),
        None => Ok(()),
    }
}

/// A pointer `offset` bytes into `side` (one of this CPU's `Side4`,
/// `Side6`), for the checksum helper.
#[inline(always)]
fn s_ptr<T>(side: &T, offset: usize) -> *const u8 {
    // SAFETY: callers pass offsets of spans inside `side` (the constants
    // above, checked against the types' sizes).
    unsafe { (side as *const T).cast::<u8>().add(offset) }
}

/// The same, writable (for loads into the scratch).
#[inline(always)]
fn at_mut<T>(side: &mut T, offset: usize) -> *mut u8 {
    // SAFETY: as in `s_ptr`.
    unsafe { (side as *mut T).cast::<u8>().add(offset) }
}

/// `bpf_csum_diff`: the sum of `to` less the sum of `from` (32 bits,
/// unfolded), both this CPU's map memory of the sizes given.
#[inline(always)]
fn csum_diff(
    from: *const u8,
    from_len: u32,
    to: *const u8,
    to_len: u32,
) -> Result<u32, DropReason> {
    // SAFETY: both spans lie in this CPU's `ICMP46` value (or `from` is
    // null with size 0); the helper only reads them.
    let diff = unsafe { bpf_csum_diff(from as *mut u32, from_len, to as *mut u32, to_len, 0) };
    if diff < 0 {
        return Err(DropReason::Malformed);
    }
    Ok(diff as u32)
}

/// Folds a sum of 16-bit words (in memory order) to 16 bits.
#[inline(always)]
fn fold(sum: u64) -> u16 {
    let sum = (sum & 0xffff_ffff) + (sum >> 32);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    sum as u16
}

/// The checksum field `old` (as stored) after the data it covers changed
/// by `diff` (RFC 1624). A UDP checksum (`protocol`) of zero means none
/// and stays; a computed zero is sent as all ones (RFC 768).
#[inline(always)]
fn updated(old: [u8; 2], diff: u32, protocol: u8) -> [u8; 2] {
    let old = u16::from_ne_bytes(old);
    if protocol == proto::UDP && old == 0 {
        return [0; 2];
    }
    let new = !fold(u64::from(!old) + u64::from(diff));
    if protocol == proto::UDP && new == 0 {
        return [0xff; 2];
    }
    new.to_ne_bytes()
}

/// Reads `len` bytes at `offset` into this CPU's scratch.
#[inline(always)]
fn load(ctx: &TcContext, offset: usize, to: *mut u8, len: usize) -> Option<()> {
    // SAFETY: `to` points into this CPU's `ICMP46` value with `len` bytes
    // of room (constants at every call).
    let ret =
        unsafe { bpf_skb_load_bytes(ctx.skb.skb.cast(), offset as u32, to.cast(), len as u32) };
    (ret == 0).then_some(())
}

/// Writes `len` bytes of this CPU's scratch at `offset`; a
/// `CHECKSUM_COMPLETE` sum follows the change.
#[inline(always)]
fn store(ctx: &TcContext, offset: usize, from: *const u8, len: usize) -> Result<(), DropReason> {
    // SAFETY: `from` points into this CPU's `ICMP46` value with `len`
    // bytes (constants at every call); the helper only reads it.
    let ret = unsafe {
        bpf_skb_store_bytes(
            ctx.skb.skb.cast(),
            offset as u32,
            from.cast(),
            len as u32,
            u64::from(BPF_F_RECOMPUTE_CSUM),
        )
    };
    if ret == 0 {
        Ok(())
    } else {
        Err(DropReason::Malformed)
    }
}
