//! The IPv6 cgroup socket hooks: host processes with IPv6 sockets reach
//! published ports through `::1`, the host's IPv6 addresses and v4-mapped
//! addresses (`::ffff:127.0.0.1`, `::ffff:HOST_IP`).
//!
//! An IPv6 mapping (`[::]:P`, `[::1]:P`, `[HOST_IP6]:P`) sends the socket
//! to the container's own IPv6 address and port (`sock6_publish`), for
//! `connect` and unconnected `sendmsg` alike.
//!
//! Otherwise (an IPv4-only container), `::1` matches what `127.0.0.1`
//! matches, and a dual-stack socket is sent to the v4-mapped container
//! address (`::ffff:CONTAINER_IP`), which the kernel then connects over
//! IPv4 — no NAT. An `IPV6_V6ONLY` socket cannot use a v4-mapped address:
//! its `connect` fails with `ENETUNREACH`. Unconnected UDP is special there:
//! the kernel hands a datagram sent to a v4-mapped address to the IPv4
//! path (and the `sendmsg4` hook) itself, and refuses a `sendmsg6` rewrite
//! of a native IPv6 address into a v4-mapped one (`ENOTSUPP`). So a
//! datagram sent to `::1` on a port published on IPv4 only cannot reach
//! the container; it is refused with `EPERM` rather than lost. A UDP
//! socket that `connect`s to `::1` first works.

use aya_ebpf::programs::SockAddrContext;
use ebpfnet_common::maps::{SOCK_ASKED_V6_LOOPBACK, SockReverseValue};

use crate::{
    sock::{self, ALLOW, REFUSE},
    sock6_publish,
};

/// An IPv6 address as the four `user_ip6` words (each in network order).
type Words = [u32; 4];

const V4_MAPPED_PREFIX: u32 = u32::from_ne_bytes([0, 0, 0xff, 0xff]);
const LOOPBACK_LAST_WORD: u32 = u32::from_ne_bytes([0, 0, 0, 1]);
const LOOPBACK_V4: [u8; 4] = [127, 0, 0, 1];

/// The IPv4 address inside `::ffff:a.b.c.d`.
#[inline(always)]
fn v4_mapped(words: &Words) -> Option<[u8; 4]> {
    (words[0] == 0 && words[1] == 0 && words[2] == V4_MAPPED_PREFIX).then(|| words[3].to_ne_bytes())
}

#[inline(always)]
fn is_v6_loopback(words: &Words) -> bool {
    words[0] == 0 && words[1] == 0 && words[2] == 0 && words[3] == LOOPBACK_LAST_WORD
}

/// `user_ip6` and `user_port` (host order) of the call.
#[inline(always)]
fn user_addr(ctx: &SockAddrContext) -> (Words, u16) {
    // SAFETY: readable fields of the live sock_addr context; the verifier
    // allows 4-byte loads of each `user_ip6` word.
    unsafe {
        let sa = ctx.sock_addr;
        let words = [
            core::ptr::read_volatile(&(*sa).user_ip6[0]),
            core::ptr::read_volatile(&(*sa).user_ip6[1]),
            core::ptr::read_volatile(&(*sa).user_ip6[2]),
            core::ptr::read_volatile(&(*sa).user_ip6[3]),
        ];
        (words, u16::from_be((*sa).user_port as u16))
    }
}

/// Sets the call's address to `words`, `port` (host order).
#[inline(always)]
fn set_user_addr(ctx: &SockAddrContext, words: Words, port: u16) {
    // SAFETY: writable fields of the live sock_addr context; one 4-byte
    // store per word, the access size the verifier accepts.
    unsafe {
        let sa = ctx.sock_addr;
        core::ptr::write_volatile(&mut (*sa).user_ip6[0], words[0]);
        core::ptr::write_volatile(&mut (*sa).user_ip6[1], words[1]);
        core::ptr::write_volatile(&mut (*sa).user_ip6[2], words[2]);
        core::ptr::write_volatile(&mut (*sa).user_ip6[3], words[3]);
        (*sa).user_port = u32::from(port.to_be());
    }
}

#[inline(always)]
fn mapped(ip: [u8; 4]) -> Words {
    [0, 0, V4_MAPPED_PREFIX, u32::from_ne_bytes(ip)]
}

/// The address as its 16 bytes (each word is in network order).
#[inline(always)]
fn octets(words: &Words) -> [u8; 16] {
    // SAFETY: same size, and every bit pattern is a valid `[u8; 16]`.
    unsafe { core::mem::transmute::<Words, [u8; 16]>(*words) }
}

#[inline(always)]
fn words_of(ip: &[u8; 16]) -> Words {
    // SAFETY: same size, and every bit pattern is a valid `[u32; 4]`.
    unsafe { core::mem::transmute::<[u8; 16], Words>(*ip) }
}

/// A native IPv6 destination published on IPv6: the call goes to the
/// container's IPv6 address and port. Whether it was.
#[inline(always)]
fn to_native(ctx: &SockAddrContext, words: &Words, port: u16, protocol: u8) -> bool {
    if v4_mapped(words).is_some() {
        return false;
    }
    let asked = octets(words);
    let Some(target) = sock6_publish::target_for(&asked, port, protocol) else {
        return false;
    };
    sock6_publish::remember(ctx, target, protocol, &asked, port);
    set_user_addr(ctx, words_of(&target.container_ip), target.container_port);
    true
}

/// A host socket's TCP or UDP destination that no IPv6 mapping took
/// (`to_native`): its address words, port and protocol. `None`: nothing
/// left to do (not a host socket's TCP or UDP, or sent to a container).
#[inline(always)]
fn not_native(ctx: &SockAddrContext) -> Option<(Words, u16, u8)> {
    let protocol = sock::protocol(ctx)?;
    if !sock::is_host_socket(ctx) {
        return None;
    }
    let (words, port) = user_addr(ctx);
    if to_native(ctx, &words, port, protocol) {
        return None;
    }
    Some((words, port, protocol))
}

/// `connect6`: a host socket to an IPv6 mapping goes to the container's
/// IPv6 address; else one to `[::1]:P` (matching what `127.0.0.1:P`
/// matches) or to `[::ffff:IP]:P` (matching what `IP:P` matches) is sent
/// to `[::ffff:CONTAINER_IP]:CONTAINER_PORT`.
#[inline(always)]
pub fn connect(ctx: &SockAddrContext) -> i32 {
    let Some((words, port, protocol)) = not_native(ctx) else {
        return ALLOW;
    };
    let (ip, flags) = if is_v6_loopback(&words) {
        (LOOPBACK_V4, SOCK_ASKED_V6_LOOPBACK)
    } else if let Some(ip) = v4_mapped(&words) {
        (ip, 0)
    } else {
        return ALLOW;
    };
    let Some(target) = sock::target_for(ip, port, protocol) else {
        return ALLOW;
    };
    let asked = SockReverseValue {
        host_ip: ip,
        host_port: port,
        flags,
    };
    sock::remember(ctx, &target, protocol, asked);
    set_user_addr(ctx, mapped(target.container_ip), target.container_port);
    ALLOW
}

/// `sendmsg6`: only native IPv6 destinations get here (the kernel sends
/// v4-mapped ones down the IPv4 path). One published on IPv6 goes to the
/// container's IPv6 address; one to `::1` on a port published on IPv4
/// only cannot be redirected (see the module notes), so it is refused.
#[inline(always)]
pub fn sendmsg(ctx: &SockAddrContext) -> i32 {
    let Some((words, port, protocol)) = not_native(ctx) else {
        return ALLOW;
    };
    if is_v6_loopback(&words) && sock::target_for(LOOPBACK_V4, port, protocol).is_some() {
        return REFUSE;
    }
    ALLOW
}

/// `recvmsg6`: a reply from `::ffff:CONTAINER_IP` or from a container's
/// IPv6 address is shown as from the address the socket asked for (`::1`,
/// `::ffff:HOST_IP` or a host IPv6 address).
#[inline(always)]
pub fn recvmsg(ctx: &SockAddrContext) -> i32 {
    let Some(protocol) = sock::protocol(ctx) else {
        return ALLOW;
    };
    let (words, port) = user_addr(ctx);
    let Some(container_ip) = v4_mapped(&words) else {
        // A reply from a container's own IPv6 address.
        if let Some(asked) = sock6_publish::asked_for(ctx, octets(&words), port, protocol) {
            set_user_addr(ctx, words_of(&asked.host_ip), asked.host_port);
        }
        return ALLOW;
    };
    if let Some(asked) = sock::asked_for(ctx, container_ip, port, protocol) {
        let shown = if asked.flags & SOCK_ASKED_V6_LOOPBACK != 0 {
            [0, 0, 0, LOOPBACK_LAST_WORD]
        } else {
            mapped(asked.host_ip)
        };
        set_user_addr(ctx, shown, asked.host_port);
    }
    ALLOW
}
