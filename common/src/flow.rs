//! Key and value types of the NAT tables, written once for both address
//! families: [`FlowKeyOf`], [`NatEntryOf`] and [`MasqUsageKeyOf`] over the
//! address bytes (`[u8; 4]` or `[u8; 16]`, network order, so bpftool prints
//! them as they read). The tables use their instances: `maps::FlowKey`,
//! `maps::NatEntry`, `maps::MasqUsageKey` for IPv4 (`NAT_TCP`,
//! `NAT_OTHER`, `MASQ_USAGE`) and `flows6::FlowKey6`, `flows6::NatEntry6`,
//! `flows6::MasqUsageKey6` for IPv6 (`NAT6_TCP`, `NAT6_OTHER`,
//! `MASQ_USAGE6`).
//!
//! The byte layout of each instance is what it was as a struct of its own
//! (16/72/12 bytes for IPv4, 40/96/36 for IPv6, no hidden padding), so
//! pinned tables load across an upgrade. BTF names an instance by its
//! Rust name with bpf-linker's escapes (`FlowKeyOf_3C__5B_u8_3B__20_4_5D__3E_`);
//! bpftool prints the fields as before.
//!
//! Ports are `u16` in host byte order (bpftool prints `8080`); for ICMP
//! and ICMPv6 echo both carry the identifier. Interface indexes,
//! timestamps, counters and TCP numbers are in host byte order; padding is
//! explicit (`_pad`, always zero).

use crate::{flows6::ICMPV6, maps::proto};

/// An address family as the NAT tables see it: its address bytes.
pub trait FlowAddr: Copy + Default + Eq + Ord + core::hash::Hash + core::fmt::Debug {
    /// The family's ICMP protocol number (`proto::ICMP`, `ICMPV6`): its
    /// echo flows count per destination address, not per identifier.
    const ICMP: u8;
}

impl FlowAddr for [u8; 4] {
    const ICMP: u8 = proto::ICMP;
}

impl FlowAddr for [u8; 16] {
    const ICMP: u8 = ICMPV6;
}

/// Key of the NAT tables: a flow as one direction sees it.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct FlowKeyOf<A> {
    pub src_ip: A,
    pub dst_ip: A,
    pub src_port: u16,
    pub dst_port: u16,
    pub protocol: u8,
    pub _pad: [u8; 3],
}

impl<A: Copy> FlowKeyOf<A> {
    pub const fn new(src_ip: A, src_port: u16, dst_ip: A, dst_port: u16, protocol: u8) -> Self {
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

/// Value of the NAT tables. Each flow has two entries, one per direction,
/// written together; each holds the rewrite for its direction.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NatEntryOf<A> {
    /// The translated tuple: what the packet looks like after rewriting.
    pub new_src_ip: A,
    pub new_dst_ip: A,
    pub new_src_port: u16,
    pub new_dst_port: u16,
    /// Where the packet goes: host veth (`Forward::Peer`) or uplink.
    pub ifindex: u32,
    /// A `NatKind`.
    pub kind: u8,
    /// A `Forward`.
    pub forward: u8,
    /// Bits: `TCP_FIN_SEEN`, `TCP_RST_SEEN`, `REPLY_SEEN`,
    /// `PUBLISHED_ANY_IP`, `TCP_SEQ_SEEN`, `TCP_ACK_SEEN`,
    /// `FROM_CONTAINER`, `NH_MTU_FITS` (`maps`).
    pub tcp_flags: u8,
    /// `Forward::Neigh` only: the next-hop generation (`NEXTHOP_GEN`, 1 to
    /// 255) under which `dst_mac`/`src_mac` were resolved by
    /// `bpf_fib_lookup`; 0: nothing cached. While it equals the map's
    /// value, packets leave with those MACs and a plain `bpf_redirect`.
    pub nh_gen: u8,
    /// Destination MAC: for `Forward::Peer` the container's; for
    /// `Forward::Neigh` the cached next hop's (valid with `nh_gen`).
    pub dst_mac: [u8; 6],
    /// `Forward::Neigh` only: the cached source MAC (the egress device's),
    /// valid with `nh_gen`; zero otherwise.
    pub src_mac: [u8; 6],
    /// `bpf_ktime_get_coarse_ns` (CLOCK_MONOTONIC, jiffy resolution) at
    /// creation and last packet.
    pub created_ns: u64,
    pub last_seen_ns: u64,
    pub packets: u64,
    pub bytes: u64,
    /// TCP only, host byte order: the sequence number just past the last
    /// segment this direction sent (SYN and FIN count one), valid with
    /// `TCP_SEQ_SEEN`.
    pub tcp_seq_end: u32,
    /// TCP only, host byte order: the highest acknowledgement number this
    /// direction sent, valid with `TCP_ACK_SEEN`.
    pub tcp_ack: u32,
}

impl<A: Copy> NatEntryOf<A> {
    /// The key of the flow's other direction: the reverse of the tuple this
    /// entry translates its packets into.
    pub const fn twin_key(&self, protocol: u8) -> FlowKeyOf<A> {
        FlowKeyOf::new(
            self.new_dst_ip,
            self.new_dst_port,
            self.new_src_ip,
            self.new_src_port,
            protocol,
        )
    }
}

/// Key of the masquerade counters: a container's masqueraded flows towards
/// one destination. Echo flows use port 0.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MasqUsageKeyOf<A> {
    pub container_ip: A,
    pub dst_ip: A,
    pub dst_port: u16,
    pub protocol: u8,
    pub _pad: u8,
}

impl<A: FlowAddr> MasqUsageKeyOf<A> {
    pub const fn new(container_ip: A, dst_ip: A, dst_port: u16, protocol: u8) -> Self {
        Self {
            container_ip,
            dst_ip,
            // Echo identifiers are per flow; the destination is the address.
            dst_port: if protocol == A::ICMP { 0 } else { dst_port },
            protocol,
            _pad: 0,
        }
    }
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: `#[repr(C)]` integers and byte arrays (the address, Pod)
    // with explicit padding fields: every bit pattern is valid.
    unsafe impl<A: aya::Pod> aya::Pod for FlowKeyOf<A> {}
    unsafe impl<A: aya::Pod> aya::Pod for NatEntryOf<A> {}
    unsafe impl<A: aya::Pod> aya::Pod for MasqUsageKeyOf<A> {}
}

#[cfg(test)]
mod tests {
    use core::mem::{offset_of, size_of};

    use super::*;

    type V4 = [u8; 4];
    type V6 = [u8; 16];

    #[test]
    fn sizes_have_no_hidden_padding() {
        assert_eq!(size_of::<FlowKeyOf<V4>>(), 16);
        assert_eq!(size_of::<NatEntryOf<V4>>(), 72);
        assert_eq!(size_of::<MasqUsageKeyOf<V4>>(), 12);
        assert_eq!(size_of::<FlowKeyOf<V6>>(), 40);
        assert_eq!(size_of::<NatEntryOf<V6>>(), 96);
        assert_eq!(size_of::<MasqUsageKeyOf<V6>>(), 36);
    }

    /// The IPv6 entry kept the offsets it had as a struct of its own
    /// (`nh_gen` and `src_mac` were padding there, always zero).
    #[test]
    fn the_ipv6_entry_keeps_its_offsets() {
        assert_eq!(offset_of!(NatEntryOf<V6>, ifindex), 36);
        assert_eq!(offset_of!(NatEntryOf<V6>, tcp_flags), 42);
        assert_eq!(offset_of!(NatEntryOf<V6>, dst_mac), 44);
        assert_eq!(offset_of!(NatEntryOf<V6>, created_ns), 56);
        assert_eq!(offset_of!(NatEntryOf<V6>, tcp_ack), 92);
    }

    #[test]
    fn twin_of_an_entry_is_its_tuple_reversed() {
        let entry = NatEntryOf::<V6> {
            new_src_ip: [1; 16],
            new_src_port: 61000,
            new_dst_ip: [2; 16],
            new_dst_port: 53,
            ..Default::default()
        };
        let twin = entry.twin_key(17);
        assert_eq!(twin, FlowKeyOf::new([2; 16], 53, [1; 16], 61000, 17));
        assert_eq!(twin.reversed().reversed(), twin);
    }

    #[test]
    fn echo_counts_per_destination_address() {
        let k = MasqUsageKeyOf::<V6>::new([1; 16], [2; 16], 77, ICMPV6);
        assert_eq!((k.dst_port, k._pad), (0, 0));
        assert_eq!(
            MasqUsageKeyOf::<V6>::new([1; 16], [2; 16], 77, 17).dst_port,
            77
        );
        let k = MasqUsageKeyOf::<V4>::new([1; 4], [2; 4], 77, proto::ICMP);
        assert_eq!(k.dst_port, 0);
        assert_eq!(
            MasqUsageKeyOf::<V4>::new([1; 4], [2; 4], 53, 17).dst_port,
            53
        );
    }
}
