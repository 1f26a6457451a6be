//! Golden tests: the Docker-shaped JSON of `inspect` and `ls` for a fixed
//! state, key for key as the CLI has always printed it.

use std::net::Ipv4Addr;

use serde_json::json;

use super::*;
use crate::{
    netconf::{HostEntry, LinkSpec},
    portspec::{PortMapping, Protocol},
    state::{Container, Endpoint, NetMode, Network, State},
    testing::fixtures,
};

const NETWORK_ID: &str = "9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a";
const WEB_ID: &str = "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef";
const BOX_ID: &str = "fedcba987654fedcba987654fedcba987654fedcba987654fedcba9876543210";
const ADOPTED_ID: &str = "aaaabbbbccccaaaabbbbccccaaaabbbbccccaaaabbbbccccaaaabbbbccccdddd";

fn front() -> Network {
    Network {
        id: NETWORK_ID.into(),
        name: "front".into(),
        subnet: Some("10.231.0.0/24".parse().expect("cidr")),
        gateway: Some(Ipv4Addr::new(10, 231, 0, 1)),
        internal: true,
        bridge: "ebn-front".into(),
        created: "2026-01-02T03:04:05Z".into(),
        number: 2,
        lan: None,
        owner: None,
        ipv6: Some(crate::state::Ipv6Config {
            subnet: "fd00:eb:0:1::/64".parse().expect("cidr"),
            gateway: "fd00:eb:0:1::1".parse().expect("ip"),
        }),
        overlay: None,
        routed6: false,
    }
}

fn web() -> Container {
    Container {
        id: WEB_ID.into(),
        name: "web".into(),
        created: "2026-01-02T03:04:06Z".into(),
        endpoints: vec![Endpoint {
            id: "e1e1e1e1".into(),
            network: "front".into(),
            ip: Some(Ipv4Addr::new(10, 231, 0, 2)),
            ip6: "fd00:eb:0:1::2".parse().ok(),
            mac: [0x02, 0x42, 10, 231, 0, 2],
            ifname: "eth0".into(),
            host_veth: "ebn-veth1".into(),
            aliases: vec!["www".into()],
        }],
        ports: vec![
            PortMapping {
                host_ip: Ipv4Addr::UNSPECIFIED.into(),
                host_port: 8080,
                container_port: 80,
                protocol: Protocol::Tcp,
            },
            PortMapping {
                host_ip: Ipv4Addr::LOCALHOST.into(),
                host_port: 5353,
                container_port: 53,
                protocol: Protocol::Udp,
            },
        ],
        mode: NetMode::Owned,
        hostname: Some("webhost".into()),
        extra_hosts: vec![HostEntry {
            name: "db".into(),
            ip: "10.0.0.5".parse().expect("ip"),
        }],
        dns: vec![Ipv4Addr::new(1, 1, 1, 1)],
        links: vec![
            LinkSpec {
                container: "cache".into(),
                alias: Some("redis".into()),
            },
            LinkSpec {
                container: "queue".into(),
                alias: None,
            },
        ],
        labels: [("tier".to_string(), "front".to_string())].into(),
    }
}

fn none_mode() -> Container {
    Container {
        created: "2026-01-02T03:04:07Z".into(),
        mode: NetMode::None,
        ..fixtures::container("box", BOX_ID)
    }
}

fn adopted() -> Container {
    Container {
        id: ADOPTED_ID.into(),
        name: "sandbox".into(),
        created: "2026-01-02T03:04:08Z".into(),
        mode: NetMode::Adopted {
            path: "/proc/4242/ns/net".into(),
            pid: Some(4242),
            dev: 4,
            ino: 4026532000,
        },
        ..none_mode()
    }
}

fn state() -> State {
    let mut state = State::default();
    state.networks.insert("front".into(), front());
    for c in [web(), none_mode(), adopted()] {
        state.containers.insert(c.name.clone(), c);
    }
    state
}

/// `view` serializes to exactly `golden` (keys, types and values) and
/// reads back from it unchanged, as the CLI reads it.
fn assert_golden<V>(view: &V, golden: serde_json::Value)
where
    V: serde::Serialize + serde::de::DeserializeOwned + PartialEq + std::fmt::Debug,
{
    let value = serde_json::to_value(view).expect("views serialize");
    assert_eq!(
        value,
        golden,
        "{}",
        serde_json::to_string_pretty(&value).unwrap_or_default()
    );
    let read: V = serde_json::from_value(golden).expect("golden reads back");
    assert_eq!(&read, view);
}

/// A member per container on the network, keyed by container id.
#[test]
fn network_inspect_is_docker_shaped() {
    let state = state();
    assert_golden(
        &network_inspect(&state, &state.networks["front"]),
        json!({
            "Containers": {
                "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef": {
                    "EndpointID": "e1e1e1e1",
                    "IPv4Address": "10.231.0.2/24",
                    "IPv6Address": "fd00:eb:0:1::2/64",
                    "MacAddress": "02:42:0a:e7:00:02",
                    "Name": "web"
                }
            },
            "Created": "2026-01-02T03:04:05Z",
            "Driver": "bridge",
            "EnableIPv4": true,
            "EnableIPv6": true,
            "IPAM": {
                "Config": [
                    {
                        "Gateway": "10.231.0.1",
                        "Subnet": "10.231.0.0/24"
                    },
                    {
                        "Gateway": "fd00:eb:0:1::1",
                        "Subnet": "fd00:eb:0:1::/64"
                    }
                ],
                "Driver": "default",
                "Options": {}
            },
            "Id": "9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a",
            "Internal": true,
            "Labels": {},
            "Name": "front",
            "Options": {
                "com.docker.network.bridge.name": "ebn-front"
            },
            "Scope": "local"
        }),
    );
}

#[test]
fn network_ls_row_keys() {
    let state = state();
    assert_golden(
        &network_summary(&state.networks["front"]),
        json!({
            "Bridge": "ebn-front",
            "Created": "2026-01-02T03:04:05Z",
            "Driver": "bridge",
            "EnableIPv6": true,
            "Gateway": "10.231.0.1",
            "Id": "9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a",
            "Internal": true,
            "Name": "front",
            "Scope": "local",
            "Subnet": "10.231.0.0/24"
        }),
    );
}

/// Endpoints, port bindings and /etc files of an ordinary container.
#[test]
fn container_inspect_of_an_owned_namespace() {
    let state = state();
    assert_golden(
        &container_inspect(&state, &state.containers["web"]),
        json!({
            "Config": {
                "Hostname": "webhost",
                "Labels": {"tier": "front"}
            },
            "Created": "2026-01-02T03:04:06Z",
            "HostConfig": {
                "Dns": [
                    "1.1.1.1"
                ],
                "ExtraHosts": [
                    "db:10.0.0.5"
                ],
                "Links": [
                    "cache:redis",
                    "queue"
                ],
                "NetworkMode": "front"
            },
            "HostsPath": "/etc/netns/web/hosts",
            "Id": "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef",
            "Name": "web",
            "NetworkSettings": {
                "Adopted": null,
                "Networks": {
                    "front": {
                        "Aliases": [
                            "www"
                        ],
                        "EndpointID": "e1e1e1e1",
                        "Gateway": "10.231.0.1",
                        "GlobalIPv6Address": "fd00:eb:0:1::2",
                        "GlobalIPv6PrefixLen": 64,
                        "HostInterface": "ebn-veth1",
                        "IPAddress": "10.231.0.2",
                        "IPPrefixLen": 24,
                        "IPv6Gateway": "fd00:eb:0:1::1",
                        "InterfaceName": "eth0",
                        "MacAddress": "02:42:0a:e7:00:02",
                        "NetworkID": "9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a9f2c1a7e4b3d2c1a"
                    }
                },
                "Ports": {
                    "53/udp": [
                        {
                            "HostIp": "127.0.0.1",
                            "HostPort": "5353"
                        }
                    ],
                    "80/tcp": [
                        {
                            "HostIp": "0.0.0.0",
                            "HostPort": "8080"
                        }
                    ]
                },
                "SandboxKey": "/run/netns/web"
            },
            "ResolvConfPath": "/etc/netns/web/resolv.conf"
        }),
    );
}

/// Docker shows mode none as a network without interface names.
#[test]
fn container_inspect_of_mode_none_shows_the_mode_as_its_network() {
    let state = state();
    assert_golden(
        &container_inspect(&state, &state.containers["box"]),
        json!({
            "Config": {
                "Hostname": "fedcba987654",
                "Labels": {}
            },
            "Created": "2026-01-02T03:04:07Z",
            "HostConfig": {
                "Dns": [],
                "ExtraHosts": [],
                "Links": [],
                "NetworkMode": "none"
            },
            "HostsPath": "/etc/netns/box/hosts",
            "Id": "fedcba987654fedcba987654fedcba987654fedcba987654fedcba9876543210",
            "Name": "box",
            "NetworkSettings": {
                "Adopted": null,
                "Networks": {
                    "none": {
                        "Aliases": [],
                        "EndpointID": "",
                        "Gateway": "",
                        "GlobalIPv6Address": "",
                        "GlobalIPv6PrefixLen": 0,
                        "IPAddress": "",
                        "IPPrefixLen": 0,
                        "IPv6Gateway": "",
                        "MacAddress": "",
                        "NetworkID": ""
                    }
                },
                "Ports": {},
                "SandboxKey": "/run/netns/box"
            },
            "ResolvConfPath": "/etc/netns/box/resolv.conf"
        }),
    );
}

#[test]
fn container_inspect_of_an_adopted_namespace() {
    let state = state();
    assert_golden(
        &container_inspect(&state, &state.containers["sandbox"]),
        json!({
            "Config": {
                "Hostname": "aaaabbbbcccc",
                "Labels": {}
            },
            "Created": "2026-01-02T03:04:08Z",
            "HostConfig": {
                "Dns": [],
                "ExtraHosts": [],
                "Links": [],
                "NetworkMode": "bridge"
            },
            "HostsPath": "/etc/netns/sandbox/hosts",
            "Id": "aaaabbbbccccaaaabbbbccccaaaabbbbccccaaaabbbbccccaaaabbbbccccdddd",
            "Name": "sandbox",
            "NetworkSettings": {
                "Adopted": {
                    "Path": "/proc/4242/ns/net",
                    "Pid": 4242
                },
                "Networks": {},
                "Ports": {},
                "SandboxKey": "/proc/4242/ns/net"
            },
            "ResolvConfPath": "/etc/netns/sandbox/resolv.conf"
        }),
    );
}

#[test]
fn container_ls_rows() {
    let state = state();
    let (web, none) = (
        container_summary(&state.containers["web"]),
        container_summary(&state.containers["box"]),
    );
    assert_golden(
        &web,
        json!({
            "Created": "2026-01-02T03:04:06Z",
            "Id": "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef",
            "Labels": {"tier": "front"},
            "Name": "web",
            "Networks": {
                "front": "10.231.0.2"
            },
            "Ports": [
                {"container_port": 80, "host_ip": "0.0.0.0", "host_port": 8080, "protocol": "tcp"},
                {"container_port": 53, "host_ip": "127.0.0.1", "host_port": 5353, "protocol": "udp"}
            ],
            "ShortId": "0123456789ab"
        }),
    );
    assert_golden(
        &none,
        json!({
            "Created": "2026-01-02T03:04:07Z",
            "Id": "fedcba987654fedcba987654fedcba987654fedcba987654fedcba9876543210",
            "Labels": {},
            "Name": "box",
            "Networks": {
                "none": ""
            },
            "Ports": [],
            "ShortId": "fedcba987654"
        }),
    );
}
