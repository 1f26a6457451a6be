//! Host IPv6 sockets to IPv6 published ports: a `connect` or `sendmsg` to
//! `[::1]:P` (a mapping on `::1`, or on `::`, which answers on loopback as
//! Docker's does) or to `[HOST_IP6]:P` is sent to the container's own IPv6
//! address and port — no proxy, no NAT — and `recvmsg` shows the replies
//! as from the address asked for (`SOCK_REVERSE6`).

use aya_ebpf::{
    btf_maps::LruHashMap, helpers::bpf_get_socket_cookie, macros::btf_map,
    programs::SockAddrContext,
};
use ebpfnet_common::{
    names::SOCK_REVERSE_CAPACITY,
    published6::{PublishedValue6, SockReverseKey6, SockReverseValue6},
};

use crate::publish6;

#[btf_map]
static SOCK_REVERSE6: LruHashMap<
    SockReverseKey6,
    SockReverseValue6,
    { SOCK_REVERSE_CAPACITY as usize },
> = LruHashMap::new();

/// ::1.
const LOOPBACK: [u8; 16] = [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

/// The IPv6 mapping a host socket asking for `[ip]:port` reaches.
#[inline(always)]
pub fn target_for(ip: &[u8; 16], port: u16, protocol: u8) -> Option<&'static PublishedValue6> {
    if *ip == LOOPBACK {
        publish6::exact(ip, port, protocol).or_else(|| publish6::exact(&[0; 16], port, protocol))
    } else {
        publish6::lookup(ip, port, protocol).map(|(value, _)| value)
    }
}

fn key(ctx: &SockAddrContext, container_ip: [u8; 16], port: u16, protocol: u8) -> SockReverseKey6 {
    SockReverseKey6 {
        // SAFETY: the helper takes this program's own context.
        cookie: unsafe { bpf_get_socket_cookie(ctx.sock_addr.cast()) },
        container_ip,
        container_port: port,
        protocol,
        _pad: 0,
        _pad2: 0,
    }
}

/// Records that this socket was sent to `target` in place of
/// `[asked]:port`, for `recvmsg6`.
#[inline(always)]
pub fn remember(
    ctx: &SockAddrContext,
    target: &PublishedValue6,
    protocol: u8,
    asked: &[u8; 16],
    port: u16,
) {
    let key = key(ctx, target.container_ip, target.container_port, protocol);
    let value = SockReverseValue6 {
        host_ip: *asked,
        host_port: port,
        _pad: 0,
    };
    // A full LRU map evicts an old entry; nothing the socket could act on.
    let _ = SOCK_REVERSE6.insert(key, value, 0);
}

/// What this socket asked for when it was sent to `[container_ip]:port`.
#[inline(always)]
pub fn asked_for(
    ctx: &SockAddrContext,
    container_ip: [u8; 16],
    port: u16,
    protocol: u8,
) -> Option<SockReverseValue6> {
    let key = key(ctx, container_ip, port, protocol);
    // SAFETY: copied out at once.
    unsafe { SOCK_REVERSE6.get(key) }.copied()
}
