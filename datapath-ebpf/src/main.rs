//! ebpfnet's eBPF programs. Entries stay thin; the work lives in modules.
#![no_std]
#![no_main]

mod counters;

use aya_ebpf::{bindings::TC_ACT_UNSPEC, macros::classifier, programs::TcContext};
use ebpfnet_common::ProgramId;

/// TCX verdict that hands the packet on unchanged (to the next program or the
/// stack): `TCX_NEXT`, which the kernel spells `TC_ACT_UNSPEC`.
const TCX_NEXT: i32 = TC_ACT_UNSPEC;

/// TC ingress on an uplink: traffic arriving from other hosts.
#[classifier]
pub fn uplink_ingress(ctx: TcContext) -> i32 {
    counters::count(&ctx, ProgramId::UplinkIngress);
    TCX_NEXT
}

/// TC ingress on a container's host-side veth: traffic leaving a container.
#[classifier]
pub fn container_ingress(ctx: TcContext) -> i32 {
    counters::count(&ctx, ProgramId::ContainerIngress);
    TCX_NEXT
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
