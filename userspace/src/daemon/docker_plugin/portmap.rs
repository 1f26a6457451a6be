//! Docker's port bindings (`com.docker.network.portmap`) to ebpfnet's
//! published ports and back.

use std::net::{IpAddr, Ipv4Addr};

use super::api::PortBinding;
use crate::portspec::{PortMapping, PortRequest, Protocol};

const IPPROTO_TCP: u8 = 6;
const IPPROTO_UDP: u8 = 17;

/// What to publish for one binding.
#[derive(Debug, PartialEq, Eq)]
pub enum Plan {
    /// Publish the first of these that is free (one request unless Docker
    /// asked for a host port range).
    Publish(Vec<PortRequest>),
    /// An IPv6 host address: ebpfnet publishes on IPv4 only.
    SkipIpv6,
}

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

pub fn plan(binding: &PortBinding) -> Result<Plan, String> {
    let protocol = protocol(binding.proto)?;
    if binding.port == 0 {
        return Err("a port binding without a container port".into());
    }
    let host_ip = match binding.host_ip.as_str() {
        "" => Ipv4Addr::UNSPECIFIED,
        text => match text.parse::<IpAddr>() {
            Ok(IpAddr::V4(ip)) => ip,
            Ok(IpAddr::V6(_)) => return Ok(Plan::SkipIpv6),
            Err(e) => return Err(format!("bad HostIP {text:?}: {e}")),
        },
    };
    let request = |host_port| PortRequest {
        host_ip,
        host_port,
        container_port: binding.port,
        protocol,
    };
    let requests = match (binding.host_port, binding.host_port_end) {
        (0, _) => vec![request(None)],
        (start, end) if end > start => (start..=end).map(|p| request(Some(p))).collect(),
        (start, _) => vec![request(Some(start))],
    };
    Ok(Plan::Publish(requests))
}

/// The binding `docker port` would show for a mapping in force.
pub fn binding(mapping: &PortMapping, container_ip: Ipv4Addr) -> PortBinding {
    PortBinding {
        proto: protocol_number(mapping.protocol),
        ip: container_ip.to_string(),
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

    fn requests(plan: Plan) -> Vec<PortRequest> {
        match plan {
            Plan::Publish(requests) => requests,
            Plan::SkipIpv6 => panic!("skipped"),
        }
    }

    #[test]
    fn docker_bindings_become_requests() {
        let one = requests(plan(&asked(6, "", 80, 8080, 8080)).expect("plan"));
        assert_eq!(
            one,
            [PortRequest {
                host_ip: Ipv4Addr::UNSPECIFIED,
                host_port: Some(8080),
                container_port: 80,
                protocol: Protocol::Tcp,
            }]
        );
        let any = requests(plan(&asked(17, "127.0.0.1", 53, 0, 0)).expect("plan"));
        assert_eq!(any[0].host_port, None);
        assert_eq!(any[0].host_ip, Ipv4Addr::LOCALHOST);
        assert_eq!(any[0].protocol, Protocol::Udp);
        let range = requests(plan(&asked(6, "0.0.0.0", 80, 8000, 8002)).expect("plan"));
        let ports: Vec<_> = range.iter().map(|r| r.host_port).collect();
        assert_eq!(ports, [Some(8000), Some(8001), Some(8002)]);
    }

    #[test]
    fn what_cannot_be_published_is_said() {
        assert_eq!(plan(&asked(6, "::", 80, 8080, 8080)), Ok(Plan::SkipIpv6));
        let sctp = plan(&asked(132, "", 80, 8080, 8080)).expect_err("sctp");
        assert!(sctp.contains("IP protocol 132"), "{sctp}");
        let bad = plan(&asked(6, "nowhere", 80, 8080, 8080)).expect_err("bad ip");
        assert!(bad.contains("bad HostIP \"nowhere\""), "{bad}");
        assert!(plan(&asked(6, "", 0, 8080, 8080)).is_err());
    }

    #[test]
    fn mappings_show_as_docker_bindings() {
        let shown = binding(
            &PortMapping {
                host_ip: Ipv4Addr::UNSPECIFIED,
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp,
            },
            Ipv4Addr::new(10, 9, 0, 2),
        );
        let json = serde_json::to_value(&shown).expect("json");
        assert_eq!(
            json,
            serde_json::json!({"Proto": 6, "IP": "10.9.0.2", "Port": 80,
                "HostIP": "0.0.0.0", "HostPort": 8080, "HostPortEnd": 8080})
        );
    }
}
