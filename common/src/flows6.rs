//! The IPv6 NAT tables' types (`NAT6_TCP`, `NAT6_OTHER`, `MASQ_USAGE6`:
//! the IPv6 instances of `flow`'s, with its conventions) and the uplinks'
//! IPv6 addresses (`UPLINKS6`). IPv6 addresses are the 16 bytes of the
//! wire (network order), so bpftool prints them as they read. `kind`,
//! `forward` and `tcp_flags` of [`NatEntry6`] take the same values as in
//! `maps::NatEntry` (`NatKind`, `Forward`, `TCP_FIN_SEEN`…).

pub use crate::flow::{FlowKeyOf, MasqUsageKeyOf, NatEntryOf};

/// IPv6 next-header number of ICMPv6 (TCP and UDP keep their IPv4 numbers).
pub const ICMPV6: u8 = 58;

/// Key of `NAT6_TCP` and `NAT6_OTHER`: a flow as one direction sees it.
pub type FlowKey6 = FlowKeyOf<[u8; 16]>;

/// Value of `NAT6_TCP` / `NAT6_OTHER`: as `maps::NatEntry`, one per
/// direction of a flow, written together (a flow leaving by an uplink
/// caches its next hop in `nh_gen`, `dst_mac` and `src_mac`, as IPv4's).
pub type NatEntry6 = NatEntryOf<[u8; 16]>;

/// Key of `MASQ_USAGE6`: a container's masqueraded IPv6 flows towards one
/// destination. ICMPv6 echo flows use port 0.
pub type MasqUsageKey6 = MasqUsageKeyOf<[u8; 16]>;

/// Value of `UPLINKS6`, keyed by the uplink's ifindex (`u32`): the IPv6
/// address masqueraded flows leave with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UplinkInfo6 {
    pub ip: [u8; 16],
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: `#[repr(C)]` integers and byte arrays with explicit padding
    // fields: every bit pattern is valid.
    unsafe impl aya::Pod for UplinkInfo6 {}
}

#[cfg(test)]
mod tests {
    use core::mem::size_of;

    use super::*;

    #[test]
    fn sizes_have_no_hidden_padding() {
        assert_eq!(size_of::<FlowKey6>(), 40);
        assert_eq!(size_of::<NatEntry6>(), 96);
        assert_eq!(size_of::<MasqUsageKey6>(), 36);
        assert_eq!(size_of::<UplinkInfo6>(), 16);
    }
}
