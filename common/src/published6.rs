//! Key and value types of IPv6 publishing: `PUBLISHED6` (where a host
//! IPv6 address and port lead), `HOST_ADDRS6` (the host's own IPv6
//! addresses, keyed by the 16 bytes, valued by `maps::HostAddr`) and
//! `SOCK_REVERSE6` (host sockets sent to a container's IPv6 address). The
//! mapping's key and value are IPv4's, over 16 address bytes
//! (`published::PublishedKeyOf`, `PublishedValueOf`); the socket types are
//! the twins of `maps::SockReverseKey`/`SockReverseValue`, with the same
//! conventions:
//! - IPv6 addresses are the 16 bytes of the wire (network order), so
//!   bpftool prints them in the order they are written;
//! - ports are `u16` in host byte order (bpftool prints `8080`);
//! - padding is explicit (`_pad*` fields, always zero).

use crate::published::{PublishedKeyOf, PublishedValueOf};

/// Key of `PUBLISHED6`: a host IPv6 address and port that leads into a
/// container. `host_ip` all zeros (`::`) stands for every IPv6 address of
/// the host.
pub type PublishedKey6 = PublishedKeyOf<[u8; 16]>;

/// Value of `PUBLISHED6`: the container's IPv6 address and port.
pub type PublishedValue6 = PublishedValueOf<[u8; 16]>;

/// Key of `SOCK_REVERSE6`: a host socket sent to a container's IPv6
/// address in place of a published one.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockReverseKey6 {
    pub cookie: u64,
    pub container_ip: [u8; 16],
    pub container_port: u16,
    pub protocol: u8,
    pub _pad: u8,
    pub _pad2: u32,
}

/// Value of `SOCK_REVERSE6`: the published address the socket asked for
/// (`::1` or a host address), which its replies must seem to come from.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockReverseValue6 {
    pub host_ip: [u8; 16],
    pub host_port: u16,
    pub _pad: u16,
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: `#[repr(C)]` integers and byte arrays with explicit padding
    // fields: every bit pattern is valid.
    unsafe impl aya::Pod for SockReverseKey6 {}
    unsafe impl aya::Pod for SockReverseValue6 {}
}

#[cfg(test)]
mod tests {
    use core::mem::size_of;

    use super::*;

    #[test]
    fn sizes_have_no_hidden_padding() {
        assert_eq!(size_of::<SockReverseKey6>(), 32);
        assert_eq!(size_of::<SockReverseValue6>(), 20);
    }
}
