//! One sock_diag dump (what `ss -tuanB` reads) of the TCP or UDP sockets
//! of the calling thread's network namespace that hold a local port, for
//! [`BoundSockets`].

use std::{
    io,
    net::{IpAddr, Ipv4Addr, Ipv6Addr},
    os::unix::fs::MetadataExt as _,
};

use netlink_sys::{Socket, SocketAddr as NetlinkAddr, protocols::NETLINK_SOCK_DIAG};

use super::{
    HostError,
    bound::{BoundSocket, BoundSockets},
};
use crate::portspec::Protocol;

// linux/netlink.h, linux/sock_diag.h, linux/inet_diag.h.
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP: u16 = 0x300;
const NLM_F_DUMP_INTR: u16 = 0x10;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
/// `struct inet_diag_req_v2`: family, protocol, ext, pad, states, sockid.
const REQ_LEN: usize = 56;
/// `struct inet_diag_msg`: family, state, timer, retrans, sockid (48),
/// expires, rqueue, wqueue, uid, inode.
const MSG_LEN: usize = 72;
const INET_DIAG_SKV6ONLY: u16 = 11;
/// Every TCP state (1..=12) but SYN_RECV and NEW_SYN_RECV (3, 12: request
/// sockets hold no port, their listener does), and the pseudo-state
/// TCP_BOUND_INACTIVE (13): sockets bound but neither listening nor
/// connected, which only recent kernels dump (checked with a canary).
const TCP_STATES: u32 = 0x1ffe & !(1 << 3) & !(1 << 12);
const TCP_BOUND_INACTIVE: u32 = 1 << 13;
/// The kernel's dump messages are at most 32 KiB.
const RECV_BUF: usize = 64 << 10;

/// The sockets of `protocol` holding a port, both families. TCP's include
/// those only bound; a kernel that cannot dump those is an error (the
/// caller binds each port instead).
pub fn bound_sockets(protocol: Protocol) -> Result<BoundSockets, HostError> {
    let (number, states) = match protocol {
        Protocol::Tcp => (libc::IPPROTO_TCP, TCP_STATES | TCP_BOUND_INACTIVE),
        Protocol::Udp => (libc::IPPROTO_UDP, u32::MAX),
    };
    // A bound TCP socket of ours, which the dump must show.
    let canary = match protocol {
        Protocol::Tcp => Some(canary().map_err(HostError::io("bind a TCP socket to 127.0.0.1"))?),
        Protocol::Udp => None,
    };
    let dump_error = HostError::io(format!("dump the host's {protocol} sockets (sock_diag)"));
    let mut sockets = Vec::new();
    let mut seen_canary = false;
    let mut run = || -> io::Result<()> {
        let mut socket = Socket::new(NETLINK_SOCK_DIAG)?;
        socket.bind_auto()?;
        socket.connect(&NetlinkAddr::new(0, 0))?;
        for (seq, family) in [(1, libc::AF_INET), (2, libc::AF_INET6)] {
            dump(
                &socket,
                seq,
                family as u8,
                number as u8,
                states,
                &mut |s, inode| {
                    if canary
                        .as_ref()
                        .is_some_and(|(_, c)| c & u64::from(u32::MAX) == inode)
                    {
                        seen_canary = true;
                    } else {
                        sockets.push(s);
                    }
                },
            )?;
        }
        Ok(())
    };
    run().map_err(dump_error)?;
    if canary.is_some() && !seen_canary {
        return Err(HostError::Io {
            action: "dump the host's bound TCP sockets".into(),
            source: io::Error::new(
                io::ErrorKind::Unsupported,
                "this kernel's sock_diag does not show TCP sockets only bound",
            ),
        });
    }
    let unprivileged_from =
        std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1024);
    Ok(BoundSockets::new(protocol, sockets, unprivileged_from))
}

/// A TCP socket bound to 127.0.0.1 (a port the kernel picks), neither
/// listening nor connected; its inode.
fn canary() -> io::Result<(std::fs::File, u64)> {
    use socket2::{Domain, Socket as Socket2, Type};
    let socket = Socket2::new(Domain::IPV4, Type::STREAM, None)?;
    socket.bind(&std::net::SocketAddr::from((Ipv4Addr::LOCALHOST, 0)).into())?;
    let file = std::fs::File::from(std::os::fd::OwnedFd::from(socket));
    let inode = file.metadata()?.ino();
    Ok((file, inode))
}

/// Sends one dump request and hands every socket of the answer, with its
/// inode, to `each`.
fn dump(
    socket: &Socket,
    seq: u32,
    family: u8,
    protocol: u8,
    states: u32,
    each: &mut dyn FnMut(BoundSocket, u64),
) -> io::Result<()> {
    let mut request = Vec::with_capacity(NLMSG_HDRLEN + REQ_LEN);
    request.extend(((NLMSG_HDRLEN + REQ_LEN) as u32).to_ne_bytes());
    request.extend(SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    request.extend((NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    request.extend(seq.to_ne_bytes());
    request.extend(0u32.to_ne_bytes());
    request.extend([family, protocol, 0, 0]);
    request.extend(states.to_ne_bytes());
    request.resize(NLMSG_HDRLEN + REQ_LEN, 0);
    socket.send(&request, 0)?;

    let mut buf = Vec::with_capacity(RECV_BUF);
    loop {
        buf.clear();
        // MSG_TRUNC: the datagram's length, even when longer than `buf`.
        let n = socket.recv(&mut buf, libc::MSG_TRUNC)?;
        if n > buf.len() {
            return Err(malformed("a message longer than the receive buffer"));
        }
        let mut at = 0;
        while at + NLMSG_HDRLEN <= n {
            let len = u32_at(&buf, at) as usize;
            let (kind, flags) = (u16_at(&buf, at + 4), u16_at(&buf, at + 6));
            if len < NLMSG_HDRLEN || at + len > n {
                return Err(malformed("a message length past the datagram"));
            }
            let body = &buf[at + NLMSG_HDRLEN..at + len];
            if u32_at(&buf, at + 8) == seq {
                match kind {
                    NLMSG_DONE if flags & NLM_F_DUMP_INTR != 0 => {
                        return Err(io::Error::other("the dump was interrupted"));
                    }
                    NLMSG_DONE => {
                        // A dump that failed midway says so here.
                        return match body.get(..4).map(|_| u32_at(body, 0) as i32) {
                            Some(errno) if errno < 0 => Err(io::Error::from_raw_os_error(-errno)),
                            _ => Ok(()),
                        };
                    }
                    NLMSG_ERROR => {
                        let errno = body.get(..4).map_or(0, |_| u32_at(body, 0) as i32);
                        if errno != 0 {
                            return Err(io::Error::from_raw_os_error(-errno));
                        }
                    }
                    SOCK_DIAG_BY_FAMILY => {
                        if let Some((s, inode)) = parse(body)? {
                            each(s, inode);
                        }
                    }
                    _ => {}
                }
            }
            at += len.next_multiple_of(4);
        }
    }
}

/// One `inet_diag_msg` and its attributes; `None` for a socket without a
/// port or of another family.
fn parse(msg: &[u8]) -> io::Result<Option<(BoundSocket, u64)>> {
    if msg.len() < MSG_LEN {
        return Err(malformed("a socket message shorter than inet_diag_msg"));
    }
    let port = u16::from_be_bytes([msg[4], msg[5]]);
    let src: [u8; 16] = msg[8..24].try_into().unwrap_or_default();
    let device = u32_at(msg, 40) != 0;
    let inode = u64::from(u32_at(msg, 68));
    let local = match i32::from(msg[0]) {
        libc::AF_INET => IpAddr::from(Ipv4Addr::new(src[0], src[1], src[2], src[3])),
        libc::AF_INET6 => IpAddr::from(Ipv6Addr::from(src)),
        _ => return Ok(None),
    };
    if port == 0 {
        return Ok(None);
    }
    let mut v6only = None;
    let mut at = MSG_LEN;
    while at + 4 <= msg.len() {
        let len = usize::from(u16_at(msg, at));
        if len < 4 || at + len > msg.len() {
            break;
        }
        if u16_at(msg, at + 2) & 0x3fff == INET_DIAG_SKV6ONLY && len > 4 {
            v6only = Some(msg[at + 4] != 0);
        }
        at += len.next_multiple_of(4);
    }
    let v6only = v6only.filter(|_| local.is_ipv6());
    Ok(Some((
        BoundSocket {
            local,
            port,
            v6only,
            device,
        },
        inode,
    )))
}

fn u16_at(buf: &[u8], at: usize) -> u16 {
    u16::from_ne_bytes([buf[at], buf[at + 1]])
}

fn u32_at(buf: &[u8], at: usize) -> u32 {
    u32::from_ne_bytes([buf[at], buf[at + 1], buf[at + 2], buf[at + 3]])
}

fn malformed(what: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, format!("sock_diag sent {what}"))
}

#[cfg(test)]
#[path = "sock_diag_tests.rs"]
mod tests;
