//! cgroup socket hooks for host processes: `connect`/`sendmsg` to a
//! published address go straight to the container, with no NAT and no
//! `route_localnet`; `recvmsg` shows replies as from the published address.
//! This module holds the IPv4 hooks and what the IPv6 ones (`sock6`) share.

use aya_ebpf::{
    btf_maps::LruHashMap,
    helpers::{bpf_get_netns_cookie, bpf_get_socket_cookie},
    macros::btf_map,
    programs::SockAddrContext,
};
use ebpfnet_common::{
    maps::{PublishedValue, SockReverseKey, SockReverseValue, proto},
    names::SOCK_REVERSE_CAPACITY,
};

use crate::maps;

#[btf_map]
static SOCK_REVERSE: LruHashMap<
    SockReverseKey,
    SockReverseValue,
    { SOCK_REVERSE_CAPACITY as usize },
> = LruHashMap::new();

/// A cgroup sock_addr verdict that lets the call go on.
pub const ALLOW: i32 = 1;
/// A cgroup sock_addr verdict that fails the call with `EPERM`.
pub const REFUSE: i32 = 0;

/// The socket's protocol, when it is one published ports serve.
#[inline(always)]
pub fn protocol(ctx: &SockAddrContext) -> Option<u8> {
    // SAFETY: `sock_addr` points at this call's live context.
    match unsafe { (*ctx.sock_addr).protocol } as u8 {
        p @ (proto::TCP | proto::UDP) => Some(p),
        _ => None,
    }
}

/// Whether the socket lives in the host's own network namespace: inside a
/// container, 127.0.0.1 is its own loopback, and host addresses are
/// handled by the TC hairpin path.
#[inline(always)]
pub fn is_host_socket(ctx: &SockAddrContext) -> bool {
    // SAFETY: the helper takes this program's own context.
    let cookie = unsafe { bpf_get_netns_cookie(ctx.sock_addr.cast()) };
    cookie == maps::config().host_netns_cookie
}

/// The mapping a host socket asking for the IPv4 address `ip:port` reaches.
#[inline(always)]
pub fn target_for(ip: [u8; 4], port: u16, protocol: u8) -> Option<PublishedValue> {
    if ip[0] == 127 {
        // Docker's 0.0.0.0 mappings answer on 127.0.0.1 too.
        maps::published_exact(ip, port, protocol)
            .or_else(|| maps::published_exact([0; 4], port, protocol))
    } else {
        maps::published(ip, port, protocol).map(|(value, _)| value)
    }
}

fn reverse_key(
    ctx: &SockAddrContext,
    container_ip: [u8; 4],
    port: u16,
    protocol: u8,
) -> SockReverseKey {
    SockReverseKey {
        // SAFETY: the helper takes this program's own context.
        cookie: unsafe { bpf_get_socket_cookie(ctx.sock_addr.cast()) },
        container_ip,
        container_port: port,
        protocol,
        _pad: 0,
    }
}

/// Records that this socket was sent to `target` in place of `asked`, so
/// `recvmsg` can show replies as from `asked`.
#[inline(always)]
pub fn remember(
    ctx: &SockAddrContext,
    target: &PublishedValue,
    protocol: u8,
    asked: SockReverseValue,
) {
    let key = reverse_key(ctx, target.container_ip, target.container_port, protocol);
    // A full LRU map evicts an old entry; an insert cannot otherwise fail
    // in a way the socket could act on.
    let _ = SOCK_REVERSE.insert(key, asked, 0);
}

/// What this socket asked for when it was sent to `container_ip:port`.
#[inline(always)]
pub fn asked_for(
    ctx: &SockAddrContext,
    container_ip: [u8; 4],
    port: u16,
    protocol: u8,
) -> Option<SockReverseValue> {
    let key = reverse_key(ctx, container_ip, port, protocol);
    // SAFETY: copied out at once.
    unsafe { SOCK_REVERSE.get(key) }.copied()
}

/// Rewrites the destination of a host socket aimed at a published address.
#[inline(always)]
pub fn redirect_to_container(ctx: &SockAddrContext) -> i32 {
    let Some(protocol) = protocol(ctx) else {
        return ALLOW;
    };
    if !is_host_socket(ctx) {
        return ALLOW;
    }
    // SAFETY: readable fields of the live context; `user_ip4`/`user_port`
    // are in network order.
    let (ip, port) = unsafe {
        let sa = &*ctx.sock_addr;
        (sa.user_ip4.to_ne_bytes(), u16::from_be(sa.user_port as u16))
    };
    let Some(target) = target_for(ip, port, protocol) else {
        return ALLOW;
    };
    let asked = SockReverseValue {
        host_ip: ip,
        host_port: port,
        flags: 0,
    };
    remember(ctx, &target, protocol, asked);
    // SAFETY: writable fields of the sock_addr context.
    unsafe {
        (*ctx.sock_addr).user_ip4 = u32::from_ne_bytes(target.container_ip);
        (*ctx.sock_addr).user_port = u32::from(target.container_port.to_be());
    }
    ALLOW
}

/// Shows a reply from the container as coming from the published address
/// the socket sent to, so UDP clients accept it.
#[inline(always)]
pub fn restore_source(ctx: &SockAddrContext) -> i32 {
    let Some(protocol) = protocol(ctx) else {
        return ALLOW;
    };
    // SAFETY: readable fields of the live context, network order.
    let (ip, port) = unsafe {
        let sa = &*ctx.sock_addr;
        (sa.user_ip4.to_ne_bytes(), u16::from_be(sa.user_port as u16))
    };
    if let Some(asked) = asked_for(ctx, ip, port, protocol) {
        // SAFETY: writable fields of the sock_addr context.
        unsafe {
            (*ctx.sock_addr).user_ip4 = u32::from_ne_bytes(asked.host_ip);
            (*ctx.sock_addr).user_port = u32::from(asked.host_port.to_be());
        }
    }
    ALLOW
}
