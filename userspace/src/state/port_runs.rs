//! A container's published ports in the state file as runs: consecutive
//! mappings (host and container port both one up, same address and
//! protocol) are one entry with a `count`, so every port of an address is a
//! few lines, not 65,535, and saving the state after one more port stays
//! cheap. A run without `count` is one mapping: state files written before
//! runs load as they are.

use std::net::IpAddr;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de::Error as _};

use crate::portspec::{PortMapping, Protocol};

#[derive(Serialize, Deserialize)]
struct Run {
    host_ip: IpAddr,
    host_port: u16,
    container_port: u16,
    protocol: Protocol,
    #[serde(default = "one", skip_serializing_if = "is_one")]
    count: u16,
}

fn one() -> u16 {
    1
}

fn is_one(count: &u16) -> bool {
    *count == 1
}

impl Run {
    fn start(m: &PortMapping) -> Self {
        Run {
            host_ip: m.host_ip,
            host_port: m.host_port,
            container_port: m.container_port,
            protocol: m.protocol,
            count: 1,
        }
    }

    fn first(&self) -> PortMapping {
        PortMapping {
            host_ip: self.host_ip,
            host_port: self.host_port,
            container_port: self.container_port,
            protocol: self.protocol,
        }
    }
}

fn runs(mappings: &[PortMapping]) -> Vec<Run> {
    let mut runs: Vec<Run> = Vec::new();
    for m in mappings {
        match runs.last_mut() {
            Some(run) if m.continues_run(&run.first(), run.count) => run.count += 1,
            _ => runs.push(Run::start(m)),
        }
    }
    runs
}

pub fn serialize<S: Serializer>(
    mappings: &[PortMapping],
    serializer: S,
) -> Result<S::Ok, S::Error> {
    runs(mappings).serialize(serializer)
}

pub fn deserialize<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<PortMapping>, D::Error> {
    let runs = Vec::<Run>::deserialize(deserializer)?;
    let mut mappings = Vec::new();
    for run in runs {
        let last_host = u32::from(run.host_port) + u32::from(run.count);
        let last_container = u32::from(run.container_port) + u32::from(run.count);
        if run.count == 0 || last_host > 65_536 || last_container > 65_536 {
            return Err(D::Error::custom(format!(
                "published ports from {}:{} count {}: not a run of ports",
                run.host_ip, run.host_port, run.count
            )));
        }
        mappings.extend((0..run.count).map(|i| PortMapping {
            host_ip: run.host_ip,
            host_port: run.host_port + i,
            container_port: run.container_port + i,
            protocol: run.protocol,
        }));
    }
    Ok(mappings)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[derive(Serialize, Deserialize, PartialEq, Debug)]
    struct Holder {
        #[serde(with = "super")]
        ports: Vec<PortMapping>,
    }

    fn mapping(host_port: u16, container_port: u16, protocol: Protocol) -> PortMapping {
        PortMapping {
            host_ip: crate::portspec::every_address(false),
            host_port,
            container_port,
            protocol,
        }
    }

    #[test]
    fn consecutive_mappings_are_one_run_and_come_back_the_same() {
        let mut ports: Vec<PortMapping> =
            (1..=65_535).map(|p| mapping(p, p, Protocol::Udp)).collect();
        ports.push(mapping(8080, 80, Protocol::Tcp));
        ports.push(mapping(8081, 80, Protocol::Tcp));
        let holder = Holder { ports };
        let text = serde_json::to_value(&holder).expect("serializes");
        assert_eq!(
            text,
            json!({"ports": [
                {"host_ip": "0.0.0.0", "host_port": 1, "container_port": 1, "protocol": "udp",
                 "count": 65535},
                {"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
                {"host_ip": "0.0.0.0", "host_port": 8081, "container_port": 80, "protocol": "tcp"},
            ]})
        );
        let back: Holder = serde_json::from_value(text).expect("loads");
        assert_eq!(back, holder);
    }

    #[test]
    fn ipv6_mappings_are_runs_of_their_own() {
        let v6 = |host_port, container_port| PortMapping {
            host_ip: "::".parse().expect("ip"),
            ..mapping(host_port, container_port, Protocol::Tcp)
        };
        // One port on both families: two runs, never one.
        let holder = Holder {
            ports: vec![mapping(8080, 80, Protocol::Tcp), v6(8080, 80), v6(8081, 81)],
        };
        let text = serde_json::to_value(&holder).expect("serializes");
        assert_eq!(
            text,
            json!({"ports": [
                {"host_ip": "0.0.0.0", "host_port": 8080, "container_port": 80, "protocol": "tcp"},
                {"host_ip": "::", "host_port": 8080, "container_port": 80, "protocol": "tcp",
                 "count": 2},
            ]})
        );
        let back: Holder = serde_json::from_value(text).expect("loads");
        assert_eq!(back, holder);
    }

    #[test]
    fn runs_past_the_last_port_are_refused() {
        for count in [0, 2] {
            let text = json!({"ports": [{"host_ip": "0.0.0.0", "host_port": 65535,
                "container_port": 80, "protocol": "tcp", "count": count}]});
            let err = serde_json::from_value::<Holder>(text).expect_err("refused");
            assert!(err.to_string().contains("not a run of ports"), "{err}");
        }
    }
}
