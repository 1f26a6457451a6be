//! Packet counters kept by every program.

/// The attach points of the datapath. Used as the index of the `PROG_STATS`
/// per-CPU array, so the discriminants are stable ABI.
#[repr(u32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProgramId {
    /// TC ingress on an uplink: traffic arriving from other hosts.
    UplinkIngress = 0,
    /// TC ingress on a container's host-side veth: traffic leaving a container.
    ContainerIngress = 1,
    /// cgroup `connect4`: host sockets to published ports, rewritten.
    SockConnect = 2,
    /// cgroup `sendmsg4`: unconnected UDP to published ports.
    SockSendmsg = 3,
    /// cgroup `recvmsg4`: replies shown as from the published address.
    SockRecvmsg = 4,
    /// cgroup `connect6`: host IPv6 sockets to `::1` or a v4-mapped
    /// published address, rewritten to the v4-mapped container address.
    SockConnect6 = 5,
    /// cgroup `sendmsg6`: unconnected IPv6 UDP to `::1` on a published port,
    /// which the kernel cannot redirect to an IPv4 address: refused.
    SockSendmsg6 = 6,
    /// cgroup `recvmsg6`: replies shown as from the address asked for.
    SockRecvmsg6 = 7,
    /// TC egress on a container's host-side veth: packets the host
    /// forwarded from a non-container interface, refused.
    ContainerEgress = 8,
    /// TC egress on the parent of a macvlan network: what its containers
    /// send to the LAN, checked against their addresses.
    LanParentEgress = 9,
    /// TC ingress on the host's VXLAN device: decapsulated packets of
    /// overlay networks, delivered to a local container of their network.
    OverlayIngress = 10,
}

impl ProgramId {
    pub const COUNT: u32 = 11;
    pub const ALL: [ProgramId; 11] = [
        ProgramId::UplinkIngress,
        ProgramId::ContainerIngress,
        ProgramId::SockConnect,
        ProgramId::SockSendmsg,
        ProgramId::SockRecvmsg,
        ProgramId::SockConnect6,
        ProgramId::SockSendmsg6,
        ProgramId::SockRecvmsg6,
        ProgramId::ContainerEgress,
        ProgramId::LanParentEgress,
        ProgramId::OverlayIngress,
    ];
    /// The TC programs, attached per interface.
    pub const TC: [ProgramId; 5] = [
        ProgramId::UplinkIngress,
        ProgramId::ContainerIngress,
        ProgramId::ContainerEgress,
        ProgramId::LanParentEgress,
        ProgramId::OverlayIngress,
    ];

    /// Whether the program runs on packets an interface sends (TC egress)
    /// rather than on those it receives.
    pub const fn is_egress(self) -> bool {
        matches!(
            self,
            ProgramId::ContainerEgress | ProgramId::LanParentEgress
        )
    }

    /// The ELF symbol name of the program attached at this hook.
    pub const fn program_name(self) -> &'static str {
        match self {
            ProgramId::UplinkIngress => "uplink_ingress",
            ProgramId::ContainerIngress => "container_ingress",
            ProgramId::SockConnect => "sock_connect4",
            ProgramId::SockSendmsg => "sock_sendmsg4",
            ProgramId::SockRecvmsg => "sock_recvmsg4",
            ProgramId::SockConnect6 => "sock_connect6",
            ProgramId::SockSendmsg6 => "sock_sendmsg6",
            ProgramId::SockRecvmsg6 => "sock_recvmsg6",
            ProgramId::ContainerEgress => "container_egress",
            ProgramId::LanParentEgress => "lan_parent_egress",
            ProgramId::OverlayIngress => "overlay_ingress",
        }
    }
}

/// Packets and bytes seen, host byte order. Value of `PROG_STATS`
/// (per-CPU array indexed by [`ProgramId`]).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct TrafficCounter {
    pub packets: u64,
    pub bytes: u64,
}

impl TrafficCounter {
    pub fn add(&mut self, other: &TrafficCounter) {
        self.packets = self.packets.wrapping_add(other.packets);
        self.bytes = self.bytes.wrapping_add(other.bytes);
    }
}

/// Value of `IFACE_STATS` (per-CPU hash keyed by the interface index, a `u32`
/// in host byte order): what each attached program saw on that interface.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceCounters {
    /// Packets received by the interface (TC ingress).
    pub ingress: TrafficCounter,
}

/// Value of `IFACE_SLOTS` (per-CPU array): the interface a CPU counts in
/// this slot (0: none yet) and what it saw there.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct IfaceSlot {
    pub ifindex: u32,
    pub _pad: u32,
    /// Packets received by the interface (TC ingress).
    pub ingress: TrafficCounter,
}

#[cfg(feature = "user")]
mod pod {
    // SAFETY: plain `#[repr(C)]` integers with no padding.
    unsafe impl aya::Pod for super::TrafficCounter {}
    // SAFETY: as above.
    unsafe impl aya::Pod for super::IfaceCounters {}
    // SAFETY: as above (two `u32`, then the counters).
    unsafe impl aya::Pod for super::IfaceSlot {}
}

/// Why a program dropped a packet. Index of the `DROPS` per-CPU array of
/// `u64`, so the discriminants are stable ABI.
#[repr(i32)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// A source IP that is not the sender's: a container's not its own, or
    /// a container address arriving from an uplink.
    SpoofedIp = 0,
    /// A container sent with a source MAC that is not its own.
    SpoofedMac = 1,
    /// A container sent ARP claiming another IP or MAC.
    SpoofedArp = 2,
    /// Container to a container on another network it is not connected to.
    Isolation = 3,
    /// From an uplink to a container address, neither reply nor published.
    Unsolicited = 4,
    /// From an uplink to a loopback address (CVE-2020-8558).
    LoopbackFromUplink = 5,
    /// A container on an `--internal` network tried to leave it.
    InternalNetwork = 6,
    /// No free masquerade port for the flow.
    MasqueradePortsExhausted = 7,
    /// The NAT table refused a new entry.
    NatInsertFailed = 8,
    /// An IP fragment for a container whose ports are unknown: a later
    /// fragment that came before the first, or after its record expired.
    Fragment = 9,
    /// A header shorter than its own length field, or truncated.
    Malformed = 10,
    /// A container sent to a loopback address (moby#45610): only host
    /// processes reach ports published on 127.0.0.1.
    LoopbackFromContainer = 11,
    /// A container sent a router advertisement or an ICMPv6 redirect
    /// (RA guard, CVE-2020-13401).
    RouterAdvertisement = 12,
    /// IPv6 from a container beyond where it may go: a source that is not
    /// its own on a network without IPv6 (link-local only there), or a
    /// destination outside its IPv6 networks from an address NAT66 does
    /// not take (link-local, or a container on a network without IPv6).
    Ipv6Disabled = 13,
    /// A TCP RST whose sequence number is outside the flow's window.
    TcpOutOfWindow = 14,
    /// A TCP segment that is not a SYN and belongs to no tracked flow:
    /// only a flow's opening packet creates NAT state.
    NoFlow = 15,
    /// A packet from an uplink whose TTL would reach 0 when forwarded.
    TtlExceeded = 16,
    /// The container holds its share of masquerade ports towards that
    /// destination already.
    MasqueradeQuota = 17,
    /// A container's packet for the outside that masquerade cannot
    /// translate (a protocol other than TCP, UDP and ICMP echo, or an echo
    /// reply of no flow): it would leave with the container's own address.
    Untranslatable = 18,
    /// To a container, forwarded by the host from an interface that is not
    /// a container's (`--guard-interfaces all`, moby#49325).
    ForwardedFromHostInterface = 19,
    /// Larger than the egress link's MTU and without DF: the datapath cannot
    /// fragment, so the packet is lost (its sender still gets "fragmentation
    /// needed", and a Linux sender fragments smaller from then on).
    TooBig = 20,
    /// A container's neighbour discovery claimed an address or a MAC that
    /// is not its own (NA/NS spoofing, the IPv6 form of ARP spoofing).
    SpoofedNeighbor = 21,
    /// A VXLAN packet whose VNI is no overlay network of this host.
    OverlayUnknownVni = 22,
    /// A decapsulated packet not from a known container of its overlay
    /// network on the sending host, or not for a local container of that
    /// network (isolation between overlay networks).
    OverlayIsolation = 23,
}

impl DropReason {
    pub const COUNT: u32 = 24;
    pub const ALL: [DropReason; 24] = [
        DropReason::SpoofedIp,
        DropReason::SpoofedMac,
        DropReason::SpoofedArp,
        DropReason::Isolation,
        DropReason::Unsolicited,
        DropReason::LoopbackFromUplink,
        DropReason::InternalNetwork,
        DropReason::MasqueradePortsExhausted,
        DropReason::NatInsertFailed,
        DropReason::Fragment,
        DropReason::Malformed,
        DropReason::LoopbackFromContainer,
        DropReason::RouterAdvertisement,
        DropReason::Ipv6Disabled,
        DropReason::TcpOutOfWindow,
        DropReason::NoFlow,
        DropReason::TtlExceeded,
        DropReason::MasqueradeQuota,
        DropReason::Untranslatable,
        DropReason::ForwardedFromHostInterface,
        DropReason::TooBig,
        DropReason::SpoofedNeighbor,
        DropReason::OverlayUnknownVni,
        DropReason::OverlayIsolation,
    ];

    pub const fn name(self) -> &'static str {
        match self {
            DropReason::SpoofedIp => "spoofed_ip",
            DropReason::SpoofedMac => "spoofed_mac",
            DropReason::SpoofedArp => "spoofed_arp",
            DropReason::Isolation => "isolation",
            DropReason::Unsolicited => "unsolicited",
            DropReason::LoopbackFromUplink => "loopback_from_uplink",
            DropReason::InternalNetwork => "internal_network",
            DropReason::MasqueradePortsExhausted => "masquerade_ports_exhausted",
            DropReason::NatInsertFailed => "nat_insert_failed",
            DropReason::Fragment => "fragment",
            DropReason::Malformed => "malformed",
            DropReason::LoopbackFromContainer => "loopback_from_container",
            DropReason::RouterAdvertisement => "router_advertisement",
            DropReason::Ipv6Disabled => "ipv6_disabled",
            DropReason::TcpOutOfWindow => "tcp_out_of_window",
            DropReason::NoFlow => "no_flow",
            DropReason::TtlExceeded => "ttl_exceeded",
            DropReason::MasqueradeQuota => "masquerade_quota",
            DropReason::Untranslatable => "untranslatable",
            DropReason::ForwardedFromHostInterface => "forwarded_from_host_interface",
            DropReason::TooBig => "too_big",
            DropReason::SpoofedNeighbor => "spoofed_neighbor",
            DropReason::OverlayUnknownVni => "overlay_unknown_vni",
            DropReason::OverlayIsolation => "overlay_isolation",
        }
    }
}
