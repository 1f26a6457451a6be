//! Published ports: what a mapping asks for ([`PortRequest`]) and what one
//! in force is ([`PortMapping`]), with the runs `docker port` folds them
//! into; the `-p` and `--expose` syntax is parsed in `parse.rs`.

mod parse;

use std::{
    fmt,
    net::{IpAddr, Ipv6Addr, SocketAddr},
};

use serde::{Deserialize, Serialize};

pub use parse::{ExposeSpec, PortSpec, PortSpecError};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    Tcp,
    Udp,
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        })
    }
}

/// One requested mapping. `host_ip: None` (no address given) publishes
/// on every address of each family the container has an address of, as
/// Docker's `-p 8080:80` (`0.0.0.0` and `::`, on one host port); `0.0.0.0`
/// or `::` on every address of that family only. `host_port: None` asks
/// for a free port from the host's ephemeral range, chosen when the
/// mapping is published; `host_port_end: Some(end)` (with `host_port:
/// Some(start)`) for a free one from `start..=end`, as Docker's
/// `-p 8000-8010:80`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_ip: Option<IpAddr>,
    pub host_port: Option<u16>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_port_end: Option<u16>,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortRequest {
    /// The host ports this request may get, when it names any.
    pub fn host_range(&self) -> Option<(u16, u16)> {
        self.host_port
            .map(|start| (start, self.host_port_end.unwrap_or(start)))
    }
}

/// A mapping in force: every field decided. `host_ip` `0.0.0.0` is every
/// IPv4 address of the host, `::` every IPv6 one.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PortMapping {
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: Protocol,
}

impl PortMapping {
    /// The host side as `docker port` shows it: `0.0.0.0:8080`, `[::]:8080`.
    pub fn host(&self) -> String {
        SocketAddr::new(self.host_ip, self.host_port).to_string()
    }

    /// Whether this mapping comes right after a run of `count` mappings
    /// starting at `first`: same address and protocol, host and container
    /// port both `count` up.
    pub fn continues_run(&self, first: &PortMapping, count: u16) -> bool {
        self.host_ip == first.host_ip
            && self.protocol == first.protocol
            && count < u16::MAX
            && u32::from(self.host_port) == u32::from(first.host_port) + u32::from(count)
            && u32::from(self.container_port) == u32::from(first.container_port) + u32::from(count)
    }
}

impl fmt::Display for PortMapping {
    /// The line `docker port` prints: `80/tcp -> 0.0.0.0:8080`,
    /// `80/tcp -> [::]:8080`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}/{} -> {}",
            self.container_port,
            self.protocol,
            self.host()
        )
    }
}

/// `0.0.0.0` or `::`: every address of the family.
pub fn every_address(ipv6: bool) -> IpAddr {
    if ipv6 {
        IpAddr::V6(Ipv6Addr::UNSPECIFIED)
    } else {
        IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_matches_docker_port() {
        let mut m = PortMapping {
            host_ip: every_address(false),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        assert_eq!(m.to_string(), "80/tcp -> 0.0.0.0:8080");
        m.host_ip = every_address(true);
        assert_eq!(m.to_string(), "80/tcp -> [::]:8080");
        m.host_ip = "2001:db8::1".parse().expect("ip");
        assert_eq!(m.host(), "[2001:db8::1]:8080");
    }
}
