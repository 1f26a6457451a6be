//! Pure decisions about published ports: choosing host ports, matching
//! `unpublish` specs, and port ranges.

use std::{
    collections::{HashMap, HashSet},
    net::IpAddr,
};

use crate::{
    host::Probe,
    portspec::{PortMapping, PortRequest, Protocol, every_address},
};

/// The address families of the endpoint a container's mappings lead to:
/// a mapping needs a container address of its host address's family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Families {
    pub ipv4: bool,
    pub ipv6: bool,
}

impl Families {
    /// An IPv4-only container's.
    #[cfg(test)]
    pub const IPV4: Families = Families {
        ipv4: true,
        ipv6: false,
    };

    /// Whether a mapping on `ip` can lead to the container.
    pub fn has(self, ip: IpAddr) -> bool {
        if ip.is_ipv4() { self.ipv4 } else { self.ipv6 }
    }

    /// The host addresses `request` publishes on: the one it names, or
    /// (none named, as Docker's `-p 8080:80`) every address of each family
    /// the container has an address of.
    fn addresses(self, request: &PortRequest) -> Result<Vec<IpAddr>, String> {
        let Some(ip) = request.host_ip else {
            let every = [(self.ipv4, false), (self.ipv6, true)];
            return Ok(every
                .into_iter()
                .filter(|(has, _)| *has)
                .map(|(_, ipv6)| every_address(ipv6))
                .collect());
        };
        if self.has(ip) {
            return Ok(vec![ip]);
        }
        let (shown, family) = match ip {
            IpAddr::V4(ip) => (ip.to_string(), "IPv4"),
            IpAddr::V6(ip) => (format!("[{ip}]"), "IPv6"),
        };
        Err(format!(
            "cannot publish on host IP {shown}: the container has no {family} address \
             on its network to lead it to"
        ))
    }
}

/// A set of (protocol, host port) as one bit each (16 KiB).
struct PortBits(Vec<u64>);

impl PortBits {
    fn index(protocol: Protocol, port: u16) -> usize {
        let protocol = match protocol {
            Protocol::Tcp => 0,
            Protocol::Udp => 1,
        };
        protocol << 16 | usize::from(port)
    }

    fn contains(&self, protocol: Protocol, port: u16) -> bool {
        let i = Self::index(protocol, port);
        self.0[i / 64] & (1 << (i % 64)) != 0
    }
}

impl FromIterator<(Protocol, u16)> for PortBits {
    fn from_iter<I: IntoIterator<Item = (Protocol, u16)>>(pairs: I) -> Self {
        let mut bits = PortBits(vec![0; 2 << 16 >> 6]);
        for (protocol, port) in pairs {
            let i = Self::index(protocol, port);
            bits.0[i / 64] |= 1 << (i % 64);
        }
        bits
    }
}

/// A mapping already in force, and whose it is.
#[derive(Clone, Copy)]
pub struct Taken<'a> {
    pub container: &'a str,
    pub mapping: PortMapping,
}

/// Two mappings on one protocol and port of one family clash when their
/// addresses do (`0.0.0.0` and `::` are every address of their family).
fn clashes(a: &PortMapping, b: &PortMapping) -> bool {
    a.protocol == b.protocol
        && a.host_port == b.host_port
        && a.host_ip.is_ipv4() == b.host_ip.is_ipv4()
        && (a.host_ip == b.host_ip || a.host_ip.is_unspecified() || b.host_ip.is_unspecified())
}

/// Mappings by protocol and host port, so a clash check is one lookup
/// whatever the number of ports (every port of an address is 65,535).
struct ByHostPort<T> {
    slots: HashMap<(Protocol, u16), Vec<(PortMapping, T)>>,
}

impl<T: Copy> ByHostPort<T> {
    fn new() -> Self {
        Self {
            slots: HashMap::new(),
        }
    }

    fn insert(&mut self, mapping: PortMapping, owner: T) {
        self.slots
            .entry((mapping.protocol, mapping.host_port))
            .or_default()
            .push((mapping, owner));
    }

    fn clash(&self, m: &PortMapping) -> Option<(PortMapping, T)> {
        self.slots
            .get(&(m.protocol, m.host_port))?
            .iter()
            .find(|(other, _)| clashes(other, m))
            .copied()
    }
}

fn probe_error(m: &PortMapping, probe: Probe) -> Option<String> {
    match probe {
        Probe::Free => None,
        Probe::InUse => Some(format!(
            "host port {}/{} is already in use by a process on this host",
            m.host_port, m.protocol
        )),
        Probe::NotLocal => Some(format!(
            "host IP {} is not an address of this host",
            m.host_ip
        )),
        Probe::Failed(why) => Some(format!(
            "cannot check host port {}/{}: {why}",
            m.host(),
            m.protocol
        )),
    }
}

/// Decides every host port, all or nothing: a requested one must not be
/// published already nor held by a host process; a missing one is the first
/// of `ephemeral` that is neither. A request on both families (no address
/// named) gets one port free on both, as Docker's.
pub fn resolve_ports<'a>(
    taken: impl IntoIterator<Item = Taken<'a>>,
    requests: &[PortRequest],
    families: Families,
    ephemeral: (u16, u16),
    probe: &mut dyn FnMut(&PortMapping) -> Probe,
) -> Result<Vec<PortMapping>, String> {
    // Only the slots a request can land in: one more port beside every
    // port of an address indexes one slot, not 131,070, and passing over
    // the others costs a bit test each.
    let fixed: Option<PortBits> = requests
        .iter()
        .map(|r| match r.host_range() {
            Some((port, end)) if port == end => Some((r.protocol, port)),
            _ => None,
        })
        .collect();
    let mut published = ByHostPort::new();
    for t in taken {
        let (protocol, port) = (t.mapping.protocol, t.mapping.host_port);
        if fixed
            .as_ref()
            .is_none_or(|fixed| fixed.contains(protocol, port))
        {
            published.insert(t.mapping, t.container);
        }
    }
    let mut out: Vec<PortMapping> = Vec::new();
    let mut requested = ByHostPort::new();
    let clash = |requested: &ByHostPort<()>, m: &PortMapping| -> Option<String> {
        if let Some((mapping, container)) = published.clash(m) {
            return Some(format!(
                "host port {}/{} is already published (by container {container}: {mapping})",
                m.host(),
                m.protocol
            ));
        }
        requested
            .clash(m)
            .map(|_| format!("host port {}/{} is requested twice", m.host(), m.protocol))
    };
    let (low, high) = ephemeral;
    for request in requests {
        let addresses = families.addresses(request)?;
        let mappings = |host_port| -> Vec<PortMapping> {
            addresses
                .iter()
                .map(|&host_ip| PortMapping {
                    host_ip,
                    host_port,
                    container_port: request.container_port,
                    protocol: request.protocol,
                })
                .collect()
        };
        let chosen = match request.host_range() {
            Some((port, end)) if port == end => {
                let chosen = mappings(port);
                for m in &chosen {
                    if let Some(e) = clash(&requested, m).or_else(|| probe_error(m, probe(m))) {
                        return Err(e);
                    }
                }
                chosen
            }
            // A range given (`8000-8010:80`) or none (the ephemeral range):
            // the first port of it that is neither published nor held (on
            // every address the request publishes on).
            range => {
                let (low, high) = range.unwrap_or((low, high));
                let mut found = None;
                'ports: for port in low..=high {
                    let candidate = mappings(port);
                    if candidate.iter().any(|m| clash(&requested, m).is_some()) {
                        continue;
                    }
                    for m in &candidate {
                        match probe(m) {
                            Probe::Free => {}
                            Probe::InUse => continue 'ports,
                            other => return Err(probe_error(m, other).unwrap_or_default()),
                        }
                    }
                    found = Some(candidate);
                    break;
                }
                found.ok_or_else(|| {
                    format!(
                        "no free host port left in {low}-{high} for {}/{}",
                        request.container_port, request.protocol
                    )
                })?
            }
        };
        for m in chosen {
            requested.insert(m, ());
            out.push(m);
        }
    }
    Ok(out)
}

/// The mappings of a container that `requests` name: host port and host IP
/// must match when given (`0.0.0.0` and `::` match every address of their
/// family); without a host port every mapping of that container port and
/// protocol matches. All or nothing.
pub fn match_unpublish(
    container: &str,
    mappings: &[PortMapping],
    requests: &[PortRequest],
) -> Result<Vec<PortMapping>, String> {
    // By container port and protocol: one lookup per request, whatever the
    // number of mappings.
    let wanted: HashSet<(Protocol, u16)> = requests
        .iter()
        .map(|r| (r.protocol, r.container_port))
        .collect();
    let mut by_container_port: HashMap<(Protocol, u16), Vec<PortMapping>> = HashMap::new();
    for m in mappings {
        if !wanted.contains(&(m.protocol, m.container_port)) {
            continue;
        }
        by_container_port
            .entry((m.protocol, m.container_port))
            .or_default()
            .push(*m);
    }
    let mut out: Vec<PortMapping> = Vec::new();
    let mut seen = HashSet::new();
    for r in requests {
        let matching: Vec<PortMapping> = by_container_port
            .get(&(r.protocol, r.container_port))
            .into_iter()
            .flatten()
            .filter(|m| {
                r.host_range()
                    .is_none_or(|(low, high)| (low..=high).contains(&m.host_port))
                    && match r.host_ip {
                        None => true,
                        Some(ip) if ip.is_unspecified() => ip.is_ipv4() == m.host_ip.is_ipv4(),
                        Some(ip) => ip == m.host_ip,
                    }
            })
            .copied()
            .collect();
        if matching.is_empty() {
            let ports = match r.host_range() {
                None => String::new(),
                Some((low, high)) if low == high => low.to_string(),
                Some((low, high)) => format!("{low}-{high}"),
            };
            let host = match (r.host_ip, ports.is_empty()) {
                (None, true) => String::new(),
                (None, false) => format!("{ports}:"),
                (Some(IpAddr::V4(ip)), _) => format!("{ip}:{ports}:"),
                (Some(IpAddr::V6(ip)), _) => format!("[{ip}]:{ports}:"),
            };
            return Err(format!(
                "container {container} has no published port {host}{}/{}",
                r.container_port, r.protocol
            ));
        }
        for m in matching {
            if seen.insert(m) {
                out.push(m);
            }
        }
    }
    Ok(out)
}

const DEFAULT_EPHEMERAL: (u16, u16) = (32768, 60999);

/// `net.ipv4.ip_local_port_range` (the file's text): where auto-picked host
/// ports come from.
pub fn ephemeral_range(text: &str) -> (u16, u16) {
    let ports: Vec<u16> = text
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect();
    match ports.as_slice() {
        [low, high] if *low > 0 && low <= high => (*low, *high),
        _ => DEFAULT_EPHEMERAL,
    }
}

#[cfg(test)]
#[path = "portalloc_tests.rs"]
mod tests;
