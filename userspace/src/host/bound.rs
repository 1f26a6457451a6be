//! Which host sockets hold a port, as `bind` sees them: the answer of the
//! port probe ([`super::Host::probe_port`]: a socket bound without
//! `SO_REUSEADDR` or `SO_REUSEPORT`, to no device, `IPV6_V6ONLY` when
//! IPv6) for many ports at once, from one sock_diag dump of the host's
//! sockets (sock_diag.rs) instead of one bind per port.
//!
//! The rules are the kernel's (`inet_rcv_saddr_equal` and
//! `inet_bind_conflict` for TCP, `udp_lib_lport_inuse` for UDP). Without
//! `SO_REUSEADDR` the probe clashes with every socket on its port whose
//! address overlaps its own, whatever that socket's state (a TIME_WAIT
//! one too) or options. Where a dump cannot tell the answer for sure the
//! verdict is [`Verdict::Unsure`] and the caller binds that port as before:
//! - a TCP socket bound to a device: in a VRF it holds the port only there;
//! - a UDP probe on a wildcard address against a socket on a specific one:
//!   the kernel finds it only while its hash slot holds at most 10 sockets
//!   (beyond that it looks up the probe's own address and the wildcard);
//! - a connected IPv6 socket (TIME_WAIT too) against an IPv4 wildcard
//!   probe: the dump gives `IPV6_V6ONLY` of listening and unconnected
//!   sockets only.

use std::{
    collections::HashMap,
    net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr},
};

use crate::portspec::Protocol;

/// The IPv4 address (`inet_rcv_saddr`) the kernel gives an IPv6 socket on
/// an IPv6 address that is neither `::` nor v4-mapped (`LOOPBACK4_IPV6`).
const LOOPBACK4_IPV6: Ipv4Addr = Ipv4Addr::new(127, 0, 0, 6);

/// A socket holding a local port, as sock_diag reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BoundSocket {
    /// IPv4 for an IPv4 socket; IPv6 (`::`, v4-mapped or another) for an
    /// IPv6 one.
    pub local: IpAddr,
    pub port: u16,
    /// `IPV6_V6ONLY` of an IPv6 socket (forced on by a bind to an IPv6
    /// address); `None` where the dump does not say (connected sockets).
    pub v6only: Option<bool>,
    /// Bound to an interface (`SO_BINDTODEVICE`, a link-local scope).
    pub device: bool,
}

/// Whether the probe's bind would fail.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Free,
    InUse,
    /// Only a bind can tell.
    Unsure,
}

/// The sockets of one protocol holding ports, by port.
#[derive(Debug, Default)]
pub struct BoundSockets {
    tcp: bool,
    by_port: HashMap<u16, Vec<BoundSocket>>,
    /// `net.ipv4.ip_unprivileged_port_start`: a bind below it needs
    /// `CAP_NET_BIND_SERVICE`, so it is checked apart.
    pub unprivileged_from: u16,
}

impl BoundSockets {
    pub fn new(
        protocol: Protocol,
        sockets: impl IntoIterator<Item = BoundSocket>,
        unprivileged_from: u16,
    ) -> Self {
        let mut by_port: HashMap<u16, Vec<BoundSocket>> = HashMap::new();
        for s in sockets {
            by_port.entry(s.port).or_default().push(s);
        }
        Self {
            tcp: protocol == Protocol::Tcp,
            by_port,
            unprivileged_from,
        }
    }

    /// Whether the probe's bind of `addr` (of the address family of `addr`)
    /// fails with EADDRINUSE, for an address the host has (a non-local one
    /// fails with EADDRNOTAVAIL before ports are looked at: the caller
    /// binds once per address for that).
    pub fn verdict(&self, addr: SocketAddr) -> Verdict {
        if let IpAddr::V6(x) = addr.ip()
            && x.to_ipv4_mapped().is_some()
        {
            // The probe's bind fails with EINVAL: only a bind can tell.
            return Verdict::Unsure;
        }
        let Some(held) = self.by_port.get(&addr.port()) else {
            return Verdict::Free;
        };
        let mut verdict = Verdict::Free;
        for socket in held {
            let mut clash = match addr.ip() {
                IpAddr::V4(a) => clash_v4(self.tcp, a, socket),
                IpAddr::V6(x) => clash_v6(self.tcp, x, socket),
            };
            if self.tcp && socket.device && clash == Verdict::InUse {
                clash = Verdict::Unsure;
            }
            match clash {
                Verdict::InUse => return Verdict::InUse,
                Verdict::Unsure => verdict = Verdict::Unsure,
                Verdict::Free => {}
            }
        }
        verdict
    }
}

/// An IPv4 probe on `a` against `held`.
fn clash_v4(tcp: bool, a: Ipv4Addr, held: &BoundSocket) -> Verdict {
    let b = match held.local {
        IpAddr::V4(b) => b,
        IpAddr::V6(s) => {
            if held.v6only == Some(true) {
                return Verdict::Free;
            }
            // A v4-mapped socket is never IPv6-only.
            if let Some(b) = s.to_ipv4_mapped() {
                b
            } else if s.is_unspecified() {
                if held.v6only.is_none() {
                    return Verdict::Unsure;
                }
                Ipv4Addr::UNSPECIFIED
            } else {
                // Any other IPv6 address is 127.0.0.6 to IPv4, which the
                // kernel compares by some of its paths only; a wildcard
                // TCP probe meets it for sure when it is not IPv6-only.
                let sure = tcp && held.v6only.is_some();
                return match (a.is_unspecified(), a == LOOPBACK4_IPV6) {
                    (true, _) if sure => Verdict::InUse,
                    (true, _) | (_, true) => Verdict::Unsure,
                    _ => Verdict::Free,
                };
            }
        }
    };
    overlap(tcp, a.is_unspecified(), b.is_unspecified(), a == b)
}

/// An `IPV6_V6ONLY` probe on `x` against `held`.
fn clash_v6(tcp: bool, x: Ipv6Addr, held: &BoundSocket) -> Verdict {
    match held.local {
        // An IPv6-only probe never meets IPv4 sockets, nor v4-mapped ones.
        IpAddr::V4(_) => Verdict::Free,
        IpAddr::V6(s) if s.to_ipv4_mapped().is_some() => Verdict::Free,
        IpAddr::V6(s) => overlap(tcp, x.is_unspecified(), s.is_unspecified(), x == s),
    }
}

/// Two addresses of one family on one port: equal or the held one a
/// wildcard clash for sure; a wildcard probe against a specific address
/// clashes for TCP, and for UDP only by the kernel's short-slot path.
fn overlap(tcp: bool, probe_any: bool, held_any: bool, equal: bool) -> Verdict {
    if equal || held_any {
        Verdict::InUse
    } else if probe_any {
        if tcp { Verdict::InUse } else { Verdict::Unsure }
    } else {
        Verdict::Free
    }
}

#[cfg(test)]
#[path = "bound_tests.rs"]
mod tests;
