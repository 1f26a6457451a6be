//! Map types of the IPv6 topology: which IPv6 addresses each container
//! may send from, where each lives, and which network a subnet is.
//! Addresses are the 16 bytes of the wire (network byte order), so bpftool
//! prints them as they read.

/// Value of `ENDPOINTS6`, keyed by the host-side veth's ifindex (`u32`):
/// the container's IPv6 address on that network (besides its link-local
/// one, which follows from its MAC).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointInfo6 {
    pub ip: [u8; 16],
}

/// Key of the `NETWORKS6` LPM trie: an IPv6 subnet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubnetKey6 {
    pub addr: [u8; 16],
}

/// Value of `NETWORKS6`: the network an IPv6 subnet belongs to.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkInfo6 {
    /// The network's number, as in `NetworkInfo` and `EndpointInfo`.
    pub network_id: u32,
    /// `NETWORK_INTERNAL` when the network is `--internal`.
    pub flags: u32,
    pub gateway: [u8; 16],
}

/// Key of `LAN_IPS6`: a macvlan container's global IPv6 address on the
/// parent (by ifindex) of its network. The value is its MAC
/// ([`crate::maps::LanMac`]). (Link-local addresses need no entry: the
/// MAC they belong to follows from them.)
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LanIpKey6 {
    pub ifindex: u32,
    pub ip: [u8; 16],
}

/// The link-local address a container's kernel gives itself from its MAC
/// (EUI-64, RFC 4291 appendix A; `addr_gen_mode` 0, which the controller
/// sets in the namespaces it makes).
pub const fn link_local_of(mac: [u8; 6]) -> [u8; 16] {
    [
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ]
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: `#[repr(C)]` integers and byte arrays without padding: every
    // bit pattern is valid.
    unsafe impl aya::Pod for EndpointInfo6 {}
    unsafe impl aya::Pod for SubnetKey6 {}
    unsafe impl aya::Pod for NetworkInfo6 {}
    unsafe impl aya::Pod for LanIpKey6 {}
}

#[cfg(test)]
mod tests {
    use core::mem::size_of;

    use super::*;

    #[test]
    fn sizes_have_no_hidden_padding() {
        assert_eq!(size_of::<EndpointInfo6>(), 16);
        assert_eq!(size_of::<SubnetKey6>(), 16);
        assert_eq!(size_of::<NetworkInfo6>(), 24);
        assert_eq!(size_of::<LanIpKey6>(), 20);
    }

    #[test]
    fn link_local_is_eui64_of_the_mac() {
        // 02:42:0a:d6:00:02 -> fe80::42:aff:fed6:2
        let ll = link_local_of([0x02, 0x42, 0x0a, 0xd6, 0x00, 0x02]);
        assert_eq!(
            ll,
            [
                0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0x00, 0x42, 0x0a, 0xff, 0xfe, 0xd6, 0x00, 0x02
            ]
        );
    }
}
