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

use crate::parse::Packet;

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

/// Whether the container may start one more flow to that destination;
/// `quota` 0 means no limit.
#[inline(always)]
pub fn has_room(key: &MasqUsageKey, quota: u16) -> bool {
    if quota == 0 {
        return true;
    }
    // SAFETY: read once, as a copy.
    match MASQ_USAGE.get_ptr(key).map(|count| unsafe { *count }) {
        Some(count) => count < u32::from(quota),
        None => true,
    }
}

/// Counts a started flow. A full map loses the count (the quota then
/// does not bind until the controller recounts), never the flow.
#[inline(always)]
pub fn count(key: &MasqUsageKey) {
    if MASQ_USAGE.insert(key, 1, u64::from(BPF_NOEXIST)).is_ok() {
        return;
    }
    if let Some(count) = MASQ_USAGE.get_ptr_mut(key) {
        // SAFETY: the value lives as long as its entry. Two CPUs adding at
        // once may lose one count (the BPF target has no atomic add in
        // `core`); the controller's recount puts it right.
        unsafe { *count = (*count).wrapping_add(1) };
    }
}

/// A counted flow ended (a TCP flow closed both ways or reset): it no longer
/// holds its port. Concurrent updates may lose a count, as in [`count`].
#[inline(always)]
pub fn release(key: &MasqUsageKey) {
    if let Some(count) = MASQ_USAGE.get_ptr_mut(key) {
        // SAFETY: as in `count`.
        unsafe { *count = (*count).saturating_sub(1) };
    }
}
