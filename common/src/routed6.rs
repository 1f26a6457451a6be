//! IPv6 routed mode (`--opt com.docker.network.bridge.gateway_mode_ipv6=routed`):
//! a network's containers reach the outside with their own IPv6
//! addresses, no NAT66, and are reached from outside on their published
//! container ports and by ICMPv6 echo only (Docker's routed mode). Their
//! flows live in the IPv6 NAT tables with entries that translate nothing
//! (`NatKind::RoutedRequest`/`RoutedReply`), so replies, TCP state, idle
//! timeouts and `ebpfnet flows` work as for masquerade.

/// Flag of `NetworkInfo6::flags` and `EndpointInfo::flags`: the network
/// routes IPv6 instead of masquerading it.
pub const NETWORK_ROUTED6: u32 = 2;

/// Hash [`RoutedPortKey6`] -> `u32` (how many of the container's port
/// mappings open it): the container ports of routed networks' containers
/// open to the outside.
pub const ROUTED6_MAP: &str = "ROUTED6";
pub const ROUTED6_CAPACITY: u32 = 65_536;

/// Key of `ROUTED6`: a container's IPv6 address (network order, as on the
/// wire), a port (host byte order) and the protocol (TCP or UDP).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoutedPortKey6 {
    pub ip: [u8; 16],
    pub port: u16,
    pub protocol: u8,
    pub _pad: u8,
}

impl RoutedPortKey6 {
    pub const fn new(ip: [u8; 16], port: u16, protocol: u8) -> Self {
        Self {
            ip,
            port,
            protocol,
            _pad: 0,
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: `#[repr(C)]` byte arrays and integers with explicit padding:
    // every bit pattern is valid.
    unsafe impl aya::Pod for super::RoutedPortKey6 {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_has_no_hidden_padding() {
        assert_eq!(core::mem::size_of::<RoutedPortKey6>(), 20);
    }
}
