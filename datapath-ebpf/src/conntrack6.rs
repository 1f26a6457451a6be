//! Connection tracking for NAT66: `NAT6_TCP`, `NAT6_OTHER` and
//! `MASQ_USAGE6`, the IPv6 family's tables, run by `conntrack`'s logic
//! (one entry per direction written together, new tuples claimed with
//! `BPF_NOEXIST`, plain hashes that refuse new flows when full, TCP state
//! from the segments seen, resets checked against the window). Entries
//! are used in place (a 96-byte copy would not fit the stack).

use aya_ebpf::{btf_maps::HashMap, macros::btf_map};
use ebpfnet_common::{flows6::NatEntry6, maps::NatKind};

use crate::{
    conntrack::{Family, NatTable, UsageTable},
    hook::Hook,
    nat6,
    parse6::Packet6,
};

#[btf_map]
static NAT6_TCP: NatTable<[u8; 16]> = HashMap::new();

#[btf_map]
static NAT6_OTHER: NatTable<[u8; 16]> = HashMap::new();

#[btf_map]
static MASQ_USAGE6: UsageTable<[u8; 16]> = HashMap::new();

impl Family for [u8; 16] {
    #[inline(always)]
    fn tables() -> (&'static NatTable<Self>, &'static NatTable<Self>) {
        (&NAT6_TCP, &NAT6_OTHER)
    }

    #[inline(always)]
    fn usage() -> &'static UsageTable<Self> {
        &MASQ_USAGE6
    }

    #[inline(always)]
    fn applies(hook: Hook, entry: &NatEntry6) -> bool {
        nat6::applies(hook, entry)
    }

    #[inline(always)]
    fn is_reply(kind: u8) -> bool {
        kind == NatKind::PublishedReply as u8
            || kind == NatKind::MasqueradeReply as u8
            || kind == NatKind::RoutedReply as u8
            || kind == NatKind::Nat46Reply as u8
    }
}

crate::track::define_track!(
    /// A subprogram of its own: its keys would add to every caller's stack.
    #[inline(never)]
    Packet6,
    NatEntry6
);
