//! cgroup socket hooks for host processes: `connect`/`sendmsg` to a
//! published address go straight to the container, with no NAT and no
//! `route_localnet`; `recvmsg` shows replies as from the published address.

use aya_ebpf::{
    btf_maps::LruHashMap,
    helpers::{bpf_get_netns_cookie, bpf_get_socket_cookie},
    macros::btf_map,
    programs::SockAddrContext,
};
use ebpfnet_common::{
    maps::{SockReverseKey, SockReverseValue, proto},
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

#[inline(always)]
fn protocol(ctx: &SockAddrContext) -> Option<u8> {
    // SAFETY: `sock_addr` points at this call's live context.
    match unsafe { (*ctx.sock_addr).protocol } as u8 {
        p @ (proto::TCP | proto::UDP) => Some(p),
        _ => None,
    }
}

/// Rewrites the destination of a host socket aimed at a published address.
#[inline(always)]
pub fn redirect_to_container(ctx: &SockAddrContext) -> i32 {
    let Some(protocol) = protocol(ctx) else {
        return ALLOW;
    };
    // Only the host's own sockets: inside a container, 127.0.0.1 is its own
    // loopback, and host addresses are handled by the TC hairpin path.
    let cookie = unsafe { bpf_get_netns_cookie(ctx.sock_addr.cast()) };
    if cookie != maps::config().host_netns_cookie {
        return ALLOW;
    }
    // SAFETY: as above; `user_ip4`/`user_port` are in network order.
    let (ip, port) = unsafe {
        let sa = &*ctx.sock_addr;
        (sa.user_ip4.to_ne_bytes(), u16::from_be(sa.user_port as u16))
    };
    let found = if ip[0] == 127 {
        // Docker's 0.0.0.0 mappings answer on 127.0.0.1 too.
        maps::published_exact(ip, port, protocol)
            .or_else(|| maps::published_exact([0; 4], port, protocol))
    } else {
        maps::published(ip, port, protocol).map(|(value, _)| value)
    };
    let Some(target) = found else {
        return ALLOW;
    };
    let key = SockReverseKey {
        cookie: unsafe { bpf_get_socket_cookie(ctx.sock_addr.cast()) },
        container_ip: target.container_ip,
        container_port: target.container_port,
        protocol,
        _pad: 0,
    };
    let original = SockReverseValue {
        host_ip: ip,
        host_port: port,
        _pad: 0,
    };
    let _ = SOCK_REVERSE.insert(key, original, 0);
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
    let (ip, port) = unsafe {
        let sa = &*ctx.sock_addr;
        (sa.user_ip4.to_ne_bytes(), u16::from_be(sa.user_port as u16))
    };
    let key = SockReverseKey {
        cookie: unsafe { bpf_get_socket_cookie(ctx.sock_addr.cast()) },
        container_ip: ip,
        container_port: port,
        protocol,
        _pad: 0,
    };
    // SAFETY: copied out at once.
    if let Some(original) = unsafe { SOCK_REVERSE.get(key) }.copied() {
        unsafe {
            (*ctx.sock_addr).user_ip4 = u32::from_ne_bytes(original.host_ip);
            (*ctx.sock_addr).user_port = u32::from(original.host_port.to_be());
        }
    }
    ALLOW
}
