//! Header parsing. Every read goes through `bpf_skb_load_bytes`, so variable
//! offsets (IP options) are safe and a short packet is an error, never a
//! read past its end.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{DropReason, maps::proto};

pub const ETH_LEN: usize = 14;
pub const ETH_P_IP: u16 = 0x0800;
pub const ETH_P_ARP: u16 = 0x0806;
pub const IP_OFF: usize = ETH_LEN;
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
    /// A later fragment (non-zero offset): no L4 header, so no ports.
    pub fragment: bool,
    /// The first fragment of a fragmented datagram: it carries the L4
    /// header and is translated like a whole packet, and its ports are
    /// remembered for the later fragments (`frag`).
    pub first_fragment: bool,
}

impl Packet {
    /// A TCP SYN that opens a connection (no ACK): it may reuse the tuple of
    /// a closed one, as conntrack lets a SYN reopen a TIME_WAIT tuple.
    pub fn opens_tcp(&self) -> bool {
        self.protocol == proto::TCP && self.tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
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
    let frag = u16::from_be_bytes(ctx.load(IP_OFF + 6).map_err(|_| DropReason::Malformed)?);
    let fragment = frag & IP_OFFSET_MASK != 0;
    let first_fragment = frag & (IP_MF | IP_OFFSET_MASK) == IP_MF;
    let mut packet = Packet {
        l4_off: IP_OFF + ihl,
        protocol: ctx.load(IP_OFF + 9).map_err(|_| DropReason::Malformed)?,
        src_ip: ctx.load(IP_SRC_OFF).map_err(|_| DropReason::Malformed)?,
        dst_ip: ctx.load(IP_DST_OFF).map_err(|_| DropReason::Malformed)?,
        src_port: 0,
        dst_port: 0,
        tcp_flags: 0,
        icmp_type: 0,
        fragment,
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
        proto::TCP | proto::UDP => {
            let ports: [u8; 4] = ctx.load(l4).map_err(|_| DropReason::Malformed)?;
            packet.src_port = u16::from_be_bytes([ports[0], ports[1]]);
            packet.dst_port = u16::from_be_bytes([ports[2], ports[3]]);
            if packet.protocol == proto::TCP {
                packet.tcp_flags = ctx.load(l4 + 13).map_err(|_| DropReason::Malformed)?;
            }
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
