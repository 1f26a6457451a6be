//! Header parsing. Every read goes through `bpf_skb_load_bytes`, so variable
//! offsets (IP options) are safe and a short packet is an error, never a
//! read past its end.

use aya_ebpf::programs::TcContext;
use ebpfnet_common::{
    DropReason,
    flow::{FlowAddr, FlowKeyOf},
    maps::proto,
};

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

/// A segment's TCP numbers, host byte order (zero for other protocols).
#[derive(Clone, Copy, Default)]
pub struct Segment {
    pub flags: u8,
    pub seq: u32,
    pub ack: u32,
    /// The sequence space it takes (payload, plus one each for SYN and FIN).
    pub len: u32,
}

/// A parsed packet of either family (`Packet`, `parse6::Packet6`), as
/// connection tracking reads it.
pub trait FlowPacket {
    type Addr: FlowAddr;
    /// The key of the direction the packet travels in.
    fn key(&self) -> FlowKeyOf<Self::Addr>;
    fn segment(&self) -> Segment;
}

/// What follows from a packet's fields, for both families' packets (their
/// fields are named alike), given the family's address bytes and ICMP
/// protocol and echo types. Plain methods rather than a trait's defaults:
/// they compile into the IPv4 hot path as they did before IPv6 shared them.
macro_rules! flow_packet {
    ($packet:ty, $addr:ty, $icmp:pat, $echo_request:expr, $echo_reply:expr) => {
        impl $crate::parse::FlowPacket for $packet {
            type Addr = $addr;

            #[inline(always)]
            fn key(&self) -> ebpfnet_common::flow::FlowKeyOf<$addr> {
                let (src, dst) = ((self.src_ip, self.src_port), (self.dst_ip, self.dst_port));
                ebpfnet_common::flow::FlowKeyOf::new(src.0, src.1, dst.0, dst.1, self.protocol)
            }

            #[inline(always)]
            fn segment(&self) -> $crate::parse::Segment {
                let (flags, seq, ack, len) =
                    (self.tcp_flags, self.tcp_seq, self.tcp_ack, self.tcp_seq_len);
                $crate::parse::Segment {
                    flags,
                    seq,
                    ack,
                    len,
                }
            }
        }

        impl $packet {
            /// A TCP SYN that opens a connection (no ACK): it may reuse the
            /// tuple of a closed one, as conntrack lets a SYN reopen a
            /// TIME_WAIT tuple.
            #[inline(always)]
            pub fn opens_tcp(&self) -> bool {
                $crate::parse::opens_tcp(self.protocol, self.tcp_flags)
            }

            /// Whether the packet may open a flow: a TCP SYN, any UDP
            /// datagram, an echo request. Only these create NAT state, so a
            /// flood of stray segments cannot fill the tables.
            #[inline(always)]
            pub fn opens_flow(&self) -> bool {
                match self.protocol {
                    ebpfnet_common::maps::proto::TCP => self.opens_tcp(),
                    $icmp => self.icmp_type == $echo_request,
                    _ => true,
                }
            }

            /// Whether the packet has ports (or an echo identifier) NAT can
            /// translate.
            #[inline(always)]
            pub fn translatable(&self) -> bool {
                use ebpfnet_common::maps::proto;
                !self.later_fragment()
                    && match self.protocol {
                        proto::TCP | proto::UDP => true,
                        $icmp => self.icmp_type == $echo_request || self.icmp_type == $echo_reply,
                        _ => false,
                    }
            }
        }
    };
}
pub(crate) use flow_packet;

flow_packet!(
    Packet,
    [u8; 4],
    proto::ICMP,
    ICMP_ECHO_REQUEST,
    ICMP_ECHO_REPLY
);

impl Packet {
    /// A fragment after the first (IPv4's `fragment`): no L4 header.
    #[inline(always)]
    pub fn later_fragment(&self) -> bool {
        self.fragment
    }
}

/// A TCP SYN without ACK, from its protocol and TCP flags.
#[inline(always)]
pub fn opens_tcp(protocol: u8, tcp_flags: u8) -> bool {
    protocol == proto::TCP && tcp_flags & (TCP_SYN | TCP_ACK) == TCP_SYN
}

/// Reads the upper-layer header of `$packet` (at its `l4_off`, with
/// `$room` bytes inside the IP packet; `$icmp`: the family's ICMP) into its
/// ports (for echo both carry the identifier), ICMP type and TCP numbers,
/// or returns `Err(Malformed)` from the caller. The header must lie inside
/// the IP packet: a short datagram in a frame padded to the Ethernet
/// minimum must not be read into (or have its "checksum" written into) the
/// padding. A macro, not a function over `FlowPacket`: expanded into each
/// parser, the IPv4 one compiles as it did before IPv6 shared it.
macro_rules! read_l4 {
    ($ctx:expr, $packet:ident, $room:expr, $icmp:pat) => {{
        use ebpfnet_common::{DropReason, maps::proto};
        use $crate::parse::{TCP_FIN, TCP_SYN};
        let room = $room;
        let needed = match $packet.protocol {
            proto::TCP => 20,
            proto::UDP | $icmp => 8,
            _ => 0,
        };
        if room < needed {
            return Err(DropReason::Malformed);
        }
        let l4 = $packet.l4_off;
        match $packet.protocol {
            proto::TCP => {
                // Ports, sequence, acknowledgement, data offset and flags.
                let h: [u8; 14] = $ctx.load(l4).map_err(|_| DropReason::Malformed)?;
                $packet.src_port = u16::from_be_bytes([h[0], h[1]]);
                $packet.dst_port = u16::from_be_bytes([h[2], h[3]]);
                $packet.tcp_seq = u32::from_be_bytes([h[4], h[5], h[6], h[7]]);
                $packet.tcp_ack = u32::from_be_bytes([h[8], h[9], h[10], h[11]]);
                $packet.tcp_flags = h[13];
                let header_len = usize::from(h[12] >> 4) * 4;
                if header_len < 20 || header_len > room {
                    return Err(DropReason::Malformed);
                }
                // A GSO super-packet's total length covers all its segments.
                let payload = (room - header_len) as u32;
                $packet.tcp_seq_len = payload
                    + u32::from($packet.tcp_flags & TCP_SYN != 0)
                    + u32::from($packet.tcp_flags & TCP_FIN != 0);
            }
            proto::UDP => {
                let ports: [u8; 4] = $ctx.load(l4).map_err(|_| DropReason::Malformed)?;
                $packet.src_port = u16::from_be_bytes([ports[0], ports[1]]);
                $packet.dst_port = u16::from_be_bytes([ports[2], ports[3]]);
            }
            $icmp => {
                let header: [u8; 8] = $ctx.load(l4).map_err(|_| DropReason::Malformed)?;
                $packet.icmp_type = header[0];
                let id = u16::from_be_bytes([header[4], header[5]]);
                $packet.src_port = id;
                $packet.dst_port = id;
            }
            _ => {}
        }
    }};
}
pub(crate) use read_l4;

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
    read_l4!(ctx, packet, usize::from(total_len) - ihl, proto::ICMP);
    Ok(packet)
}
