//! Header translation between IPv4 and IPv6 for `nat46` (SIIT, RFC 7915,
//! as Cilium's `lib/nat_46x64.h`): `bpf_skb_change_proto` makes room for
//! (or takes away) the 20 bytes the IPv6 header has more, the new header
//! is written whole, and the L4 checksum follows the pseudo-header's
//! change (the addresses: both pseudo-headers sum length and protocol
//! alike) with `bpf_csum_diff`, then the port the entry rewrites. TCP and
//! UDP only; IPv4 options, UDP without checksum (IPv6 requires one) and
//! IPv6 extension headers are not translated. IPv4 packets of up to 1260
//! bytes (a GSO packet's: its segments) leave without DF and with an
//! Identification (`ip_ident`), larger ones with DF and ID 0 (RFC 7915
//! §5.1): an IPv4 hop below 1280 bytes fragments the small ones, and
//! "fragmentation needed" about the others brings the container's path
//! MTU down to 1280 (`nat46_icmp`).

use aya_ebpf::{
    bindings::{BPF_F_MARK_MANGLED_0, BPF_F_PSEUDO_HDR, BPF_F_RECOMPUTE_CSUM},
    helpers::bpf_csum_diff,
    programs::TcContext,
};
use ebpfnet_common::{DropReason, flows6::NatEntry6, maps::proto, nat46};

use crate::{
    ip_header::{IPV4_HEADER_LEN, Ipv4Header, Ipv6Header, traffic_class},
    ip_ident, mtu, nat6,
    parse::{ETH_P_IP, ETH_P_IPV6, IP_OFF, Packet},
    parse6::Packet6,
};

const ETHERTYPE_OFF: usize = 12;
const SRC_PORT_OFF: usize = 0;
const DST_PORT_OFF: usize = 2;

/// Where the L4 checksum sits from the L4 header, and its update flags.
#[inline(always)]
fn l4_checksum(protocol: u8) -> Result<(usize, u64), DropReason> {
    match protocol {
        proto::TCP => Ok((16, 0)),
        // Translated UDP always has a checksum (zero ones are refused).
        proto::UDP => Ok((6, u64::from(BPF_F_MARK_MANGLED_0))),
        _ => Err(DropReason::Untranslatable),
    }
}

/// Rewrites the port at `l4 + field` from `old` to `new` (host order).
#[inline(always)]
fn set_port(
    ctx: &TcContext,
    l4: usize,
    csum: (usize, u64),
    field: usize,
    old: u16,
    new: u16,
) -> Result<(), DropReason> {
    if old == new {
        return Ok(());
    }
    let (old_be, new_be) = (old.to_be(), new.to_be());
    ctx.l4_csum_replace(
        l4 + csum.0,
        u64::from(old_be),
        u64::from(new_be),
        csum.1 | 2,
    )
    .map_err(|_| DropReason::Malformed)?;
    ctx.store(l4 + field, &new_be, 0)
        .map_err(|_| DropReason::Malformed)
}

/// Whether `packet` (IPv4) can be translated: no options, TCP or UDP,
/// a UDP checksum present. Checked before a new flow claims its entries.
#[inline(always)]
pub fn translatable(ctx: &TcContext, packet: &Packet) -> Result<(), DropReason> {
    if packet.l4_off != IP_OFF + IPV4_HEADER_LEN {
        return Err(DropReason::Untranslatable);
    }
    let csum = l4_checksum(packet.protocol)?;
    if packet.protocol == proto::UDP {
        let sum: [u8; 2] = ctx
            .load(packet.l4_off + csum.0)
            .map_err(|_| DropReason::Malformed)?;
        // No checksum: IPv6 needs one, and computing it means reading the
        // whole datagram.
        if sum == [0, 0] {
            return Err(DropReason::Untranslatable);
        }
    }
    Ok(())
}

/// `packet` (IPv4, from an uplink) becomes IPv6 from `entry.new_src_ip`
/// to `entry.new_dst_ip` and port, one hop less (the caller checked the
/// TTL is above 1).
#[inline(never)]
pub fn to_ipv6(ctx: &TcContext, packet: &Packet, entry: &NatEntry6) -> Result<(), DropReason> {
    let head: [u8; 4] = ctx.load(IP_OFF).map_err(|_| DropReason::Malformed)?;
    // Options have no IPv6 counterpart here (Cilium refuses them too).
    if head[0] != 0x45 {
        return Err(DropReason::Untranslatable);
    }
    let total = u16::from_be_bytes([head[2], head[3]]);
    let payload = total
        .checked_sub(IPV4_HEADER_LEN as u16)
        .ok_or(DropReason::Malformed)?;
    translatable(ctx, packet)?;
    let csum = l4_checksum(packet.protocol)?;
    let header = Ipv6Header::new(
        head[1],
        payload,
        packet.protocol,
        packet.ttl - 1,
        (entry.new_src_ip, entry.new_dst_ip),
    );
    let mut from = [
        u32::from_ne_bytes(packet.src_ip),
        u32::from_ne_bytes(packet.dst_ip),
    ];
    // SAFETY: both buffers are on this stack, of the sizes given.
    let diff = unsafe { bpf_csum_diff(from.as_mut_ptr(), 8, header.addrs() as *mut u32, 32, 0) };
    let ports = (packet.src_port, packet.dst_port);
    switch_family(ctx, ETH_P_IPV6, &header, diff, csum, ports, entry)
}

/// `packet` (IPv6, from a container, TCP or UDP right after the fixed
/// header; its hop limit above 1) becomes IPv4 from and to the addresses
/// embedded in `entry`'s, with DF as RFC 7915 §5.1 says.
#[inline(never)]
pub fn to_ipv4(ctx: &TcContext, packet: &Packet6, entry: &NatEntry6) -> Result<(), DropReason> {
    let fixed: [u8; 8] = ctx.load(IP_OFF).map_err(|_| DropReason::Malformed)?;
    let payload = u16::from_be_bytes([fixed[4], fixed[5]]);
    let total = payload
        .checked_add(IPV4_HEADER_LEN as u16)
        .ok_or(DropReason::Untranslatable)?;
    let csum = l4_checksum(packet.protocol)?;
    let (src, dst) = (
        nat46::embedded(&entry.new_src_ip),
        nat46::embedded(&entry.new_dst_ip),
    );
    let (segment, segments) = segments(ctx, packet, total)?;
    let fragmentation = ip_ident::fragmentation(segment, src, dst, packet.protocol, segments);
    let header = Ipv4Header::new(
        traffic_class([fixed[0], fixed[1]]),
        total,
        packet.protocol,
        packet.hop_limit - 1,
        (src, dst),
        fragmentation,
    );
    let [a, b, c, d] = nat6::words(&packet.src_ip);
    let [e, f, g, h] = nat6::words(&packet.dst_ip);
    let mut from = [a, b, c, d, e, f, g, h];
    // SAFETY: both buffers are on this stack, of the sizes given.
    let diff = unsafe { bpf_csum_diff(from.as_mut_ptr(), 32, header.addrs() as *mut u32, 8, 0) };
    let ports = (packet.src_port, packet.dst_port);
    switch_family(ctx, ETH_P_IP, &header, diff, csum, ports, entry)
}

/// How long each IPv4 packet `packet` leaves as is, and how many there
/// are: itself (`total` bytes), or a GSO packet's segments (the IPv4
/// header, the L4 header and `gso_size` bytes each; the kernel cuts them
/// later, each with the header's DF).
#[inline(always)]
fn segments(ctx: &TcContext, packet: &Packet6, total: u16) -> Result<(u16, u32), DropReason> {
    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let (gso_size, gso_segs) = unsafe { ((*ctx.skb.skb).gso_size, (*ctx.skb.skb).gso_segs) };
    if gso_size == 0 {
        return Ok((total, 1));
    }
    let l4 = mtu::segment_l4_len(ctx, packet.protocol, packet.l4_off, gso_size)
        .ok_or(DropReason::Malformed)?;
    let len = (IPV4_HEADER_LEN as u32 + l4).min(u32::from(total));
    Ok((len as u16, gso_segs.max(1)))
}

/// What both ways share once the new header and the pseudo-header's
/// change (`diff`) are known: the packet takes the family of `ethertype`
/// and `header` (a whole header, no options), its L4 checksum follows
/// `diff`, and its `ports` (source, destination) become `entry`'s.
#[inline(always)]
fn switch_family<T>(
    ctx: &TcContext,
    ethertype: u16,
    header: &T,
    diff: i64,
    csum: (usize, u64),
    ports: (u16, u16),
    entry: &NatEntry6,
) -> Result<(), DropReason> {
    if diff < 0 {
        return Err(DropReason::Malformed);
    }
    ctx.change_proto(ethertype.to_be(), 0)
        .map_err(|_| DropReason::Untranslatable)?;
    let l4 = IP_OFF + core::mem::size_of::<T>();
    store_header(ctx, &ethertype, header)?;
    ctx.l4_csum_replace(
        l4 + csum.0,
        0,
        diff as u64,
        csum.1 | u64::from(BPF_F_PSEUDO_HDR),
    )
    .map_err(|_| DropReason::Malformed)?;
    set_port(ctx, l4, csum, SRC_PORT_OFF, ports.0, entry.new_src_port)?;
    set_port(ctx, l4, csum, DST_PORT_OFF, ports.1, entry.new_dst_port)
}

/// Writes the EtherType and the new IP header. The header's bytes are
/// accounted into a `CHECKSUM_COMPLETE` packet's sum; the Ethernet
/// header is outside it.
#[inline(always)]
fn store_header<T>(ctx: &TcContext, ethertype: &u16, header: &T) -> Result<(), DropReason> {
    ctx.store(ETHERTYPE_OFF, &ethertype.to_be(), 0)
        .map_err(|_| DropReason::Malformed)?;
    ctx.store(IP_OFF, header, u64::from(BPF_F_RECOMPUTE_CSUM))
        .map_err(|_| DropReason::Malformed)
}
