//! The IPv4 and IPv6 headers NAT46 writes whole, for the packets of a
//! translated flow (`nat46_xlate`) and for ICMP errors and the packets
//! they quote (`nat46_icmp`), built as RFC 7915 translates one family's
//! header into the other's (§4.1 IPv4 → IPv6, §5.1 IPv6 → IPv4).
//!
//! Each type is the header on the wire byte for byte (`#[repr(C)]`, no
//! padding, sizes checked below): stored with one `bpf_skb_store_bytes`,
//! summed with `bpf_csum_diff`, loaded into from a packet. Multi-byte
//! fields are byte arrays in network byte order (big-endian); the
//! constructors take host-order numbers.

use core::mem::{offset_of, size_of};

use crate::{icmp::Sum, parse6::IPV6_HEADER_LEN};

pub const IPV4_HEADER_LEN: usize = 20;

/// The DF bit of `flags_fragment` (its first byte).
const DF: u8 = 0x40;

/// An IPv4 header without options.
#[repr(C, align(4))]
pub struct Ipv4Header {
    /// 0x45: version 4, five 32-bit words.
    pub version_ihl: u8,
    pub tos: u8,
    pub total_len: [u8; 2],
    pub id: [u8; 2],
    /// Flags (DF, MF) and fragment offset.
    pub flags_fragment: [u8; 2],
    pub ttl: u8,
    pub protocol: u8,
    pub checksum: [u8; 2],
    /// Source and destination, adjacent (`addrs`).
    pub src: [u8; 4],
    pub dst: [u8; 4],
}

/// An IPv6 header (no extension headers follow it here).
#[repr(C, align(4))]
pub struct Ipv6Header {
    /// Version (6), traffic class, flow label.
    pub version_class_flow: [u8; 4],
    pub payload_len: [u8; 2],
    pub next_header: u8,
    pub hop_limit: u8,
    /// Source and destination, adjacent (`addrs`).
    pub src: [u8; 16],
    pub dst: [u8; 16],
}

// Written and summed whole: the types are the headers.
const _: () = assert!(size_of::<Ipv4Header>() == IPV4_HEADER_LEN);
const _: () = assert!(size_of::<Ipv6Header>() == IPV6_HEADER_LEN);
const _: () = assert!(offset_of!(Ipv4Header, dst) == offset_of!(Ipv4Header, src) + 4);
const _: () = assert!(offset_of!(Ipv6Header, dst) == offset_of!(Ipv6Header, src) + 16);

/// Don't Fragment and Identification of an IPv4 header.
#[derive(Clone, Copy)]
pub struct Fragmentation {
    pub dont_fragment: bool,
    /// Host order.
    pub id: u16,
}

impl Ipv4Header {
    /// A whole (unfragmented) packet's header, checksum computed.
    /// `tos`: the IPv6 traffic class (RFC 7915 §5.1), `total_len` in
    /// bytes, `addrs`: source and destination.
    #[inline(always)]
    pub fn new(
        tos: u8,
        total_len: u16,
        protocol: u8,
        ttl: u8,
        addrs: ([u8; 4], [u8; 4]),
        fragmentation: Fragmentation,
    ) -> Self {
        let df = if fragmentation.dont_fragment { DF } else { 0 };
        let mut header = Ipv4Header {
            version_ihl: 0x45,
            tos,
            total_len: total_len.to_be_bytes(),
            id: fragmentation.id.to_be_bytes(),
            flags_fragment: [df, 0],
            ttl,
            protocol,
            checksum: [0; 2],
            src: addrs.0,
            dst: addrs.1,
        };
        header.checksum = header.checksum().to_be_bytes();
        header
    }

    /// The header checksum (RFC 791), host order, of a header whose
    /// checksum field is zero.
    #[inline(always)]
    fn checksum(&self) -> u16 {
        // SAFETY: the header is 20 plain bytes without padding (checked
        // above); any alignment suits a byte array.
        let bytes = unsafe { &*(self as *const Self).cast::<[u8; IPV4_HEADER_LEN]>() };
        Sum::of(bytes).checksum()
    }

    /// The fragment offset (host order, in 8-byte units).
    #[inline(always)]
    pub fn fragment_offset(&self) -> u16 {
        u16::from_be_bytes(self.flags_fragment) & 0x1fff
    }

    /// Both addresses, 8 bytes from here, for `bpf_csum_diff`.
    #[inline(always)]
    pub fn addrs(&self) -> *const u8 {
        addrs(self, offset_of!(Self, src))
    }
}

impl Ipv6Header {
    /// A header from an IPv4 one's fields (RFC 7915 §4.1): traffic class
    /// from `tos`, no flow label, `payload_len` in bytes, `addrs`: source
    /// and destination.
    #[inline(always)]
    pub fn new(
        tos: u8,
        payload_len: u16,
        next_header: u8,
        hop_limit: u8,
        addrs: ([u8; 16], [u8; 16]),
    ) -> Self {
        Ipv6Header {
            version_class_flow: [0x60 | (tos >> 4), tos << 4, 0, 0],
            payload_len: payload_len.to_be_bytes(),
            next_header,
            hop_limit,
            src: addrs.0,
            dst: addrs.1,
        }
    }

    /// The traffic class: the TOS of an IPv4 header made from this one.
    #[inline(always)]
    pub fn traffic_class(&self) -> u8 {
        let v = self.version_class_flow;
        traffic_class([v[0], v[1]])
    }

    #[inline(always)]
    pub fn version(&self) -> u8 {
        self.version_class_flow[0] >> 4
    }

    /// Both addresses, 32 bytes from here, for `bpf_csum_diff`.
    #[inline(always)]
    pub fn addrs(&self) -> *const u8 {
        addrs(self, offset_of!(Self, src))
    }
}

/// The traffic class in an IPv6 header's first two bytes (after the
/// version, before the flow label).
#[inline(always)]
pub fn traffic_class(first: [u8; 2]) -> u8 {
    (first[0] << 4) | (first[1] >> 4)
}

/// Where a header's addresses (`src` at `offset`, then `dst`) start.
#[inline(always)]
fn addrs<T>(header: &T, offset: usize) -> *const u8 {
    // SAFETY: `offset` is that of `src` inside `T`, `dst` right after it
    // (checked above): the span lies inside `header`.
    unsafe { (header as *const T).cast::<u8>().add(offset) }
}
