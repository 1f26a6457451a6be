//! Key and value of `FRAGMENTS`: the ports of a fragmented datagram, taken
//! from its first fragment, so the later ones (which carry no L4 header)
//! follow the same translation. Same conventions as [`crate::maps`]:
//! addresses `[u8; 4]` in network order, ports and the IP id `u16` in host
//! byte order, explicit padding.

/// A datagram as its fragments identify it (RFC 791: source, destination,
/// protocol and identification), as seen where the first one was
/// translated, before any rewrite.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragKey {
    pub src_ip: [u8; 4],
    pub dst_ip: [u8; 4],
    /// The IPv4 identification field.
    pub id: u16,
    pub protocol: u8,
    pub _pad: u8,
}

/// The first fragment's ports (ICMP echo: the identifier in both).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FragValue {
    pub src_port: u16,
    pub dst_port: u16,
    pub _pad: u32,
    /// `bpf_ktime_get_ns` when the first fragment passed; entries older than
    /// the programs' fragment lifetime are ignored (the IP id may be reused).
    pub created_ns: u64,
}

/// Key of `FRAGMENTS6`: an IPv6 datagram as its fragments identify it
/// (RFC 8200 §4.5: source, destination and the Fragment header's
/// identification), with the upper-layer protocol, as seen where the first
/// fragment was translated. Addresses in network order, `id` in host order.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FragKey6 {
    pub src_ip: [u8; 16],
    pub dst_ip: [u8; 16],
    /// The Fragment header's 32-bit identification.
    pub id: u32,
    pub protocol: u8,
    pub _pad: [u8; 3],
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: `#[repr(C)]` integers and byte arrays with explicit padding:
    // every bit pattern is valid.
    unsafe impl aya::Pod for super::FragKey {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::FragValue {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::FragKey6 {}
}

#[cfg(test)]
mod layout {
    use super::*;

    #[test]
    fn sizes_have_no_hidden_padding() {
        assert_eq!(size_of::<FragKey>(), 12);
        assert_eq!(size_of::<FragValue>(), 16);
        assert_eq!(size_of::<FragKey6>(), 40);
    }
}
