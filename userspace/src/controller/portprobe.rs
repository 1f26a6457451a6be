//! Whether host processes hold the ports of one publish: a bind per port
//! for a few ports, and past [`BULK`] of them one sock_diag dump per
//! protocol (host/bound.rs) answering the rest, as the binds would.

use std::{
    collections::{HashMap, HashSet},
    net::{IpAddr, SocketAddr},
};

use crate::{
    host::{
        Host, Probe,
        bound::{BoundSockets, Verdict},
    },
    portspec::{PortMapping, Protocol},
};

/// Binds answered one by one before the dump takes over (a dump costs
/// about as much as a few dozen binds on a quiet host).
pub const BULK: usize = 64;

/// Answers the probes of one plan of published ports.
pub struct PortProber<'a> {
    host: &'a dyn Host,
    asked: usize,
    /// Per protocol: the dump, or `None` when it failed (then a bind per
    /// port, as before).
    dumps: HashMap<Protocol, Option<BoundSockets>>,
    /// (protocol, address, privileged port) that a bind has found usable:
    /// binds fail on an address before its ports are looked at (not an
    /// address of the host, a link-local one without scope, a v4-mapped
    /// one), and below `ip_unprivileged_port_start` on a missing
    /// capability, which the dump cannot tell.
    usable: HashSet<(Protocol, IpAddr, bool)>,
}

impl<'a> PortProber<'a> {
    pub fn new(host: &'a dyn Host) -> Self {
        Self {
            host,
            asked: 0,
            dumps: HashMap::new(),
            usable: HashSet::new(),
        }
    }

    pub fn probe(&mut self, m: &PortMapping) -> Probe {
        self.asked += 1;
        let addr = SocketAddr::from((m.host_ip, m.host_port));
        if self.asked > BULK {
            self.take_dump(m.protocol);
        }
        let Some(dump) = self.dumps.get(&m.protocol).and_then(Option::as_ref) else {
            return self.host.probe_port(m.protocol, addr);
        };
        let key = (m.protocol, m.host_ip, m.host_port < dump.unprivileged_from);
        if !self.usable.contains(&key) {
            let probe = self.host.probe_port(m.protocol, addr);
            if matches!(probe, Probe::Free | Probe::InUse) {
                self.usable.insert(key);
            }
            return probe;
        }
        match dump.verdict(addr) {
            Verdict::Free => Probe::Free,
            Verdict::InUse => Probe::InUse,
            Verdict::Unsure => self.host.probe_port(m.protocol, addr),
        }
    }

    /// Dumps `protocol`'s sockets once.
    fn take_dump(&mut self, protocol: Protocol) {
        let host = self.host;
        self.dumps
            .entry(protocol)
            .or_insert_with(|| match host.bound_sockets(protocol) {
                Ok(dump) => Some(dump),
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        "cannot list the host's {protocol} sockets; probing each port with a bind"
                    );
                    None
                }
            });
    }
}

#[cfg(test)]
#[path = "portprobe_tests.rs"]
mod tests;
