//! Key and value types of the IPv6 NAT tables (`NAT6_TCP`, `NAT6_OTHER`),
//! the IPv6 masquerade counters (`MASQ_USAGE6`) and the uplinks' IPv6
//! addresses (`UPLINKS6`): the twins of `maps::FlowKey`, `maps::NatEntry`
//! and `maps::MasqUsageKey`, with the same conventions:
//! - IPv6 addresses are the 16 bytes of the wire (network order), so
//!   bpftool prints them as they read;
//! - ports are `u16` in host byte order (bpftool prints `8080`); for
//!   ICMPv6 echo both carry the identifier;
//! - interface indexes, timestamps, counters and TCP numbers are in host
//!   byte order;
//! - padding is explicit (`_pad*` fields, always zero).
//!
//! `kind`, `forward` and `tcp_flags` of [`NatEntry6`] take the same values
//! as in `maps::NatEntry` (`NatKind`, `Forward`, `TCP_FIN_SEEN`…).

/// IPv6 next-header number of ICMPv6 (TCP and UDP keep their IPv4 numbers).
pub const ICMPV6: u8 = 58;

/// Key of `NAT6_TCP` and `NAT6_OTHER`: a flow as one direction sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKey6 {
    pub src_ip: [u8; 16],
    pub dst_ip: [u8; 16],
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    pub _pad: [u8; 3],
}

impl FlowKey6 {
    pub const fn new(
        src_ip: [u8; 16],
        src_port: u16,
        dst_ip: [u8; 16],
        dst_port: u16,
        protocol: u8,
    ) -> Self {
        Self {
            src_ip,
            dst_ip,
            src_port,
            dst_port,
            protocol,
            _pad: [0; 3],
        }
    }

    /// The same flow seen from the other end.
    pub const fn reversed(&self) -> Self {
        Self::new(
            self.dst_ip,
            self.dst_port,
            self.src_ip,
            self.src_port,
            self.protocol,
        )
    }
}

/// Value of `NAT6_TCP` / `NAT6_OTHER`: as `maps::NatEntry`, one per
/// direction of a flow, written together.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatEntry6 {
    /// The translated tuple: what the packet looks like after rewriting.
    pub new_src_ip: [u8; 16],
    pub new_dst_ip: [u8; 16],
    pub new_src_port: u16,
    pub new_dst_port: u16,
    /// Where the packet goes: host veth (`Forward::Peer`) or uplink.
    pub ifindex: u32,
    /// A `NatKind`.
    pub kind: u8,
    /// A `Forward`.
    pub forward: u8,
    /// Bits as in `NatEntry::tcp_flags`.
    pub tcp_flags: u8,
    pub _pad: u8,
    /// Destination MAC for `Forward::Peer` (the container's).
    pub dst_mac: [u8; 6],
    pub _pad2: [u8; 2],
    pub _pad3: u32,
    /// `bpf_ktime_get_ns` (CLOCK_MONOTONIC) at creation and last packet.
    pub created_ns: u64,
    pub last_seen_ns: u64,
    pub packets: u64,
    pub bytes: u64,
    /// TCP only: the sequence number just past the last segment this
    /// direction sent, valid with `TCP_SEQ_SEEN`.
    pub tcp_seq_end: u32,
    /// TCP only: the highest acknowledgement this direction sent, valid
    /// with `TCP_ACK_SEEN`.
    pub tcp_ack: u32,
}

impl NatEntry6 {
    /// The key of the flow's other direction.
    pub const fn twin_key(&self, protocol: u8) -> FlowKey6 {
        FlowKey6::new(
            self.new_dst_ip,
            self.new_dst_port,
            self.new_src_ip,
            self.new_src_port,
            protocol,
        )
    }
}

/// Key of `MASQ_USAGE6`: a container's masqueraded IPv6 flows towards one
/// destination. ICMPv6 echo flows use port 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MasqUsageKey6 {
    pub container_ip: [u8; 16],
    pub dst_ip: [u8; 16],
    pub dst_port: u16,
    pub protocol: u8,
    pub _pad: u8,
}

impl MasqUsageKey6 {
    pub const fn new(
        container_ip: [u8; 16],
        dst_ip: [u8; 16],
        dst_port: u16,
        protocol: u8,
    ) -> Self {
        Self {
            container_ip,
            dst_ip,
            // Echo identifiers are per flow; the destination is the address.
            dst_port: if protocol == ICMPV6 { 0 } else { dst_port },
            protocol,
            _pad: 0,
        }
    }
}

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
    unsafe impl aya::Pod for FlowKey6 {}
    unsafe impl aya::Pod for NatEntry6 {}
    unsafe impl aya::Pod for MasqUsageKey6 {}
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

    #[test]
    fn twin_of_an_entry_is_its_tuple_reversed() {
        let entry = NatEntry6 {
            new_src_ip: [1; 16],
            new_src_port: 61000,
            new_dst_ip: [2; 16],
            new_dst_port: 53,
            ..NatEntry6::default()
        };
        let twin = entry.twin_key(17);
        assert_eq!(twin, FlowKey6::new([2; 16], 53, [1; 16], 61000, 17));
        assert_eq!(twin.reversed().reversed(), twin);
    }

    #[test]
    fn echo_counts_per_destination_address() {
        let k = MasqUsageKey6::new([1; 16], [2; 16], 77, ICMPV6);
        assert_eq!(k.dst_port, 0);
        assert_eq!(MasqUsageKey6::new([1; 16], [2; 16], 77, 17).dst_port, 77);
    }
}
