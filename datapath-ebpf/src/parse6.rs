//! IPv6 header parsing for NAT66: addresses and the upper layer past the
//! extension headers, whose ports (or echo identifier) and TCP state
//! `parse::read_l4` reads as for IPv4. As in `parse`, every read goes
//! through `bpf_skb_load_bytes`.

use aya_ebpf::{btf_maps::PerCpuArray, macros::btf_map, programs::TcContext};
use ebpfnet_common::{DropReason, flows6::ICMPV6};

use crate::parse::{IP_OFF, flow_packet, read_l4};

pub const IPV6_HEADER_LEN: usize = 40;
pub const HOP_LIMIT_OFF: usize = IP_OFF + 7;
pub const SRC_OFF: usize = IP_OFF + 8;
pub const DST_OFF: usize = IP_OFF + 24;
pub const ICMPV6_ECHO_REQUEST: u8 = 128;
pub const ICMPV6_ECHO_REPLY: u8 = 129;

const HOP_BY_HOP: u8 = 0;
const ROUTING: u8 = 43;
const FRAGMENT: u8 = 44;
const DEST_OPTS: u8 = 60;
const FRAGMENT_HEADER_LEN: usize = 8;
/// Extension headers looked through before giving up.
const MAX_EXTENSION_HEADERS: usize = 4;

/// An IPv6 packet's addresses and ports, as found. Kept in a per-CPU slot
/// ([`packet_slot`]), not on the stack: the IPv6 paths run below the IPv4
/// path's frame, and 80 bytes there would not fit.
#[repr(C)]
pub struct Packet6 {
    pub l4_off: usize,
    /// The upper-layer protocol (TCP, UDP, ICMPv6, …).
    pub protocol: u8,
    pub hop_limit: u8,
    pub tcp_flags: u8,
    pub icmp_type: u8,
    /// A fragment (first or later).
    pub fragment: bool,
    /// The first fragment (offset 0): it carries the ports, is translated
    /// like a whole packet, and the later ones follow it (`frag6`).
    pub first_fragment: bool,
    /// Host byte order; for ICMPv6 echo both carry the identifier.
    pub src_port: u16,
    pub dst_port: u16,
    pub src_ip: [u8; 16],
    pub dst_ip: [u8; 16],
    /// TCP only, host byte order (as in `parse::Packet`).
    pub tcp_seq: u32,
    pub tcp_ack: u32,
    pub tcp_seq_len: u32,
    /// The Fragment header's identification (host order), when `fragment`.
    pub frag_id: u32,
}

flow_packet!(
    Packet6,
    [u8; 16],
    ICMPV6,
    ICMPV6_ECHO_REQUEST,
    ICMPV6_ECHO_REPLY
);

impl Packet6 {
    /// A fragment after the first: no upper-layer header, only the
    /// first fragment's translation to follow (`frag6`).
    #[inline(always)]
    pub fn later_fragment(&self) -> bool {
        self.fragment && !self.first_fragment
    }
}

#[btf_map]
static PACKET6: PerCpuArray<Packet6, 1> = PerCpuArray::new();

/// Parses the IPv6 packet after the Ethernet header into this CPU's slot
/// (one program run at a time uses it, from this call to the run's end).
/// A subprogram of its own: the header copies stay out of the callers'
/// frames.
#[inline(never)]
pub fn ipv6(ctx: &TcContext) -> Result<&'static Packet6, DropReason> {
    let slot = PACKET6.get_ptr_mut(0).ok_or(DropReason::Malformed)?;
    // SAFETY: this CPU's slot; programs do not preempt each other on a CPU.
    let packet = unsafe { &mut *slot };
    parse_into(ctx, packet)?;
    Ok(packet)
}

#[inline(always)]
fn parse_into(ctx: &TcContext, packet: &mut Packet6) -> Result<(), DropReason> {
    // Version, traffic class, flow label, payload length, next header, hop limit.
    let fixed: [u8; 8] = ctx.load(IP_OFF).map_err(|_| DropReason::Malformed)?;
    if fixed[0] >> 4 != 6 {
        return Err(DropReason::Malformed);
    }
    let payload_len = usize::from(u16::from_be_bytes([fixed[4], fixed[5]]));
    let end = IP_OFF + IPV6_HEADER_LEN + payload_len;
    if (ctx.len() as usize) < end {
        return Err(DropReason::Malformed);
    }
    *packet = Packet6 {
        l4_off: IP_OFF + IPV6_HEADER_LEN,
        protocol: fixed[6],
        hop_limit: fixed[7],
        tcp_flags: 0,
        icmp_type: 0,
        fragment: false,
        first_fragment: false,
        src_port: 0,
        dst_port: 0,
        src_ip: ctx.load(SRC_OFF).map_err(|_| DropReason::Malformed)?,
        dst_ip: ctx.load(DST_OFF).map_err(|_| DropReason::Malformed)?,
        tcp_seq: 0,
        tcp_ack: 0,
        tcp_seq_len: 0,
        frag_id: 0,
    };
    for _ in 0..MAX_EXTENSION_HEADERS {
        match packet.protocol {
            HOP_BY_HOP | ROUTING | DEST_OPTS => {
                let ext: [u8; 2] = ctx.load(packet.l4_off).map_err(|_| DropReason::Malformed)?;
                packet.protocol = ext[0];
                packet.l4_off += (usize::from(ext[1]) + 1) * 8;
            }
            FRAGMENT => {
                // Next header, reserved, offset (13 bits) and flags,
                // identification (RFC 8200 §4.5).
                let ext: [u8; 8] = ctx.load(packet.l4_off).map_err(|_| DropReason::Malformed)?;
                packet.protocol = ext[0];
                packet.fragment = true;
                packet.frag_id = u32::from_be_bytes([ext[4], ext[5], ext[6], ext[7]]);
                packet.first_fragment = u16::from_be_bytes([ext[2], ext[3]]) >> 3 == 0;
                if !packet.first_fragment {
                    return Ok(());
                }
                // The first fragment holds the rest of the header chain
                // and the upper-layer header (RFC 7112).
                packet.l4_off += FRAGMENT_HEADER_LEN;
            }
            _ => break,
        }
    }
    let room = end.saturating_sub(packet.l4_off);
    read_l4!(ctx, packet, room, ICMPV6);
    Ok(())
}
