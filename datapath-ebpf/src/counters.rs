//! Per-program and per-interface packet counters (per-CPU, so no atomics).
//! Interfaces count in `IFACE_SLOTS`, a per-CPU array slotted by ifindex,
//! or in the `IFACE_STATS` hash when another interface holds their slot.

use aya_ebpf::{
    bindings::BPF_NOEXIST,
    btf_maps::{PerCpuArray, PerCpuHashMap},
    macros::btf_map,
    programs::TcContext,
};
use ebpfnet_common::{
    DropReason, IfaceCounters, IfaceSlot, ProgramId, TrafficCounter,
    names::{DROPS_CAPACITY, IFACE_SLOTS_CAPACITY, IFACE_STATS_CAPACITY},
};

#[btf_map]
static PROG_STATS: PerCpuArray<TrafficCounter, { ProgramId::COUNT as usize }> = PerCpuArray::new();

#[btf_map]
static IFACE_STATS: PerCpuHashMap<u32, IfaceCounters, { IFACE_STATS_CAPACITY as usize }> =
    PerCpuHashMap::new();

#[btf_map]
static IFACE_SLOTS: PerCpuArray<IfaceSlot, { IFACE_SLOTS_CAPACITY as usize }> = PerCpuArray::new();

/// Counts one run of `program` over `bytes` of packet.
#[inline(always)]
pub fn count_program(program: ProgramId, bytes: u64) {
    if let Some(slot) = PROG_STATS.get_ptr_mut(program as u32) {
        // SAFETY: a per-CPU slot is only touched by this CPU, and programs do
        // not preempt each other on one CPU.
        unsafe { bump(&mut *slot, bytes) };
    }
}

/// Counts a packet for its program and its interface.
#[inline(always)]
pub fn count(ctx: &TcContext, program: ProgramId) {
    let bytes = u64::from(ctx.len());
    count_program(program, bytes);

    // SAFETY: `skb` points at the live `__sk_buff` of this invocation.
    let ifindex = unsafe { (*ctx.skb.skb).ifindex };
    // This CPU's slot for the interface: an array lookup, which the
    // verifier inlines, where a hash lookup is a call and a hash. The
    // interface's first packet on this CPU claims a free slot; one whose
    // slot another interface holds counts in the hash.
    if let Some(slot) = IFACE_SLOTS.get_ptr_mut(ifindex & (IFACE_SLOTS_CAPACITY - 1)) {
        // SAFETY: per-CPU value, as above.
        let slot = unsafe { &mut *slot };
        if slot.ifindex == ifindex {
            bump(&mut slot.ingress, bytes);
            return;
        }
        if slot.ifindex == 0 {
            slot.ifindex = ifindex;
            slot.ingress = TrafficCounter { packets: 1, bytes };
            return;
        }
    }
    match IFACE_STATS.get_ptr_mut(ifindex) {
        // SAFETY: per-CPU value, as above.
        Some(entry) => unsafe { bump(&mut (*entry).ingress, bytes) },
        None => {
            let first = IfaceCounters {
                ingress: TrafficCounter { packets: 1, bytes },
            };
            // A full map only loses this interface's statistics, never a packet.
            let _ = IFACE_STATS.insert(ifindex, first, u64::from(BPF_NOEXIST));
        }
    }
}

#[inline(always)]
fn bump(counter: &mut TrafficCounter, bytes: u64) {
    counter.packets = counter.packets.wrapping_add(1);
    counter.bytes = counter.bytes.wrapping_add(bytes);
}

#[btf_map]
static DROPS: PerCpuArray<u64, { DROPS_CAPACITY as usize }> = PerCpuArray::new();

/// Counts a drop and returns the TC verdict for it.
#[inline(always)]
pub fn drop_packet(reason: DropReason) -> i32 {
    if let Some(slot) = DROPS.get_ptr_mut(reason as u32) {
        // SAFETY: per-CPU slot, as above.
        unsafe { *slot = (*slot).wrapping_add(1) };
    }
    aya_ebpf::bindings::TC_ACT_SHOT
}
