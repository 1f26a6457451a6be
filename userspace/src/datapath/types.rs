//! What the datapath reports: attachments, fill levels, counters, NAT entries.
//! Internal types: the controller turns them into the API's views.

use ebpfnet_common::{
    flow::{FlowKeyOf, NatEntryOf},
    maps::{PublishedKey, PublishedStats},
    published6::PublishedKey6,
};

/// A program attached to an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attachment {
    pub program: &'static str,
    pub interface: String,
    pub ifindex: u32,
}

#[derive(Debug, Clone)]
pub struct MapFill {
    pub name: &'static str,
    pub entries: u32,
    pub max_entries: u32,
}

#[derive(Debug, Clone)]
pub struct ProgramCounters {
    pub program: &'static str,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct InterfaceCounters {
    pub ifindex: u32,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone)]
pub struct DatapathStatus {
    /// `tcx` or `netlink`.
    pub tc_attach: &'static str,
    pub programs: Vec<Attachment>,
    pub maps: Vec<MapFill>,
    pub counters: Vec<ProgramCounters>,
    pub interfaces: Vec<InterfaceCounters>,
}

/// One entry of a NAT table: one direction of a flow, of either family.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatRecordOf<A> {
    pub key: FlowKeyOf<A>,
    pub entry: NatEntryOf<A>,
}

/// One entry of `NAT_TCP` or `NAT_OTHER`.
pub type NatRecord = NatRecordOf<[u8; 4]>;

/// One entry of `NAT6_TCP` or `NAT6_OTHER`.
pub type NatRecord6 = NatRecordOf<[u8; 16]>;

/// How many packets a program dropped for one reason.
#[derive(Debug, Clone)]
pub struct DropCount {
    pub reason: &'static str,
    pub count: u64,
}

/// Counters of the datapath, each summed over the CPUs.
#[derive(Debug, Clone, Default)]
pub struct DatapathStats {
    pub programs: Vec<ProgramCounters>,
    /// `PUBLISHED_STATS`: per published mapping.
    pub published: Vec<(PublishedKey, PublishedStats)>,
    /// `PUBLISHED_STATS6`: per IPv6 mapping.
    pub published6: Vec<(PublishedKey6, PublishedStats)>,
    /// `DROPS`: every reason, in [`ebpfnet_common::DropReason::ALL`] order.
    pub drops: Vec<DropCount>,
}
