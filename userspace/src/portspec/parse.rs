//! Docker's `-p` syntax: `[HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp]`,
//! an IPv6 `HOST_IP` in brackets (`[::1]:8080:80`), and `--expose
//! PORT[-END][/PROTO]`.

use std::{net::IpAddr, str::FromStr};

use thiserror::Error;

use super::{PortRequest, Protocol};

#[derive(Debug, Error, PartialEq, Eq)]
#[error("invalid port spec {spec:?}: {reason}")]
pub struct PortSpecError {
    pub spec: String,
    pub reason: String,
}

/// A parsed `-p` argument: one request per port of the range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PortSpec(pub Vec<PortRequest>);

impl FromStr for PortSpec {
    type Err = PortSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        parse(spec).map(PortSpec).map_err(|reason| PortSpecError {
            spec: spec.to_string(),
            reason,
        })
    }
}

/// `PORTS[/tcp|/udp]` into the ports and the protocol (TCP if none).
fn protocol_suffix(spec: &str) -> Result<(&str, Protocol), String> {
    match spec.rsplit_once('/') {
        Some((ports, "tcp")) => Ok((ports, Protocol::Tcp)),
        Some((ports, "udp")) => Ok((ports, Protocol::Udp)),
        Some((_, other)) => Err(format!("unknown protocol {other:?} (tcp or udp)")),
        None => Ok((spec, Protocol::Tcp)),
    }
}

fn parse(spec: &str) -> Result<Vec<PortRequest>, String> {
    let (ports, protocol) = protocol_suffix(spec)?;
    let (host_ip, host_ports, container_ports) = split(ports)?;
    let host_ip = match host_ip {
        None | Some("") => None,
        Some(ip) => Some(host_address(ip)?),
    };
    let (c_start, c_end) = port_range(container_ports, "container port")?;
    let count = c_end - c_start + 1;
    let request = |container_port, host_port, host_port_end| PortRequest {
        host_ip,
        host_port,
        host_port_end,
        container_port,
        protocol,
    };
    if host_ports.is_empty() {
        return Ok((c_start..=c_end).map(|c| request(c, None, None)).collect());
    }
    let (h_start, h_end) = port_range(host_ports, "host port")?;
    if count == 1 && h_end > h_start {
        // Docker's `-p 8000-8010:80`: one mapping, on a free port of the range.
        return Ok(vec![request(c_start, Some(h_start), Some(h_end))]);
    }
    if h_end - h_start + 1 != count {
        return Err(format!(
            "host range {host_ports} and container range {container_ports} differ in length"
        ));
    }
    Ok((c_start..=c_end)
        .zip(h_start..=h_end)
        .map(|(c, h)| request(c, Some(h), None))
        .collect())
}

/// `[HOST_IP:][HOST_PORTS:]CONTAINER_PORTS` into its three parts; an IPv6
/// `HOST_IP` is bracketed (`[::1]:8080:80`, `[::]::80`) and returned
/// without its brackets.
fn split(ports: &str) -> Result<(Option<&str>, &str, &str), String> {
    if let Some(rest) = ports.strip_prefix('[') {
        let (ip, rest) = rest
            .split_once(']')
            .ok_or("an IPv6 host address opened with '[' has no closing ']'")?;
        if !ip.contains(':') {
            return Err(format!("host IP {ip:?} in brackets is not an IPv6 address"));
        }
        let rest = rest.strip_prefix(':').ok_or_else(|| {
            format!("expected ':' after [{ip}] (as in [{ip}]:8080:80 or [{ip}]::80)")
        })?;
        return match rest.split(':').collect::<Vec<_>>().as_slice() {
            [host, container] => Ok((Some(ip), host, container)),
            _ => Err(format!(
                "expected HOST_PORT:CONTAINER_PORT after [{ip}]: (as in [{ip}]:8080:80)"
            )),
        };
    }
    match ports.split(':').collect::<Vec<_>>().as_slice() {
        [container] => Ok((None, "", container)),
        [host, container] => Ok((None, host, container)),
        [ip, host, container] => Ok((Some(ip), host, container)),
        _ => Err("too many ':' (an IPv6 host address goes in brackets: [::1]:8080:80)".into()),
    }
}

/// A host address a port can be published on: IPv4, or IPv6 in its plain
/// form (not IPv4-mapped, not link-local, not multicast).
fn host_address(text: &str) -> Result<IpAddr, String> {
    let ip: IpAddr = text.parse().map_err(|_| {
        if text.contains(':') {
            format!("host IP {text:?} is not an IPv6 address")
        } else {
            format!("host IP {text:?} is not an IPv4 address (or an IPv6 one in brackets)")
        }
    })?;
    if let IpAddr::V6(v6) = ip {
        if let Some(v4) = v6.to_ipv4_mapped() {
            return Err(format!(
                "host IP {text:?} is an IPv4-mapped address: publish on {v4} instead"
            ));
        }
        if v6.is_unicast_link_local() || v6.is_multicast() {
            return Err(format!(
                "host IP {text:?} is link-local or multicast: a port is published on a \
                 global, unique-local or loopback address"
            ));
        }
    }
    Ok(ip)
}

/// Docker's `--expose PORT[-END][/PROTO]`: the container ports it names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExposeSpec(pub Vec<(u16, Protocol)>);

impl FromStr for ExposeSpec {
    type Err = PortSpecError;

    fn from_str(spec: &str) -> Result<Self, Self::Err> {
        let error = |reason: String| PortSpecError {
            spec: spec.to_string(),
            reason,
        };
        let (ports, protocol) = protocol_suffix(spec).map_err(error)?;
        let (start, end) = port_range(ports, "port").map_err(error)?;
        Ok(ExposeSpec((start..=end).map(|p| (p, protocol)).collect()))
    }
}

fn port_range(text: &str, what: &str) -> Result<(u16, u16), String> {
    let (start, end) = match text.split_once('-') {
        Some((start, end)) => (port(start, what)?, port(end, what)?),
        None => {
            let p = port(text, what)?;
            (p, p)
        }
    };
    if end < start {
        return Err(format!("{what} range {text} ends before it starts"));
    }
    Ok((start, end))
}

fn port(text: &str, what: &str) -> Result<u16, String> {
    match text.parse::<u16>() {
        Ok(0) | Err(_) => Err(format!("{what} {text:?} is not a number from 1 to 65535")),
        Ok(p) => Ok(p),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(spec: &str) -> PortRequest {
        let PortSpec(requests) = spec.parse().expect(spec);
        assert_eq!(requests.len(), 1, "{spec}");
        requests[0]
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().expect(text))
    }

    #[test]
    fn docker_forms() {
        let r = one("8080:80");
        assert_eq!(
            (r.host_ip, r.host_port, r.container_port),
            (None, Some(8080), 80)
        );
        assert_eq!(r.protocol, Protocol::Tcp);
        assert_eq!(one("8080:80/udp").protocol, Protocol::Udp);
        let r = one("127.0.0.1:8081:80");
        assert_eq!((r.host_ip, r.host_port), (ip("127.0.0.1"), Some(8081)));
        let r = one("10.0.0.5::80");
        assert_eq!((r.host_ip, r.host_port), (ip("10.0.0.5"), None));
        assert_eq!(one("0.0.0.0:8080:80").host_ip, ip("0.0.0.0"));
        assert_eq!(one(":8080:80").host_ip, None);
        assert_eq!(one("80").host_port, None);
    }

    #[test]
    fn ipv6_host_addresses_go_in_brackets() {
        let r = one("[::]:8080:80");
        assert_eq!((r.host_ip, r.host_port), (ip("::"), Some(8080)));
        let r = one("[::1]:8080:80/udp");
        assert_eq!(
            (r.host_ip, r.host_port, r.protocol),
            (ip("::1"), Some(8080), Protocol::Udp)
        );
        let r = one("[2001:db8::1]:8080:80");
        assert_eq!((r.host_ip, r.container_port), (ip("2001:db8::1"), 80));
        let r = one("[fd00::5]::80");
        assert_eq!((r.host_ip, r.host_port), (ip("fd00::5"), None));
        let r = one("[::1]:8000-8010:80");
        assert_eq!(r.host_range(), Some((8000, 8010)));
        let PortSpec(r) = "[::]:8000-8001:80-81".parse().expect("range");
        assert_eq!(r.len(), 2);
        assert!(r.iter().all(|r| r.host_ip == ip("::")));
    }

    #[test]
    fn a_host_range_for_one_port_is_a_choice() {
        let r = one("8000-8010:80/udp");
        assert_eq!(
            (r.host_port, r.host_port_end, r.container_port, r.protocol),
            (Some(8000), Some(8010), 80, Protocol::Udp)
        );
        assert_eq!(r.host_range(), Some((8000, 8010)));
        assert_eq!(one("8000:80").host_range(), Some((8000, 8000)));
        assert_eq!(one("80").host_range(), None);
    }

    #[test]
    fn expose_forms() {
        let ExposeSpec(p) = "80".parse().expect("80");
        assert_eq!(p, [(80, Protocol::Tcp)]);
        let ExposeSpec(p) = "8000-8002/udp".parse().expect("range");
        assert_eq!(
            p,
            [
                (8000, Protocol::Udp),
                (8001, Protocol::Udp),
                (8002, Protocol::Udp)
            ]
        );
        for bad in ["", "0", "80/sctp", "90-80", "1:2"] {
            let err = bad.parse::<ExposeSpec>().expect_err(bad).to_string();
            assert!(err.contains(&format!("{bad:?}")), "{err}");
        }
    }

    #[test]
    fn ranges_map_one_to_one() {
        let PortSpec(r) = "8000-8002:80-82".parse().expect("range");
        let pairs: Vec<_> = r.iter().map(|r| (r.host_port, r.container_port)).collect();
        assert_eq!(
            pairs,
            [(Some(8000), 80), (Some(8001), 81), (Some(8002), 82)]
        );
    }

    #[test]
    fn bad_specs_name_the_problem() {
        for (spec, needle) in [
            ("", "container port"),
            ("0:80", "host port \"0\""),
            ("8080:70000", "container port"),
            ("8080:80/sctp", "unknown protocol"),
            ("1.2.3:80:80", "not an IPv4"),
            ("8000-8001:80-82", "differ in length"),
            ("90-80", "ends before"),
            ("a:b:c:d", "too many"),
            ("::1:8080:80", "in brackets"),
            ("[::1:8080:80", "no closing ']'"),
            ("[::1]8080:80", "expected ':' after [::1]"),
            ("[::1]:80", "HOST_PORT:CONTAINER_PORT"),
            ("[::1]:1:2:3", "HOST_PORT:CONTAINER_PORT"),
            ("[::g]:8080:80", "not an IPv6 address"),
            ("[1.2.3.4]:8080:80", "in brackets is not an IPv6"),
            ("[::ffff:1.2.3.4]:8080:80", "publish on 1.2.3.4"),
            ("[fe80::1]:8080:80", "link-local"),
            ("[ff02::1]:8080:80", "multicast"),
            ("[::1]:0:80", "host port \"0\""),
        ] {
            let err = spec.parse::<PortSpec>().expect_err(spec).to_string();
            assert!(err.contains(needle), "{spec}: {err}");
            assert!(err.contains(&format!("{spec:?}")), "{err}");
        }
    }
}
