//! Key and value types of the NAT, publishing and topology maps.
//!
//! Conventions, for every type here:
//! - IPv4 addresses are `[u8; 4]` in network order, so bpftool prints
//!   `[10,214,0,2]`;
//! - ports are `u16` in host byte order, so bpftool prints `8080`; the
//!   programs convert with one instruction;
//! - interface indexes are `u32` in host byte order;
//! - padding is explicit (`_pad*` fields, always zero), so keys hash the
//!   same on both sides.

pub use crate::{
    flow::{FlowKeyOf, MasqUsageKeyOf, NatEntryOf},
    published::{PublishedKeyOf, PublishedValueOf},
};

/// IP protocol numbers, as in the IPv4 header.
pub mod proto {
    pub const ICMP: u8 = 1;
    pub const TCP: u8 = 6;
    pub const UDP: u8 = 17;
}

/// Key of `PUBLISHED`: a host address and port that leads into a container.
/// `host_ip` `[0,0,0,0]` stands for every address of the host.
pub type PublishedKey = PublishedKeyOf<[u8; 4]>;

/// Value of `PUBLISHED`: where the port leads.
pub type PublishedValue = PublishedValueOf<[u8; 4]>;

/// Value of `ENDPOINTS`, keyed by the host-side veth's ifindex (`u32`):
/// what the container behind it may send as.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointInfo {
    pub ip: [u8; 4],
    pub mac: [u8; 6],
    pub _pad: [u8; 2],
    /// The network's number (see `NetworkInfo::network_id`).
    pub network_id: u32,
    /// `NETWORK_INTERNAL` when the network is `--internal`.
    pub flags: u32,
}

pub const NETWORK_INTERNAL: u32 = 1;

/// Value of `ENDPOINT_IPS`, keyed by a container address (`[u8; 4]`): where
/// to deliver to it directly, past the bridge and netfilter.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EndpointAddr {
    /// Host side of the container's veth.
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub _pad: [u8; 2],
}

/// Key of the `NETWORKS` LPM trie: a subnet.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SubnetKey {
    pub addr: [u8; 4],
}

/// Value of `NETWORKS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct NetworkInfo {
    /// Small number that names the network in `ENDPOINTS` and here.
    pub network_id: u32,
    pub gateway: [u8; 4],
    pub flags: u32,
}

/// Value of `UPLINKS`, keyed by the uplink's ifindex (`u32`): the address
/// masqueraded flows leave with.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UplinkInfo {
    pub ip: [u8; 4],
    pub _pad: u32,
}

/// Value of `HOST_ADDRS`, keyed by a host IPv4 address (`[u8; 4]`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HostAddr {
    pub ifindex: u32,
}

/// Key of `NAT_TCP` and `NAT_OTHER`: a flow as one direction sees it.
/// For ICMP echo, both ports carry the echo identifier.
pub type FlowKey = FlowKeyOf<[u8; 4]>;

/// What a NAT entry does to the packets of its direction.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NatKind {
    /// Client → published port: destination rewritten to the container.
    PublishedRequest = 1,
    /// Container → client: source rewritten back to the published address.
    PublishedReply = 2,
    /// Container → outside: source rewritten to the uplink (masquerade).
    MasqueradeRequest = 3,
    /// Outside → masqueraded container: destination rewritten back.
    MasqueradeReply = 4,
    /// IPv6 routed mode (`routed6`): the direction that opened a flow, a
    /// container's to the outside or an outside host's to a published
    /// container port. Nothing rewritten.
    RoutedRequest = 5,
    /// Its answer. Nothing rewritten.
    RoutedReply = 6,
    /// IPv4 client → IPv6-only container (`nat46`), in the IPv6 tables:
    /// keyed by the client's embedded address and the host address's
    /// IPv4-mapped form; the packet is translated to IPv6.
    Nat46Request = 7,
    /// Its answer: translated back to IPv4, from the published address.
    Nat46Reply = 8,
}

/// How the rewritten packet leaves.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Forward {
    /// `bpf_redirect_peer` into the container behind `ifindex`.
    Peer = 1,
    /// `bpf_redirect_neigh` out of `ifindex` (neighbour resolved by the kernel).
    Neigh = 2,
}

/// Value of `NAT_TCP` / `NAT_OTHER`. Each flow has two entries, one per
/// direction, written together; each holds the rewrite for its direction.
pub type NatEntry = NatEntryOf<[u8; 4]>;

pub const TCP_FIN_SEEN: u8 = 1;
pub const TCP_RST_SEEN: u8 = 2;
pub const REPLY_SEEN: u8 = 4;
/// On a `PublishedRequest` entry: the flow matched a mapping published on
/// every host address (`0.0.0.0`), so its statistics go to that mapping.
pub const PUBLISHED_ANY_IP: u8 = 8;
/// This direction sent a TCP segment: `tcp_seq_end` is valid.
pub const TCP_SEQ_SEEN: u8 = 16;
/// This direction sent a TCP segment with an ACK: `tcp_ack` is valid. Both
/// directions with it mean the handshake is over (the opener's third
/// packet is its first ACK).
pub const TCP_ACK_SEEN: u8 = 32;
/// On a `PublishedRequest` entry: the client is a container (hairpin, or a
/// container of another network through a host address), so the flow's
/// packets enter from a container's veth, never from an uplink.
pub const FROM_CONTAINER: u8 = 64;
/// On a `Forward::Neigh` entry, valid with `nh_gen` (set when its next hop
/// was cached): the container's veth the direction's packets come through
/// has an MTU no larger than the egress device's, so those packets skip
/// the per-packet MTU check (datapath `mtu.rs`).
pub const NH_MTU_FITS: u8 = 128;

/// Value of `CONFIG` (an array of one).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Config {
    /// Masquerade source ports come from `[masq_port_min, masq_port_max]`,
    /// kept apart from the host's ephemeral range.
    pub masq_port_min: u16,
    pub masq_port_max: u16,
    /// How many masquerade ports one container may hold towards one
    /// destination (address, port, protocol); 0: no limit.
    pub masq_ports_per_destination: u16,
    pub _pad: u16,
    /// Cookie of the host's network namespace (`SO_NETNS_COOKIE`): only
    /// host sockets reach `127.0.0.1`-published ports by socket rewrite.
    pub host_netns_cookie: u64,
}

/// Key of `SOCK_REVERSE`: a socket that was sent to a container in place
/// of a published address, and the container address it was sent to.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockReverseKey {
    pub cookie: u64,
    pub container_ip: [u8; 4],
    pub container_port: u16,
    pub protocol: u8,
    pub _pad: u8,
}

/// Value of `SOCK_REVERSE`: the published address the socket asked for,
/// which its replies must seem to come from.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SockReverseValue {
    pub host_ip: [u8; 4],
    pub host_port: u16,
    /// Bits: [`SOCK_ASKED_V6_LOOPBACK`].
    pub flags: u16,
}

/// Key of `MASQ_USAGE`: a container's masqueraded flows towards one
/// destination. ICMP echo flows use port 0.
pub type MasqUsageKey = MasqUsageKeyOf<[u8; 4]>;

/// On a `SOCK_REVERSE` value: an IPv6 socket asked for `::1` (which
/// `host_ip` records as `127.0.0.1`), so replies show `::1`, not
/// `::ffff:127.0.0.1`.
pub const SOCK_ASKED_V6_LOOPBACK: u16 = 1;

/// Per-mapping counters: value of `PUBLISHED_STATS` (per-CPU hash keyed by
/// [`PublishedKey`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PublishedStats {
    pub packets: u64,
    pub bytes: u64,
    /// New flows that matched the mapping.
    pub flows: u64,
}

/// Key of `LAN_HOSTS`: a macvlan container's MAC on the parent (by
/// ifindex) of its network. The value is its IPv4 address (`[u8; 4]`).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LanMacKey {
    pub ifindex: u32,
    pub mac: [u8; 6],
    pub _pad: [u8; 2],
}

/// Key of `LAN_IPS`: a macvlan container's address on the parent (by
/// ifindex) of its network. The value is its MAC ([`LanMac`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LanIpKey {
    pub ifindex: u32,
    pub ip: [u8; 4],
}

/// Value of `LAN_IPS`.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LanMac {
    pub mac: [u8; 6],
    pub _pad: [u8; 2],
}

#[cfg(feature = "user")]
mod pod {
    use super::*;
    // SAFETY: all of these are `#[repr(C)]` integers and byte arrays with
    // explicit padding fields: every bit pattern is valid.
    unsafe impl aya::Pod for EndpointInfo {}
    unsafe impl aya::Pod for EndpointAddr {}
    unsafe impl aya::Pod for SubnetKey {}
    unsafe impl aya::Pod for NetworkInfo {}
    unsafe impl aya::Pod for UplinkInfo {}
    unsafe impl aya::Pod for HostAddr {}
    unsafe impl aya::Pod for Config {}
    unsafe impl aya::Pod for PublishedStats {}
    unsafe impl aya::Pod for SockReverseKey {}
    unsafe impl aya::Pod for SockReverseValue {}
    unsafe impl aya::Pod for LanMacKey {}
    unsafe impl aya::Pod for LanIpKey {}
    unsafe impl aya::Pod for LanMac {}
}

#[cfg(test)]
mod layout {
    use core::mem::size_of;

    use super::*;

    #[test]
    fn sizes_have_no_hidden_padding() {
        assert_eq!(size_of::<PublishedKey>(), 8);
        assert_eq!(size_of::<PublishedValue>(), 20);
        assert_eq!(size_of::<EndpointInfo>(), 20);
        assert_eq!(size_of::<EndpointAddr>(), 12);
        assert_eq!(size_of::<NetworkInfo>(), 12);
        assert_eq!(size_of::<FlowKey>(), 16);
        assert_eq!(size_of::<NatEntry>(), 72);
        assert_eq!(size_of::<MasqUsageKey>(), 12);
        assert_eq!(size_of::<Config>(), 16);
        assert_eq!(size_of::<SockReverseKey>(), 16);
        assert_eq!(size_of::<SockReverseValue>(), 8);
    }
}
