//! Names and sizes of the pinned maps, shared so the controller and the
//! programs agree. Each map is pinned as `<pin dir>/<name>`.

/// Per-CPU array of [`crate::TrafficCounter`] indexed by [`crate::ProgramId`].
pub const PROG_STATS_MAP: &str = "PROG_STATS";
/// Per-CPU array of [`crate::IfaceSlot`], indexed by the interface index
/// modulo its size: each CPU counts an interface in its slot there
/// (claimed by the interface's first packet on that CPU), or, when another
/// interface holds that slot, in `IFACE_STATS`.
pub const IFACE_SLOTS_MAP: &str = "IFACE_SLOTS";
/// A power of two (the programs mask the interface index with it).
pub const IFACE_SLOTS_CAPACITY: u32 = 4096;
const _: () = assert!(IFACE_SLOTS_CAPACITY.is_power_of_two());
/// Per-CPU hash `ifindex -> [`crate::IfaceCounters`]`: the interfaces
/// whose `IFACE_SLOTS` slot another one holds.
pub const IFACE_STATS_MAP: &str = "IFACE_STATS";
pub const IFACE_STATS_CAPACITY: u32 = 4096;
/// Per-CPU array of `u64` indexed by [`crate::DropReason`]; room for
/// reasons to come, so a daemon that counts a new one still opens the
/// maps an older one pinned.
pub const DROPS_MAP: &str = "DROPS";
pub const DROPS_CAPACITY: u32 = 64;
/// Hash [`crate::maps::PublishedKey`] -> [`crate::maps::PublishedValue`].
pub const PUBLISHED_MAP: &str = "PUBLISHED";
/// Every port of an address for both protocols is 131,070 mappings; this
/// leaves room for two such addresses. Not preallocated.
pub const PUBLISHED_CAPACITY: u32 = 1 << 18;
/// Per-CPU hash [`crate::maps::PublishedKey`] -> [`crate::maps::PublishedStats`].
pub const PUBLISHED_STATS_MAP: &str = "PUBLISHED_STATS";
/// Hash host-veth ifindex (`u32`) -> [`crate::maps::EndpointInfo`].
pub const ENDPOINTS_MAP: &str = "ENDPOINTS";
pub const ENDPOINTS_CAPACITY: u32 = 4096;
/// Hash container address (`[u8; 4]`) -> [`crate::maps::EndpointAddr`].
pub const ENDPOINT_IPS_MAP: &str = "ENDPOINT_IPS";
/// Hash [`crate::maps::LanMacKey`] -> IPv4 address (`[u8; 4]`): the
/// macvlan containers, as the program on their parents checks them.
pub const LAN_HOSTS_MAP: &str = "LAN_HOSTS";
/// Hash [`crate::maps::LanIpKey`] -> [`crate::maps::LanMac`].
pub const LAN_IPS_MAP: &str = "LAN_IPS";
pub const LAN_HOSTS_CAPACITY: u32 = 4096;
/// Hash [`crate::maps::LanMacKey`] -> [`crate::maps6::EndpointInfo6`]: the
/// global IPv6 address of a macvlan container on a network with IPv6.
pub const LAN_HOSTS6_MAP: &str = "LAN_HOSTS6";
/// Hash [`crate::maps6::LanIpKey6`] -> [`crate::maps::LanMac`].
pub const LAN_IPS6_MAP: &str = "LAN_IPS6";
/// LPM trie subnet -> [`crate::maps::NetworkInfo`].
pub const NETWORKS_MAP: &str = "NETWORKS";
pub const NETWORKS_CAPACITY: u32 = 1024;
/// Hash host-veth ifindex (`u32`) -> [`crate::maps6::EndpointInfo6`].
pub const ENDPOINTS6_MAP: &str = "ENDPOINTS6";
/// Hash container IPv6 address (`[u8; 16]`) -> [`crate::maps::EndpointAddr`].
pub const ENDPOINT_IPS6_MAP: &str = "ENDPOINT_IPS6";
/// LPM trie IPv6 subnet -> [`crate::maps6::NetworkInfo6`].
pub const NETWORKS6_MAP: &str = "NETWORKS6";
/// Hash uplink ifindex (`u32`) -> [`crate::maps::UplinkInfo`].
pub const UPLINKS_MAP: &str = "UPLINKS";
pub const UPLINKS_CAPACITY: u32 = 64;
/// Hash host address (`[u8; 4]`) -> [`crate::maps::HostAddr`].
pub const HOST_ADDRS_MAP: &str = "HOST_ADDRS";
pub const HOST_ADDRS_CAPACITY: u32 = 1024;
/// Hashes [`crate::maps::FlowKey`] -> [`crate::maps::NatEntry`], one entry
/// per direction of a flow. Plain hashes, not LRU: a full table refuses new
/// flows (counted) instead of evicting established ones, as Linux
/// conntrack never evicts an assured flow first. Allocated as used
/// (`BPF_F_NO_PREALLOC`), so the size is a ceiling, not resident memory.
pub const NAT_TCP_MAP: &str = "NAT_TCP";
pub const NAT_OTHER_MAP: &str = "NAT_OTHER";
/// Default entries per table (the daemon's `--nat-table-size`): 512k flows.
pub const NAT_CAPACITY: u32 = 1 << 20;
/// Hashes [`crate::flows6::FlowKey6`] -> [`crate::flows6::NatEntry6`]: the
/// IPv6 twins of `NAT_TCP` and `NAT_OTHER` (UDP and ICMPv6 in the second),
/// sized like them (`--nat-table-size`).
pub const NAT6_TCP_MAP: &str = "NAT6_TCP";
pub const NAT6_OTHER_MAP: &str = "NAT6_OTHER";
/// Hash [`crate::flows6::MasqUsageKey6`] -> `u32`: `MASQ_USAGE` for IPv6.
pub const MASQ_USAGE6_MAP: &str = "MASQ_USAGE6";
/// Program array of the programs the TC programs tail-call into (their
/// IPv6 paths, which need a stack of their own): slot [`TAIL_CONTAINER6`]
/// holds `container_ingress6`, slot [`TAIL_UPLINK6`] `uplink_ingress6`.
pub const TAIL_CALLS_MAP: &str = "TAIL_CALLS";
pub const TAIL_CALLS_CAPACITY: u32 = 4;
pub const TAIL_CONTAINER6: u32 = 0;
pub const TAIL_UPLINK6: u32 = 1;
/// The program in slot [`TAIL_UPLINK6`].
pub const UPLINK_INGRESS6_PROGRAM: &str = "uplink_ingress6";
/// The program in slot [`TAIL_CONTAINER6`].
pub const CONTAINER_INGRESS6_PROGRAM: &str = "container_ingress6";
/// Hash uplink ifindex (`u32`) -> [`crate::flows6::UplinkInfo6`].
pub const UPLINKS6_MAP: &str = "UPLINKS6";
/// Hash [`crate::published6::PublishedKey6`] ->
/// [`crate::published6::PublishedValue6`]: `PUBLISHED` for IPv6 host
/// addresses (`::` for every one). Not preallocated.
pub const PUBLISHED6_MAP: &str = "PUBLISHED6";
/// Per-CPU hash [`crate::published6::PublishedKey6`] ->
/// [`crate::maps::PublishedStats`]: `PUBLISHED_STATS` for IPv6 mappings.
pub const PUBLISHED_STATS6_MAP: &str = "PUBLISHED_STATS6";
/// Hash host IPv6 address (`[u8; 16]`) -> [`crate::maps::HostAddr`].
pub const HOST_ADDRS6_MAP: &str = "HOST_ADDRS6";
/// LRU hash [`crate::published6::SockReverseKey6`] ->
/// [`crate::published6::SockReverseValue6`].
pub const SOCK_REVERSE6_MAP: &str = "SOCK_REVERSE6";
/// Hash [`crate::maps::MasqUsageKey`] -> `u32`: masqueraded flows a
/// container holds towards one destination (the per-destination quota).
pub const MASQ_USAGE_MAP: &str = "MASQ_USAGE";
pub const MASQ_USAGE_CAPACITY: u32 = 65_536;
/// Array of one [`crate::maps::Config`].
pub const CONFIG_MAP: &str = "CONFIG";
/// LRU hash [`crate::maps::SockReverseKey`] -> [`crate::maps::SockReverseValue`].
pub const SOCK_REVERSE_MAP: &str = "SOCK_REVERSE";
pub const SOCK_REVERSE_CAPACITY: u32 = 65_536;
/// LRU hash [`crate::fragments::FragKey`] -> [`crate::fragments::FragValue`]:
/// the ports of fragmented datagrams being translated.
pub const FRAGMENTS_MAP: &str = "FRAGMENTS";
pub const FRAGMENTS_CAPACITY: u32 = 8192;
/// LRU hash [`crate::fragments::FragKey6`] -> [`crate::fragments::FragValue`]:
/// `FRAGMENTS` for IPv6 datagrams (NAT66), as large.
pub const FRAGMENTS6_MAP: &str = "FRAGMENTS6";
/// Hash [`crate::overlay::OverlayPeerKey`] -> [`crate::overlay::OverlayPeer`]:
/// containers of overlay networks on other hosts, filled from the cluster
/// store.
pub const OVERLAY_PEERS_MAP: &str = "OVERLAY_PEERS";
pub const OVERLAY_PEERS_CAPACITY: u32 = 16384;
/// Hash [`crate::overlay::OverlayPeerKey6`] -> [`crate::overlay::OverlayPeer`]:
/// the IPv6 addresses of those containers (dual-stack overlay networks),
/// as large.
pub const OVERLAY_PEERS6_MAP: &str = "OVERLAY_PEERS6";
/// Hash local `network_id` (`u32`) -> [`crate::overlay::OverlayNetwork`].
pub const OVERLAY_NETWORKS_MAP: &str = "OVERLAY_NETWORKS";
/// Hash VNI (`u32`, host byte order) -> local `network_id` (`u32`).
pub const OVERLAY_VNIS_MAP: &str = "OVERLAY_VNIS";
/// Array of one `u32`: the next-hop generation, 1 to 255 (0: next hops are
/// not cached). The daemon moves it on whenever a route, a neighbour's
/// link-layer address or an uplink changes; NAT entries that cached a next
/// hop under another generation resolve it again (see `NatEntry::nh_gen`).
pub const NEXTHOP_GEN_MAP: &str = "NEXTHOP_GEN";
