//! How many masquerade ports each container holds towards each
//! destination, so one container cannot take every port to a busy
//! destination (a DNS resolver, say) from all the others. Only live flows
//! count: the programs count up as flows start and down as a TCP flow ends
//! (its port may then be taken over by any SYN); the controller recounts
//! from the NAT tables as it collects idle flows.

use aya_ebpf::{bindings::BPF_NOEXIST, btf_maps::HashMap, macros::btf_map};
use ebpfnet_common::{flow::MasqUsageKeyOf, maps::MasqUsageKey};

use crate::{
    atomic,
    conntrack::{Family, UsageTable},
    parse::Packet,
};

/// The IPv4 counters (`conntrack6` has the IPv6 ones).
#[btf_map]
pub static MASQ_USAGE: UsageTable<[u8; 4]> = HashMap::new();

/// The counter `packet`'s new masqueraded flow counts on (echo flows: to
/// the address).
#[inline(always)]
pub fn key(packet: &Packet) -> MasqUsageKey {
    MasqUsageKey::new(
        packet.src_ip,
        packet.dst_ip,
        packet.dst_port,
        packet.protocol,
    )
}

/// Takes one of the container's ports to that destination, or reports
/// that it holds its whole share; `quota` 0 means no limit. A taken port is
/// given back with [`release`] when the flow ends or cannot start.
#[inline(always)]
pub fn take<A: Family>(key: &MasqUsageKeyOf<A>, quota: u16) -> bool {
    take_in(A::usage(), key, quota)
}

/// [`take`] on a usage table (`MASQ_USAGE`, `MASQ_USAGE6`). The add is atomic and its result decides, so CPUs
/// racing for the last port cannot both take it. Looked up first: a
/// destination already counted (the busy one the quota is for) costs no
/// insert, which would take the bucket lock only to fail.
#[inline(always)]
fn take_in<K, const N: usize>(usage: &HashMap<K, u32, N>, key: &K, quota: u16) -> bool {
    if let Some(count) = usage.get_ptr_mut(key) {
        return add(count, quota);
    }
    if usage.insert(key, 1, u64::from(BPF_NOEXIST)).is_ok() {
        return true;
    }
    // Another CPU counted it first (or the table is full).
    let Some(count) = usage.get_ptr_mut(key) else {
        // The table is full: the quota does not bind until the controller
        // recounts; the flow is never refused for it.
        return true;
    };
    add(count, quota)
}

/// Counts one more flow on `count` unless that goes past `quota`.
#[inline(always)]
fn add(count: *mut u32, quota: u16) -> bool {
    // SAFETY: a live map value, 4-aligned, only ever added to atomically
    // here or replaced whole by the controller.
    let before = unsafe { atomic::fetch_add(count, 1) };
    if quota != 0 && before >= u32::from(quota) {
        // SAFETY: as above.
        unsafe { atomic::fetch_add(count, u32::MAX) };
        return false;
    }
    true
}

/// Gives a port back: its flow ended (closed both ways or reset) or could
/// not start.
#[inline(always)]
pub fn release<A: Family>(key: &MasqUsageKeyOf<A>) {
    release_in(A::usage(), key)
}

#[inline(always)]
fn release_in<K, const N: usize>(usage: &HashMap<K, u32, N>, key: &K) {
    let Some(count) = usage.get_ptr_mut(key) else {
        return;
    };
    // SAFETY: as in `take`.
    let before = unsafe { atomic::fetch_add(count, u32::MAX) };
    if before == 0 {
        // The controller's recount had set it lower than the flows the
        // programs knew of: undo, so it never wraps below 0. Another CPU may
        // see the wrapped value for those few instructions and refuse one
        // flow, which then retries.
        // SAFETY: as in `take`.
        unsafe { atomic::fetch_add(count, 1) };
    }
}
