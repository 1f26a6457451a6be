//! Pure decisions about published ports: choosing host ports, matching
//! `unpublish` specs, and port ranges.

use crate::{
    host::Probe,
    portspec::{PortMapping, PortRequest},
};

/// A mapping already in force, and whose it is.
pub struct Taken<'a> {
    pub container: &'a str,
    pub mapping: PortMapping,
}

fn clashes(a: &PortMapping, b: &PortMapping) -> bool {
    a.protocol == b.protocol
        && a.host_port == b.host_port
        && (a.host_ip == b.host_ip || a.host_ip.is_unspecified() || b.host_ip.is_unspecified())
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
            "cannot check host port {}:{}/{}: {why}",
            m.host_ip, m.host_port, m.protocol
        )),
    }
}

/// Decides every host port, all or nothing: a requested one must not be
/// published already nor held by a host process; a missing one is the first
/// of `ephemeral` that is neither.
pub fn resolve_ports(
    taken: &[Taken<'_>],
    requests: &[PortRequest],
    ephemeral: (u16, u16),
    probe: &mut dyn FnMut(&PortMapping) -> Probe,
) -> Result<Vec<PortMapping>, String> {
    let mut out: Vec<PortMapping> = Vec::new();
    let clash = |out: &[PortMapping], m: &PortMapping| -> Option<String> {
        if let Some(t) = taken.iter().find(|t| clashes(&t.mapping, m)) {
            return Some(format!(
                "host port {}:{}/{} is already published (by container {}: {})",
                m.host_ip, m.host_port, m.protocol, t.container, t.mapping
            ));
        }
        out.iter().find(|o| clashes(o, m)).map(|_| {
            format!(
                "host port {}:{}/{} is requested twice",
                m.host_ip, m.host_port, m.protocol
            )
        })
    };
    let (low, high) = ephemeral;
    for request in requests {
        let mapping = |host_port| PortMapping {
            host_ip: request.host_ip,
            host_port,
            container_port: request.container_port,
            protocol: request.protocol,
        };
        let chosen = match request.host_port {
            Some(port) => {
                let m = mapping(port);
                if let Some(e) = clash(&out, &m).or_else(|| probe_error(&m, probe(&m))) {
                    return Err(e);
                }
                m
            }
            None => {
                let mut found = None;
                for m in (low..=high).map(mapping) {
                    if clash(&out, &m).is_some() {
                        continue;
                    }
                    match probe(&m) {
                        Probe::Free => {
                            found = Some(m);
                            break;
                        }
                        Probe::InUse => continue,
                        other => return Err(probe_error(&m, other).unwrap_or_default()),
                    }
                }
                found.ok_or_else(|| {
                    format!(
                        "no free host port left in {low}-{high} for {}/{}",
                        request.container_port, request.protocol
                    )
                })?
            }
        };
        out.push(chosen);
    }
    Ok(out)
}

/// The mappings of a container that `requests` name: host port and (unless
/// `0.0.0.0`) host IP must match when given; without a host port every
/// mapping of that container port and protocol matches. All or nothing.
pub fn match_unpublish(
    container: &str,
    mappings: &[PortMapping],
    requests: &[PortRequest],
) -> Result<Vec<PortMapping>, String> {
    let mut out: Vec<PortMapping> = Vec::new();
    for r in requests {
        let matching: Vec<PortMapping> = mappings
            .iter()
            .filter(|m| {
                m.protocol == r.protocol
                    && m.container_port == r.container_port
                    && r.host_port.is_none_or(|p| p == m.host_port)
                    && (r.host_ip.is_unspecified() || r.host_ip == m.host_ip)
            })
            .copied()
            .collect();
        if matching.is_empty() {
            let host = match (r.host_ip.is_unspecified(), r.host_port) {
                (true, None) => String::new(),
                (true, Some(p)) => format!("{p}:"),
                (false, None) => format!("{}::", r.host_ip),
                (false, Some(p)) => format!("{}:{p}:", r.host_ip),
            };
            return Err(format!(
                "container {container} has no published port {host}{}/{}",
                r.container_port, r.protocol
            ));
        }
        for m in matching {
            if !out.contains(&m) {
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
