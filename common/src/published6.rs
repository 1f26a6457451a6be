//! Key and value types of IPv6 publishing: `PUBLISHED6` (where a host
//! IPv6 address and port lead), `HOST_ADDRS6` (the host's own IPv6
//! addresses, keyed by the 16 bytes, valued by `maps::HostAddr`) and
//! `SOCK_REVERSE6` (host sockets sent to a container's IPv6 address). The
//! twins of `maps::PublishedKey`, `maps::PublishedValue` and
//! `maps::SockReverseKey`, with the same conventions:
//! - IPv6 addresses are the 16 bytes of the wire (network order), so
//!   bpftool prints them in the order they are written;
//! - ports are `u16` in host byte order (bpftool prints `8080`);
//! - padding is explicit (`_pad*` fields, always zero).

/// Key of `PUBLISHED6`: a host IPv6 address and port that leads into a
/// container. `host_ip` all zeros (`::`) stands for every IPv6 address of
/// the host.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PublishedKey6 {
    pub host_ip: [u8; 16],
    pub host_port: u16,
    pub protocol: u8,
    pub _pad: u8,
}

impl PublishedKey6 {
    pub const fn new(host_ip: [u8; 16], host_port: u16, protocol: u8) -> Self {
        Self {
            host_ip,
            host_port,
            protocol,
            _pad: 0,
        }
    }
}

/// Value of `PUBLISHED6`: the container's IPv6 address and port.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublishedValue6 {
    pub container_ip: [u8; 16],
    pub container_port: u16,
    pub _pad: u16,
    /// Host side of the container's veth: `bpf_redirect_peer` target.
    pub ifindex: u32,
    pub container_mac: [u8; 6],
    pub _pad2: [u8; 2],
}

impl PublishedValue6 {
    pub const fn new(
        container_ip: [u8; 16],
        container_port: u16,
        ifindex: u32,
        container_mac: [u8; 6],
    ) -> Self {
        Self {
            container_ip,
            container_port,
            _pad: 0,
            ifindex,
            container_mac,
            _pad2: [0; 2],
        }
    }
}

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
    unsafe impl aya::Pod for PublishedKey6 {}
    unsafe impl aya::Pod for PublishedValue6 {}
    unsafe impl aya::Pod for SockReverseKey6 {}
    unsafe impl aya::Pod for SockReverseValue6 {}
}

#[cfg(test)]
mod tests {
    use core::mem::size_of;

    use super::*;

    #[test]
    fn sizes_have_no_hidden_padding() {
        assert_eq!(size_of::<PublishedKey6>(), 20);
        assert_eq!(size_of::<PublishedValue6>(), 32);
        assert_eq!(size_of::<SockReverseKey6>(), 32);
        assert_eq!(size_of::<SockReverseValue6>(), 20);
    }

    #[test]
    fn constructors_zero_the_padding() {
        let key = PublishedKey6::new([1; 16], 8080, 6);
        assert_eq!((key.host_port, key.protocol, key._pad), (8080, 6, 0));
        let value = PublishedValue6::new([2; 16], 80, 7, [2, 0x42, 0, 0, 0, 2]);
        assert_eq!((value._pad, value._pad2), (0, [0; 2]));
        assert_eq!((value.container_port, value.ifindex), (80, 7));
    }
}
