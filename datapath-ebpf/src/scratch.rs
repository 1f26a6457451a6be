//! Per-CPU room for the two entries of a flow being set up: on the stack
//! they would not fit beside everything else in a program's 512 bytes.
//! Programs do not preempt each other on one CPU, so one slot per CPU is
//! enough.

use aya_ebpf::{btf_maps::PerCpuArray, macros::btf_map};
use ebpfnet_common::maps::NatEntry;

/// Both directions of a new flow.
#[repr(C)]
pub struct NewFlow {
    pub request: NatEntry,
    pub reply: NatEntry,
}

#[btf_map]
static NEW_FLOW: PerCpuArray<NewFlow, 1> = PerCpuArray::new();

/// This CPU's slot; `None` only if the map is missing.
#[inline(always)]
pub fn new_flow() -> Option<&'static mut NewFlow> {
    // SAFETY: a per-CPU value touched by one program run at a time, and
    // only between this call and the end of that run.
    NEW_FLOW.get_ptr_mut(0).map(|slot| unsafe { &mut *slot })
}

/// Room for the "fragmentation needed" error `mtu` builds: the headers put
/// in front of the quote, and what it copies from the packet.
#[repr(C)]
pub struct ErrorBuf {
    /// Ethernet (14) + IPv4 (20) + ICMP (8).
    pub head: [u8; 42],
    /// The packet's MACs, as received.
    pub macs: [u8; 12],
    /// The first 20 bytes after the packet's IP header.
    pub quoted_l4: [u8; 20],
    /// The packet's IP header (without options), as received.
    pub quoted_ip: [u8; 20],
}

#[btf_map]
static ERROR_BUF: PerCpuArray<ErrorBuf, 1> = PerCpuArray::new();

/// This CPU's error buffer; `None` only if the map is missing.
#[inline(always)]
pub fn error_buf() -> Option<&'static mut ErrorBuf> {
    // SAFETY: as for `new_flow`.
    ERROR_BUF.get_ptr_mut(0).map(|slot| unsafe { &mut *slot })
}
