//! ebpfnet's eBPF programs. Entries stay thin; the work lives in modules:
//! `parse` and `csum` for headers, `conntrack` and `nat` for translation,
//! `isolation` for what containers may send, `icmp` for errors about
//! translated flows, `frag` for fragments, `mtu` for the egress MTU, `maps` for the controller's
//! tables, `counters` for statistics and drop reasons, `overlay` for
//! VXLAN between hosts.
#![no_std]
#![no_main]
// Atomic fetch-and-add on map values (see `atomic`).
#![allow(internal_features)]
#![feature(core_intrinsics)]

mod atomic;
mod conntrack;
mod conntrack6;
mod container;
mod counters;
mod csum;
mod errors6;
mod frag;
mod frag6;
mod guard;
mod hook;
mod hoplimit6;
mod icmp;
mod icmp6;
mod icmp_reply;
mod ip_header;
mod ip_ident;
mod ipv6;
mod isolation;
mod lan;
mod lan6;
mod maps;
mod masquerade;
mod masquerade6;
mod masquerade_quota;
mod mtu;
mod mtu6;
mod nat;
mod nat46;
mod nat46_icmp;
mod nat46_icmp_parts;
mod nat46_xlate;
mod nat6;
mod nat_packet;
mod nexthop;
mod overlay;
mod overlay6;
mod parse;
mod parse6;
mod publish6;
mod routed6;
mod scratch;
mod sock;
mod sock6;
mod sock6_publish;
mod tail;
mod track;
mod uplink;

use aya_ebpf::{
    bindings::TC_ACT_UNSPEC,
    macros::{cgroup_sock_addr, classifier},
    programs::{SockAddrContext, TcContext},
};
use ebpfnet_common::ProgramId;

/// TCX verdict that hands the packet on unchanged (to the next program or the
/// stack): `TCX_NEXT`, which the kernel spells `TC_ACT_UNSPEC`.
const TCX_NEXT: i32 = TC_ACT_UNSPEC;

/// TC ingress on an uplink: published ports in, replies of masqueraded
/// flows in, unsolicited traffic to containers out.
#[classifier]
pub fn uplink_ingress(ctx: TcContext) -> i32 {
    counters::count(&ctx, ProgramId::UplinkIngress);
    uplink::handle(&ctx)
}

/// TC ingress on a container's host-side veth: anti-spoofing, isolation,
/// replies of published flows, masquerade of new outbound flows.
#[classifier]
pub fn container_ingress(ctx: TcContext) -> i32 {
    counters::count(&ctx, ProgramId::ContainerIngress);
    container::handle(&ctx)
}

/// Tail-called by `container_ingress` (slot `TAIL_CONTAINER6` of
/// `TAIL_CALLS`, never attached) for IPv6 a container sends beyond its
/// networks, already checked there: NAT66 masquerade.
#[classifier]
pub fn container_ingress6(ctx: TcContext) -> i32 {
    masquerade6::from_container(&ctx)
}

/// Tail-called by `uplink_ingress` (slot `TAIL_UPLINK6`) for IPv6 that
/// passed its checks: replies of NAT66 flows and ICMPv6 errors about them
/// into the containers, unsolicited IPv6 to containers dropped.
#[classifier]
pub fn uplink_ingress6(ctx: TcContext) -> i32 {
    ipv6::from_uplink_translated(&ctx)
}

/// Tail-called by `uplink_ingress` (slot `TAIL_UPLINK46`) for IPv4 to a
/// port published into an IPv6-only container: translated to IPv6
/// (`nat46`), the client's address embedded in `64:ff9b:1::/96`.
#[classifier]
pub fn uplink_ingress46(ctx: TcContext) -> i32 {
    nat46::from_uplink(&ctx)
}

/// TC egress on the parent of a macvlan network: its containers' frames
/// to the LAN carry their own MAC and address.
#[classifier]
pub fn lan_parent_egress(ctx: TcContext) -> i32 {
    counters::count_program(ProgramId::LanParentEgress, u64::from(ctx.len()));
    lan::handle(&ctx)
}

/// TC egress on a container's host-side veth: refuses what the host
/// forwarded to the container from an interface that is not a container's.
#[classifier]
pub fn container_egress(ctx: TcContext) -> i32 {
    counters::count_program(ProgramId::ContainerEgress, u64::from(ctx.len()));
    guard::handle(&ctx)
}

/// TC ingress on the host's VXLAN device: decapsulated packets of overlay
/// networks, only to a local container of the network their VNI names.
#[classifier]
pub fn overlay_ingress(ctx: TcContext) -> i32 {
    counters::count(&ctx, ProgramId::OverlayIngress);
    overlay::handle(&ctx)
}

/// cgroup `connect4`: host sockets to a published address go straight to
/// the container.
#[cgroup_sock_addr(connect4)]
pub fn sock_connect4(ctx: SockAddrContext) -> i32 {
    counters::count_program(ProgramId::SockConnect, 0);
    sock::redirect_to_container(&ctx)
}

/// cgroup `sendmsg4`: the same for unconnected UDP sends.
#[cgroup_sock_addr(sendmsg4)]
pub fn sock_sendmsg4(ctx: SockAddrContext) -> i32 {
    counters::count_program(ProgramId::SockSendmsg, 0);
    sock::redirect_to_container(&ctx)
}

/// cgroup `recvmsg4`: replies appear to come from the published address.
#[cgroup_sock_addr(recvmsg4)]
pub fn sock_recvmsg4(ctx: SockAddrContext) -> i32 {
    counters::count_program(ProgramId::SockRecvmsg, 0);
    sock::restore_source(&ctx)
}

/// cgroup `connect6`: host IPv6 sockets to a published `::1`, host IPv6
/// or v4-mapped address go straight to the container's address.
#[cgroup_sock_addr(connect6)]
pub fn sock_connect6(ctx: SockAddrContext) -> i32 {
    counters::count_program(ProgramId::SockConnect6, 0);
    sock6::connect(&ctx)
}

/// cgroup `sendmsg6`: unconnected UDP to an IPv6 mapping goes to the
/// container's IPv6 address; to `::1` on a port published on IPv4 only,
/// which cannot be redirected, is refused.
#[cgroup_sock_addr(sendmsg6)]
pub fn sock_sendmsg6(ctx: SockAddrContext) -> i32 {
    counters::count_program(ProgramId::SockSendmsg6, 0);
    sock6::sendmsg(&ctx)
}

/// cgroup `recvmsg6`: replies appear to come from the address asked for.
#[cgroup_sock_addr(recvmsg6)]
pub fn sock_recvmsg6(ctx: SockAddrContext) -> i32 {
    counters::count_program(ProgramId::SockRecvmsg6, 0);
    sock6::recvmsg(&ctx)
}

#[cfg(not(test))]
#[panic_handler]
fn panic(_info: &core::panic::PanicInfo) -> ! {
    loop {}
}

#[unsafe(link_section = "license")]
#[unsafe(no_mangle)]
static LICENSE: [u8; 4] = *b"GPL\0";
