//! What userspace needs to tell the address families' NAT tables apart:
//! their map names, how their addresses and protocols read. Everything
//! else about them (`nat`, `flow_view`, the collector, publishing) is
//! written once, over [`Family`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ebpfnet_common::{
    flow::{FlowAddr, FlowKeyOf},
    names,
    published::PublishedKeyOf,
};

use super::{NatRecordOf, encoding::protocol_name};

/// An address family's NAT tables, as maps and as people read them.
pub trait Family: FlowAddr + aya::Pod + Send + Sync + 'static {
    /// The NAT tables: TCP's, then every other protocol's.
    const TABLES: [&'static str; 2];
    /// The masquerade counters (`MASQ_USAGE`, `MASQ_USAGE6`).
    const USAGE: &'static str;
    /// The published ports and their counters (`PUBLISHED`,
    /// `PUBLISHED_STATS`; `PUBLISHED6`, `PUBLISHED_STATS6`).
    const PUBLISHED: [&'static str; 2];
    /// The name of its ICMP (`icmp`, `icmpv6`).
    const ICMP_NAME: &'static str;

    fn ip(self) -> IpAddr;

    /// Flows through `mappings` that `nat::flows_of_mappings` cannot see by
    /// their address: for IPv6, IPv4 clients' flows into IPv6-only
    /// containers through a mapping on every address (nat46.rs).
    fn translated_flows(
        _records: &[NatRecordOf<Self>],
        _mappings: &[PublishedKeyOf<Self>],
    ) -> Vec<FlowKeyOf<Self>> {
        Vec::new()
    }

    /// The table of `protocol`'s flows.
    fn table(protocol: u8) -> &'static str {
        let [tcp, other] = Self::TABLES;
        if protocol == ebpfnet_common::maps::proto::TCP {
            tcp
        } else {
            other
        }
    }

    /// `tcp`, `udp`, `icmp` / `icmpv6`, `proto-N`.
    fn protocol_name(protocol: u8) -> String {
        if protocol == Self::ICMP {
            Self::ICMP_NAME.into()
        } else {
            protocol_name(protocol)
        }
    }
}

impl Family for [u8; 4] {
    const TABLES: [&'static str; 2] = [names::NAT_TCP_MAP, names::NAT_OTHER_MAP];
    const USAGE: &'static str = names::MASQ_USAGE_MAP;
    const PUBLISHED: [&'static str; 2] = [names::PUBLISHED_MAP, names::PUBLISHED_STATS_MAP];
    const ICMP_NAME: &'static str = "icmp";

    fn ip(self) -> IpAddr {
        Ipv4Addr::from(self).into()
    }
}

impl Family for [u8; 16] {
    const TABLES: [&'static str; 2] = [names::NAT6_TCP_MAP, names::NAT6_OTHER_MAP];
    const USAGE: &'static str = names::MASQ_USAGE6_MAP;
    const PUBLISHED: [&'static str; 2] = [names::PUBLISHED6_MAP, names::PUBLISHED_STATS6_MAP];
    const ICMP_NAME: &'static str = "icmpv6";

    fn translated_flows(
        records: &[NatRecordOf<Self>],
        mappings: &[PublishedKeyOf<Self>],
    ) -> Vec<FlowKeyOf<Self>> {
        super::nat46::flows_of_every_address(records, mappings)
    }

    fn ip(self) -> IpAddr {
        Ipv6Addr::from(self).into()
    }
}
