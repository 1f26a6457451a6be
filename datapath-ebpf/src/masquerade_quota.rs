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

/// [`take`] on a usage table (`MASQ_USAGE`, `MASQ_USAGE6`). The count is
/// raised atomically and only from below the quota, so CPUs racing for the
/// last port cannot both take it. Looked up first: a
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

/// How many times a compare-and-swap on a counter is tried before the
/// flow is refused: each failed try means another CPU changed the count in
/// between, so with a few CPUs more than one or two are never seen.
const CAS_TRIES: usize = 4;

/// Counts one more flow on `count` unless that goes past `quota`. With a
/// quota the count is only ever raised by a compare-and-swap from below
/// it, never raised and lowered again: the controller's recount reads the
/// counters while packets run, and a refused packet's passing `quota + 1`
/// read there let one flow too many in after the recount wrote it back.
#[inline(always)]
fn add(count: *mut u32, quota: u16) -> bool {
    if quota == 0 {
        // SAFETY: a live map value, 4-aligned, only ever changed
        // atomically here or replaced whole by the controller.
        unsafe { atomic::fetch_add(count, 1) };
        return true;
    }
    let quota = u32::from(quota);
    // SAFETY: as above; a plain read of an aligned u32 is not torn.
    let mut seen = unsafe { core::ptr::read_volatile(count) };
    for _ in 0..CAS_TRIES {
        if seen >= quota {
            return false;
        }
        // SAFETY: as above.
        match unsafe { atomic::compare_exchange(count, seen, seen + 1) } {
            Ok(_) => return true,
            Err(now) => seen = now,
        }
    }
    false
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
