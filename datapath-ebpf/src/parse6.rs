//! IPv6 header parsing for NAT66: addresses, the upper layer past the
//! extension headers, its ports (or echo identifier) and TCP state. As in
//! `parse`, every read goes through `bpf_skb_load_bytes`.

use aya_ebpf::{btf_maps::PerCpuArray, macros::btf_map, programs::TcContext};
use ebpfnet_common::{DropReason, flows6::ICMPV6, maps::proto};

use crate::parse::{IP_OFF, TCP_ACK, TCP_FIN, TCP_SYN};

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

impl Packet6 {
    /// A TCP SYN that opens a connection.
    #[inline(always)]
    pub fn opens_tcp(&self) -> bool {
        self.protocol == proto::TCP && self.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
    }

    /// A TCP SYN, any UDP datagram, an echo request.
    #[inline(always)]
    pub fn opens_flow(&self) -> bool {
        match self.protocol {
            proto::TCP => self.opens_tcp(),
            ICMPV6 => self.icmp_type == ICMPV6_ECHO_REQUEST,
            _ => true,
        }
    }

    /// A fragment after the first: no upper-layer header, only the
    /// first fragment's translation to follow (`frag6`).
    #[inline(always)]
    pub fn later_fragment(&self) -> bool {
        self.fragment && !self.first_fragment
    }

    /// Whether NAT can translate the packet (ports or an echo identifier).
    #[inline(always)]
    pub fn translatable(&self) -> bool {
        !self.later_fragment()
            && match self.protocol {
                proto::TCP | proto::UDP => true,
                ICMPV6 => {
                    self.icmp_type == ICMPV6_ECHO_REQUEST || self.icmp_type == ICMPV6_ECHO_REPLY
                }
                _ => false,
            }
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
    let l4 = packet.l4_off;
    match packet.protocol {
        proto::TCP => {
            let h: [u8; 14] = ctx.load(l4).map_err(|_| DropReason::Malformed)?;
            packet.src_port = u16::from_be_bytes([h[0], h[1]]);
            packet.dst_port = u16::from_be_bytes([h[2], h[3]]);
            packet.tcp_seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            packet.tcp_ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            packet.tcp_flags = h[13];
            let header_len = usize::from(h[12] >> 4) * 4;
            if header_len < 20 || header_len > room {
                return Err(DropReason::Malformed);
            }
            packet.tcp_seq_len = (room - header_len) as u32
                + u32::from(packet.tcp_flags & TCP_SYN != 0)
                + u32::from(packet.tcp_flags & TCP_FIN != 0);
        }
        proto::UDP => {
            if room < 8 {
                return Err(DropReason::Malformed);
            }
            let ports: [u8; 4] = ctx.load(l4).map_err(|_| DropReason::Malformed)?;
            packet.src_port = u16::from_be_bytes([ports[0], ports[1]]);
            packet.dst_port = u16::from_be_bytes([ports[2], ports[3]]);
        }
        ICMPV6 => {
            if room < 8 {
                return Err(DropReason::Malformed);
            }
            let header: [u8; 8] = ctx.load(l4).map_err(|_| DropReason::Malformed)?;
            packet.icmp_type = header[0];
            let id = u16::from_be_bytes([header[4], header[5]]);
            packet.src_port = id;
            packet.dst_port = id;
        }
        _ => {}
    }
    Ok(())
}
