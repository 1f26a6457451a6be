//! Key and value types of the overlay (VXLAN) maps. Same conventions as
//! [`crate::maps`]: `#[repr(C)]`, explicit padding (always zero), IPv4
//! addresses as `[u8; 4]` in network order, integers in host byte order.

/// Key of `OVERLAY_PEERS`: a container on another host, by the local
/// number of its overlay network and its address.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OverlayPeerKey {
    /// The overlay network's `network_id` on this host (host byte order).
    pub network_id: u32,
    /// The remote container's address (network order).
    pub ip: [u8; 4],
}

/// Key of `OVERLAY_PEERS6`: a container on another host by its IPv6
/// address on a dual-stack overlay network (the value is an
/// [`OverlayPeer`], as for IPv4).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct OverlayPeerKey6 {
    /// The overlay network's `network_id` on this host (host byte order).
    pub network_id: u32,
    /// The remote container's IPv6 address (network order).
    pub ip: [u8; 16],
}

/// Value of `OVERLAY_PEERS` and `OVERLAY_PEERS6`: where that container
/// lives.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OverlayPeer {
    /// The remote host's underlay address (its `--advertise-addr`,
    /// network order): the outer destination of the VXLAN packet.
    pub host_ip: [u8; 4],
    /// The remote container's MAC: the inner destination, and what ARP
    /// for its address is answered with.
    pub mac: [u8; 6],
    pub _pad: [u8; 2],
}

/// Value of `OVERLAY_NETWORKS`, keyed by the local `network_id` (`u32`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct OverlayNetwork {
    /// The network's VXLAN network identifier (24 bits, host byte order).
    pub vni: u32,
    /// The host's collect-metadata VXLAN device: where encapsulated
    /// packets are redirected.
    pub vxlan_ifindex: u32,
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: `#[repr(C)]` integers and byte arrays with explicit padding:
    // every bit pattern is valid.
    unsafe impl aya::Pod for OverlayPeerKey {}
    unsafe impl aya::Pod for OverlayPeerKey6 {}
    unsafe impl aya::Pod for OverlayPeer {}
    unsafe impl aya::Pod for OverlayNetwork {}
}

#[cfg(test)]
mod layout {
    use core::mem::size_of;

    use super::*;

    #[test]
    fn sizes_have_no_hidden_padding() {
        assert_eq!(size_of::<OverlayPeerKey>(), 8);
        assert_eq!(size_of::<OverlayPeerKey6>(), 20);
        assert_eq!(size_of::<OverlayPeer>(), 12);
        assert_eq!(size_of::<OverlayNetwork>(), 8);
    }
}
