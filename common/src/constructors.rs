//! Building the map types (padding always zero) and reading back the enums
//! stored as plain integers, so userspace never spells a padding field or
//! a discriminant. Byte orders are those documented on the fields.

use crate::{
    DropReason, ProgramId,
    maps::{
        Config, EndpointAddr, EndpointInfo, Forward, LanIpKey, LanMac, LanMacKey, NETWORK_INTERNAL,
        NatKind, NetworkInfo, UplinkInfo,
    },
};

impl NetworkInfo {
    pub const fn new(network_id: u32, gateway: [u8; 4], internal: bool) -> Self {
        Self {
            network_id,
            gateway,
            flags: if internal { NETWORK_INTERNAL } else { 0 },
        }
    }
}

impl EndpointInfo {
    /// An endpoint on the network `network` describes.
    pub const fn new(ip: [u8; 4], mac: [u8; 6], network: &NetworkInfo) -> Self {
        Self {
            ip,
            mac,
            _pad: [0; 2],
            network_id: network.network_id,
            flags: network.flags,
        }
    }
}

impl EndpointAddr {
    pub const fn new(ifindex: u32, mac: [u8; 6]) -> Self {
        Self {
            ifindex,
            mac,
            _pad: [0; 2],
        }
    }
}

impl UplinkInfo {
    pub const fn new(ip: [u8; 4]) -> Self {
        Self { ip, _pad: 0 }
    }
}

impl LanMacKey {
    /// A macvlan container's MAC on the parent `ifindex`.
    pub const fn new(ifindex: u32, mac: [u8; 6]) -> Self {
        Self {
            ifindex,
            mac,
            _pad: [0; 2],
        }
    }
}

impl LanIpKey {
    pub const fn new(ifindex: u32, ip: [u8; 4]) -> Self {
        Self { ifindex, ip }
    }
}

impl LanMac {
    pub const fn new(mac: [u8; 6]) -> Self {
        Self { mac, _pad: [0; 2] }
    }
}

impl Config {
    pub const fn new(
        masq_ports: (u16, u16),
        masq_ports_per_destination: u16,
        host_netns_cookie: u64,
    ) -> Self {
        Self {
            masq_port_min: masq_ports.0,
            masq_port_max: masq_ports.1,
            masq_ports_per_destination,
            _pad: 0,
            host_netns_cookie,
        }
    }
}

impl NatKind {
    /// Every kind, in the order of their discriminants.
    pub const ALL: [NatKind; 8] = [
        NatKind::PublishedRequest,
        NatKind::PublishedReply,
        NatKind::MasqueradeRequest,
        NatKind::MasqueradeReply,
        NatKind::RoutedRequest,
        NatKind::RoutedReply,
        NatKind::Nat46Request,
        NatKind::Nat46Reply,
    ];
}

impl Forward {
    /// Every way out, in the order of their discriminants.
    pub const ALL: [Forward; 2] = [Forward::Peer, Forward::Neigh];
}

/// `TryFrom` the integer an enum with an `ALL` list is stored as: the
/// member of that discriminant; the integer back when it names none.
macro_rules! try_from_discriminant {
    ($enum:ty, $repr:ty, $doc:literal) => {
        #[doc = $doc]
        impl TryFrom<$repr> for $enum {
            type Error = $repr;

            fn try_from(value: $repr) -> Result<Self, $repr> {
                Self::ALL
                    .into_iter()
                    .find(|&member| member as $repr == value)
                    .ok_or(value)
            }
        }
    };
}

try_from_discriminant!(NatKind, u8, "`NatEntry::kind`.");
try_from_discriminant!(Forward, u8, "`NatEntry::forward`.");
try_from_discriminant!(ProgramId, u32, "An index of `PROG_STATS`.");
try_from_discriminant!(DropReason, i32, "An index of `DROPS`.");

#[cfg(test)]
mod tests {
    use super::*;
    use crate::maps::MasqUsageKey;

    #[test]
    fn every_enum_reads_back_what_it_writes() {
        for (n, kind) in (1..).zip(NatKind::ALL) {
            assert_eq!((NatKind::try_from(n), kind as u8), (Ok(kind), n));
        }
        assert_eq!(NatKind::try_from(0), Err(0));
        assert_eq!(NatKind::try_from(9), Err(9));
        for (n, forward) in (1..).zip(Forward::ALL) {
            assert_eq!((Forward::try_from(n), forward as u8), (Ok(forward), n));
        }
        assert_eq!(Forward::try_from(0), Err(0));
        assert_eq!(Forward::try_from(3), Err(3));
        for program in ProgramId::ALL {
            assert_eq!(ProgramId::try_from(program as u32), Ok(program));
        }
        assert_eq!(ProgramId::try_from(ProgramId::COUNT), Err(ProgramId::COUNT));
        for reason in DropReason::ALL {
            assert_eq!(DropReason::try_from(reason as i32), Ok(reason));
        }
        assert_eq!(DropReason::try_from(-1), Err(-1));
    }

    #[test]
    fn constructors_zero_the_padding() {
        let network = NetworkInfo::new(7, [10, 1, 0, 1], true);
        assert_eq!(network.flags, NETWORK_INTERNAL);
        let endpoint = EndpointInfo::new([10, 1, 0, 2], [2, 66, 10, 1, 0, 2], &network);
        assert_eq!(
            (endpoint.network_id, endpoint.flags, endpoint._pad),
            (7, 1, [0; 2])
        );
        assert_eq!(UplinkInfo::new([1, 2, 3, 4])._pad, 0);
        assert_eq!(EndpointAddr::new(3, [1; 6])._pad, [0; 2]);
        assert_eq!(MasqUsageKey::new([1; 4], [2; 4], 53, 17)._pad, 0);
        assert_eq!(LanMacKey::new(4, [1; 6])._pad, [0; 2]);
        assert_eq!(LanMac::new([1; 6])._pad, [0; 2]);
        let config = Config::new((61000, 65535), 100, 5);
        assert_eq!(
            (config.masq_port_min, config.masq_port_max, config._pad),
            (61000, 65535, 0)
        );
    }
}
