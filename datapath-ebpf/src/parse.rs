//! Header parsing. Every read goes through `bpf_skb_load_bytes`, so variable
//! offsets (IP options) are safe and a short packet is an error, never a
//! read past its end.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{DropReason, maps::proto};

pub const ETH_LEN: usize = 14;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const ETH_P_IPV6: u16 = 0x86dd;
pub const IP_OFF: usize = ETH_LEN;
pub const IP_TTL_OFF: usize = IP_OFF + 8;
pub const IP_ID_OFF: usize = IP_OFF + 4;
pub const IP_FRAG_OFF: usize = IP_OFF + 6;
pub const IP_CSUM_OFF: usize = IP_OFF + 10;
pub const IP_SRC_OFF: usize = IP_OFF + 12;
pub const IP_DST_OFF: usize = IP_OFF + 16;

pub const ICMP_ECHO_REPLY: u8 = 0;
pub const ICMP_ECHO_REQUEST: u8 = 8;

/// Flags of the IPv4 flags/fragment-offset field (host order).
pub const IP_DF: u16 = 0x4000;
pub const IP_MF: u16 = 0x2000;
pub const IP_OFFSET_MASK: u16 = 0x1fff;

pub const TCP_FIN: u8 = 0x01;
pub const TCP_SYN: u8 = 0x02;
pub const TCP_RST: u8 = 0x04;
pub const TCP_ACK: u8 = 0x10;

/// An IPv4 packet's addresses and ports, as found.
pub struct Packet {
    pub l4_off: usize,
    pub protocol: u8,
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    /// Host byte order. For ICMP echo both carry the identifier.
    pub src_port: u16,
    pub dst_port: u16,
    pub tcp_flags: u8,
    pub icmp_type: u8,
    pub ttl: u8,
    /// A later fragment (non-zero offset): no L4 header, so no ports.
    pub fragment: bool,
    /// The first fragment of a fragmented datagram: it carries the L4
    /// header and is translated like a whole packet, and its ports are
    /// remembered for the later fragments (`frag`).
    pub first_fragment: bool,
    /// TCP only, host byte order: sequence and acknowledgement numbers, and
    /// the sequence space the segment takes (payload, plus one for SYN and
    /// one for FIN).
    pub tcp_seq: u32,
    pub tcp_ack: u32,
    pub tcp_seq_len: u32,
}

impl Packet {
    /// A TCP SYN that opens a connection (no ACK): it may reuse the tuple of
    /// a closed one, as conntrack lets a SYN reopen a TIME_WAIT tuple.
    pub fn opens_tcp(&self) -> bool {
        opens_tcp(self.protocol, self.tcp_flags)
    }

    /// Whether the packet may open a flow: a TCP SYN, any UDP datagram, an
    /// ICMP echo request. Only these create NAT state, so a flood of stray
    /// segments cannot fill the tables.
    pub fn opens_flow(&self) -> bool {
        match self.protocol {
            proto::TCP => self.opens_tcp(),
            proto::ICMP => self.icmp_type == ICMP_ECHO_REQUEST,
            _ => true,
        }
    }

    /// Whether the packet has ports (or an echo id) NAT can translate.
    pub fn translatable(&self) -> bool {
        !self.fragment
            && match self.protocol {
                proto::TCP | proto::UDP => true,
                proto::ICMP => {
                    self.icmp_type == ICMP_ECHO_REQUEST || self.icmp_type == ICMP_ECHO_REPLY
                }
                _ => false,
            }
    }
}

/// A TCP SYN without ACK, from its protocol and TCP flags (either family).
#[inline(always)]
pub fn opens_tcp(protocol: u8, tcp_flags: u8) -> bool {
    protocol == proto::TCP && tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

#[inline(always)]
pub fn ethertype(ctx: &TcContext) -> Option<u16> {
    ctx.load::<[u8; 2]>(12).ok().map(u16::from_be_bytes)
}

#[inline(always)]
pub fn src_mac(ctx: &TcContext) -> Option<[u8; 6]> {
    ctx.load::<[u8; 6]>(6).ok()
}

#[inline(always)]
pub fn ipv4(ctx: &TcContext) -> Result<Packet, DropReason> {
    let version_ihl: u8 = ctx.load(IP_OFF).map_err(|_| DropReason::Malformed)?;
    let ihl = usize::from(version_ihl & 0x0f) * 4;
    if version_ihl >> 4 != 4 || ihl < 20 {
        return Err(DropReason::Malformed);
    }
    let total_len = u16::from_be_bytes(ctx.load(IP_OFF + 2).map_err(|_| DropReason::Malformed)?);
    if usize::from(total_len) < ihl || ctx.len() < (ETH_LEN + usize::from(total_len)) as u32 {
        return Err(DropReason::Malformed);
    }
    // Flags and fragment offset, TTL, protocol: one load.
    let word: [u8; 4] = ctx.load(IP_FRAG_OFF).map_err(|_| DropReason::Malformed)?;
    let frag = u16::from_be_bytes([word[0], word[1]]);
    let fragment = frag & IP_OFFSET_MASK != 0;
    let first_fragment = frag & (IP_MF | IP_OFFSET_MASK) == IP_MF;
    let mut packet = Packet {
        l4_off: IP_OFF + ihl,
        protocol: word[3],
        src_ip: ctx.load(IP_SRC_OFF).map_err(|_| DropReason::Malformed)?,
        dst_ip: ctx.load(IP_DST_OFF).map_err(|_| DropReason::Malformed)?,
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        icmp_type: 0,
        ttl: word[2],
        fragment,
        tcp_seq: 0,
        tcp_ack: 0,
        tcp_seq_len: 0,
        first_fragment,
    };
    if fragment {
        return Ok(packet);
    }
    // The L4 header must lie inside the IP packet: a short datagram in a
    // frame padded to the Ethernet minimum must not be read into (or have
    // its "checksum" written into) the padding.
    let l4_room = usize::from(total_len) - ihl;
    let l4_needed = match packet.protocol {
        proto::TCP => 20,
        proto::UDP | proto::ICMP => 8,
        _ => 0,
    };
    if l4_room < l4_needed {
        return Err(DropReason::Malformed);
    }
    let l4 = packet.l4_off;
    match packet.protocol {
        proto::TCP => {
            // Ports, sequence, acknowledgement, data offset and flags.
            let h: [u8; 14] = ctx.load(l4).map_err(|_| DropReason::Malformed)?;
            packet.src_port = u16::from_be_bytes([h[0], h[1]]);
            packet.dst_port = u16::from_be_bytes([h[2], h[3]]);
            packet.tcp_seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
            packet.tcp_ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
            packet.tcp_flags = h[13];
            let header_len = usize::from(h[12] >> 4) * 4;
            if header_len < 20 || header_len > l4_room {
                return Err(DropReason::Malformed);
            }
            // A GSO super-packet's total length covers all its segments.
            let payload = (l4_room - header_len) as u32;
            packet.tcp_seq_len = payload
                + u32::from(packet.tcp_flags & TCP_SYN != 0)
                + u32::from(packet.tcp_flags & TCP_FIN != 0);
        }
        proto::UDP => {
            let ports: [u8; 4] = ctx.load(l4).map_err(|_| DropReason::Malformed)?;
            packet.src_port = u16::from_be_bytes([ports[0], ports[1]]);
            packet.dst_port = u16::from_be_bytes([ports[2], ports[3]]);
        }
        proto::ICMP => {
            let header: [u8; 8] = ctx.load(l4).map_err(|_| DropReason::Malformed)?;
            packet.icmp_type = header[0];
            let id = u16::from_be_bytes([header[4], header[5]]);
            packet.src_port = id;
            packet.dst_port = id;
        }
        _ => {}
    }
    Ok(packet)
}
