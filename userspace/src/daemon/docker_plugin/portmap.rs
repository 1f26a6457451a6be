//! Docker's port bindings (`com.docker.network.portmap`) to ebpfnet's
//! published ports and back.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use super::api::PortBinding;
use crate::portspec::{PortMapping, PortRequest, Protocol};

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

fn protocol(number: u8) -> Result<Protocol, String> {
    match number {
        IPPROTO_TCP => Ok(Protocol::Tcp),
        IPPROTO_UDP => Ok(Protocol::Udp),
        other => Err(format!(
            "cannot publish IP protocol {other} (ebpfnet publishes tcp and udp ports only)"
        )),
    }
}

fn protocol_number(protocol: Protocol) -> u8 {
    match protocol {
        Protocol::Tcp => IPPROTO_TCP,
        Protocol::Udp => IPPROTO_UDP,
    }
}

/// What to publish for one binding: the first of these requests that is
/// free (one unless Docker asked for a host port range). No `HostIP`
/// publishes on each family the container has an address of, as Docker's
/// own driver; `0.0.0.0` or `::` on that family only.
pub fn plan(binding: &PortBinding) -> Result<Vec<PortRequest>, String> {
    let protocol = protocol(binding.proto)?;
    if binding.port == 0 {
        return Err("a port binding without a container port".into());
    }
    let host_ip = match binding.host_ip.as_str() {
        "" => None,
        text => Some(
            text.parse::<IpAddr>()
                .map_err(|e| format!("bad HostIP {text:?}: {e}"))?,
        ),
    };
    let request = |host_port, host_port_end| PortRequest {
        host_ip,
        host_port,
        host_port_end,
        container_port: binding.port,
        protocol,
    };
    // `-p 8000-8010:80` is one binding: a free port of the range, as
    // Docker's own proxy picks.
    let requests = match (binding.host_port, binding.host_port_end) {
        (0, _) => vec![request(None, None)],
        (start, end) if end > start => vec![request(Some(start), Some(end))],
        (start, _) => vec![request(Some(start), None)],
    };
    Ok(requests)
}

/// The binding `docker port` would show for a mapping in force: `IP` is
/// the container's address of the mapping's family (empty when unknown).
pub fn binding(mapping: &PortMapping, ip: Ipv4Addr, ip6: Option<Ipv6Addr>) -> PortBinding {
    let ip = match mapping.host_ip {
        IpAddr::V4(_) => ip.to_string(),
        IpAddr::V6(_) => ip6.map(|ip| ip.to_string()).unwrap_or_default(),
    };
    PortBinding {
        proto: protocol_number(mapping.protocol),
        ip,
        port: mapping.container_port,
        host_ip: mapping.host_ip.to_string(),
        host_port: mapping.host_port,
        host_port_end: mapping.host_port,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked(proto: u8, host_ip: &str, port: u16, host_port: u16, end: u16) -> PortBinding {
        PortBinding {
            proto,
            ip: String::new(),
            port,
            host_ip: host_ip.into(),
            host_port,
            host_port_end: end,
        }
    }

    fn requests(plan: Result<Vec<PortRequest>, String>) -> Vec<PortRequest> {
        plan.expect("plan")
    }

    #[test]
    fn docker_bindings_become_requests() {
        let one = requests(plan(&asked(6, "", 80, 8080, 8080)));
        assert_eq!(
            one,
            [PortRequest {
                host_ip: None,
                host_port: Some(8080),
                host_port_end: None,
                container_port: 80,
                protocol: Protocol::Tcp,
            }]
        );
        let any = requests(plan(&asked(17, "127.0.0.1", 53, 0, 0)));
        assert_eq!(any[0].host_port, None);
        assert_eq!(any[0].host_ip, Some(Ipv4Addr::LOCALHOST.into()));
        let v6 = requests(plan(&asked(6, "::", 80, 8080, 8080)));
        assert_eq!(v6[0].host_ip, Some(Ipv6Addr::UNSPECIFIED.into()));
        assert_eq!(any[0].protocol, Protocol::Udp);
        // -p 8000-8002:80: one port, a free one of the range.
        let range = requests(plan(&asked(6, "0.0.0.0", 80, 8000, 8002)));
        let ports: Vec<_> = range
            .iter()
            .map(|r| (r.host_port, r.host_port_end))
            .collect();
        assert_eq!(ports, [(Some(8000), Some(8002))]);
    }

    #[test]
    fn what_cannot_be_published_is_said() {
        let sctp = plan(&asked(132, "", 80, 8080, 8080)).expect_err("sctp");
        assert!(sctp.contains("IP protocol 132"), "{sctp}");
        let bad = plan(&asked(6, "nowhere", 80, 8080, 8080)).expect_err("bad ip");
        assert!(bad.contains("bad HostIP \"nowhere\""), "{bad}");
        assert!(plan(&asked(6, "", 0, 8080, 8080)).is_err());
    }

    #[test]
    fn mappings_show_as_docker_bindings() {
        let mut mapping = PortMapping {
            host_ip: Ipv4Addr::UNSPECIFIED.into(),
            host_port: 8080,
            container_port: 80,
            protocol: Protocol::Tcp,
        };
        let ip6: Ipv6Addr = "fd00:9::2".parse().expect("ip");
        let shown = binding(&mapping, Ipv4Addr::new(10, 9, 0, 2), Some(ip6));
        let json = serde_json::to_value(&shown).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"Proto": 6, "IP": "10.9.0.2", "Port": 80,
                "HostIP": "0.0.0.0", "HostPort": 8080, "HostPortEnd": 8080})
        );
        mapping.host_ip = Ipv6Addr::UNSPECIFIED.into();
        let shown = binding(&mapping, Ipv4Addr::new(10, 9, 0, 2), Some(ip6));
        assert_eq!(
            (shown.ip.as_str(), shown.host_ip.as_str()),
            ("fd00:9::2", "::")
        );
    }
}
