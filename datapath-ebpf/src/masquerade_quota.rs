//! How many masquerade ports each container holds towards each
//! destination, so one container cannot take every port to a busy
//! destination (a DNS resolver, say) from all the others. Only live flows
//! count: the programs count up as flows start and down as a TCP flow ends
//! (its port may then be taken over by any SYN); the controller recounts
//! from the NAT tables as it collects idle flows.

use aya_ebpf::{bindings::BPF_NOEXIST, btf_maps::HashMap, macros::btf_map};
use ebpfnet_common::{
    maps::{MasqUsageKey, proto},
    names::MASQ_USAGE_CAPACITY,
};

use crate::{atomic, parse::Packet};

#[btf_map]
static MASQ_USAGE: HashMap<MasqUsageKey, u32, { MASQ_USAGE_CAPACITY as usize }> = HashMap::new();

/// The counter `packet`'s new masqueraded flow counts on.
#[inline(always)]
pub fn key(packet: &Packet) -> MasqUsageKey {
    key_for(
        packet.src_ip,
        packet.dst_ip,
        packet.dst_port,
        packet.protocol,
    )
}

/// The counter of `container`'s flows to `dst_ip:dst_port`.
#[inline(always)]
pub fn key_for(container: [u8; 4], dst_ip: [u8; 4], dst_port: u16, protocol: u8) -> MasqUsageKey {
    MasqUsageKey {
        container_ip: container,
        dst_ip,
        // Echo identifiers are per flow; the destination is the address.
        dst_port: if protocol == proto::ICMP { 0 } else { dst_port },
        protocol,
        _pad: 0,
    }
}

/// Takes one of the container's ports to that destination, or reports
/// that it holds its whole share; `quota` 0 means no limit. A taken port is
/// given back with [`release`] when the flow ends or cannot start.
#[inline(always)]
pub fn take(key: &MasqUsageKey, quota: u16) -> bool {
    take_in(&MASQ_USAGE, key, quota)
}

/// [`take`] on a usage table of either family (`MASQ_USAGE`,
/// `MASQ_USAGE6`). The add is atomic and its result decides, so CPUs
/// racing for the last port cannot both take it. Looked up first: a
/// destination already counted (the busy one the quota is for) costs no
/// insert, which would take the bucket lock only to fail.
#[inline(always)]
pub fn take_in<K, const N: usize>(usage: &HashMap<K, u32, N>, key: &K, quota: u16) -> bool {
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
pub fn release(key: &MasqUsageKey) {
    release_in(&MASQ_USAGE, key)
}

/// [`release`] on a usage table of either family.
#[inline(always)]
pub fn release_in<K, const N: usize>(usage: &HashMap<K, u32, N>, key: &K) {
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
