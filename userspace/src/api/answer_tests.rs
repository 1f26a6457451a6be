//! Every answer survives the daemon's encoding and the CLI's decoding,
//! field for field.

use std::{collections::BTreeMap, fmt::Debug, net::Ipv4Addr};

use super::{
    observe::{
        Attachment, EntryView, FlowView, InterfaceCounters, MapFill, ProgramCounters, StatsView,
        StatusView, samples,
    },
    tests::{every_request, mapping},
    views::*,
    *,
};

/// Encodes `answer` as the daemon does and decodes it as the CLI does.
fn assert_answer_round_trips<C: Call>(_request: &C, answer: C::Answer)
where
    C::Answer: PartialEq + Debug,
{
    let line = ResponseEnvelope::new(Outcome::Ok(serde_json::to_value(&answer).expect("value")))
        .encode()
        .expect("encodes");
    let decoded = ResponseEnvelope::<C::Answer>::decode(&line).expect(&line);
    assert_eq!(decoded, answer, "{line}");
}

#[test]
fn every_answer_survives_the_wire() {
    let batch = BatchResult {
        done: vec!["a".into()],
        errors: vec!["no such container b".into()],
    };
    for request in every_request() {
        // Exhaustive: a new request needs its answer tested here.
        match &request {
            Request::NetworkCreate(r) => assert_answer_round_trips(r, "3f9c".into()),
            Request::NetworkList(r) => assert_answer_round_trips(r, vec![network_summary()]),
            Request::NetworkRemove(r) => assert_answer_round_trips(r, batch.clone()),
            Request::NetworkInspect(r) => assert_answer_round_trips(r, vec![network_view()]),
            Request::NetworkConnect(r) => assert_answer_round_trips(r, ()),
            Request::NetworkDisconnect(r) => assert_answer_round_trips(r, ()),
            Request::ContainerCreate(r) => assert_answer_round_trips(r, "0123".into()),
            Request::ContainerList(r) => assert_answer_round_trips(r, vec![container_summary()]),
            Request::ContainerRemove(r) => assert_answer_round_trips(r, batch.clone()),
            Request::ContainerInspect(r) => assert_answer_round_trips(r, vec![container_view()]),
            Request::Publish(r) => assert_answer_round_trips(r, vec![mapping()]),
            Request::Unpublish(r) => assert_answer_round_trips(r, vec![mapping()]),
            Request::Port(r) => assert_answer_round_trips(r, vec![mapping(), mapping()]),
            Request::Flows(r) => assert_answer_round_trips(r, vec![flow()]),
            Request::Stats(r) => assert_answer_round_trips(r, stats()),
            Request::Status(r) => assert_answer_round_trips(r, status()),
            Request::Reset(r) => assert_answer_round_trips(r, batch.clone()),
            Request::NetworkPrune(r) => assert_answer_round_trips(r, batch.clone()),
        }
    }
}

fn network_summary() -> NetworkSummary {
    NetworkSummary {
        enable_ipv6: false,
        id: "9f2c".into(),
        name: "front".into(),
        driver: DRIVER_BRIDGE.into(),
        scope: SCOPE_LOCAL.into(),
        internal: false,
        created: "2026-01-02T03:04:05Z".into(),
        subnet: Some("10.1.0.0/24".parse().expect("cidr")),
        gateway: Some(Ipv4Addr::new(10, 1, 0, 1)),
        bridge: Some("ebn-front".into()),
        labels: Default::default(),
    }
}

fn network_view() -> NetworkView {
    NetworkView {
        name: "front".into(),
        id: "9f2c".into(),
        created: "2026-01-02T03:04:05Z".into(),
        scope: SCOPE_LOCAL.into(),
        driver: DRIVER_BRIDGE.into(),
        enable_ipv6: false,
        enable_ipv4: true,
        internal: true,
        ipam: Ipam {
            driver: "default".into(),
            options: BTreeMap::new(),
            config: vec![IpamConfig {
                subnet: "10.1.0.0/24".parse().expect("cidr"),
                gateway: Ipv4Addr::new(10, 1, 0, 1).into(),
            }],
        },
        containers: BTreeMap::from([(
            "0123".into(),
            NetworkMember {
                name: "web".into(),
                endpoint_id: "e1".into(),
                mac_address: "02:42:0a:01:00:02".into(),
                ipv4_address: "10.1.0.2/24".into(),
                ipv6_address: String::new(),
            },
        )]),
        options: BTreeMap::from([("com.docker.network.bridge.name".into(), "ebn-front".into())]),
        labels: BTreeMap::new(),
    }
}

fn container_summary() -> ContainerSummary {
    ContainerSummary {
        id: "0123".into(),
        short_id: "0123".into(),
        name: "web".into(),
        networks: BTreeMap::from([("front".into(), "10.1.0.2".into())]),
        ports: vec![super::tests::mapping()],
        created: "2026-01-02T03:04:06Z".into(),
        labels: [("tier".to_string(), "front".to_string())].into(),
    }
}

fn container_view() -> ContainerView {
    let endpoint = EndpointSettings {
        network_id: "9f2c".into(),
        endpoint_id: "e1".into(),
        gateway: "10.1.0.1".into(),
        ip_address: "10.1.0.2".into(),
        ip_prefix_len: 24,
        ipv6_gateway: "fd00:eb::1".into(),
        global_ipv6_address: "fd00:eb::2".into(),
        global_ipv6_prefix_len: 64,
        mac_address: "02:42:0a:01:00:02".into(),
        interface_name: Some("eth0".into()),
        host_interface: Some("ebn-veth1".into()),
        aliases: vec!["www".into()],
    };
    ContainerView {
        id: "0123".into(),
        name: "web".into(),
        created: "2026-01-02T03:04:06Z".into(),
        config: ContainerConfig {
            hostname: "web".into(),
            labels: [("tier".to_string(), "front".to_string())].into(),
        },
        host_config: HostConfig {
            network_mode: "front".into(),
            dns: vec![Ipv4Addr::new(1, 1, 1, 1)],
            extra_hosts: vec!["gw:10.0.0.1".into()],
            links: vec!["db:database".into()],
        },
        hosts_path: "/etc/netns/web/hosts".into(),
        resolv_conf_path: "/etc/netns/web/resolv.conf".into(),
        network_settings: NetworkSettings {
            sandbox_key: "/proc/42/ns/net".into(),
            adopted: Some(AdoptedNamespace {
                path: "/proc/42/ns/net".into(),
                pid: Some(42),
            }),
            ports: BTreeMap::from([(
                "80/tcp".into(),
                vec![PortBinding {
                    host_ip: Ipv4Addr::UNSPECIFIED.into(),
                    host_port: "8080".into(),
                }],
            )]),
            networks: BTreeMap::from([("front".into(), endpoint)]),
        },
    }
}

fn flow() -> FlowView {
    let entry = EntryView {
        table: "NAT_TCP".into(),
        src_ip: Ipv4Addr::new(203, 0, 113, 2).into(),
        src_port: 40000,
        dst_ip: Ipv4Addr::new(203, 0, 113, 1).into(),
        dst_port: 8080,
        protocol: 6,
        new_src_ip: Ipv4Addr::new(203, 0, 113, 2).into(),
        new_src_port: 40000,
        new_dst_ip: Ipv4Addr::new(10, 1, 0, 2).into(),
        new_dst_port: 80,
        kind: "published".into(),
        forward: 1,
        ifindex: 7,
        tcp_flags: 3,
        dst_mac: "02:42:0a:01:00:02".into(),
        src_mac: "00:00:00:00:00:00".into(),
        nexthop_generation: 0,
        created_ns: u64::MAX,
        last_seen_ns: 1 << 60,
        packets: 10,
        bytes: 1000,
    };
    samples::published_flow("10.1.0.2", vec![entry])
}

fn stats() -> StatsView {
    StatsView {
        programs: vec![samples::uplink_program()],
        mappings: vec![samples::web_mapping(2, 120, 1)],
        drops: vec![samples::drop_count("isolation", 4)],
    }
}

fn status() -> StatusView {
    StatusView {
        programs: vec![Attachment {
            program: "uplink_ingress".into(),
            interface: "eth0".into(),
            ifindex: 2,
        }],
        maps: vec![MapFill {
            name: "PUBLISHED".into(),
            entries: 1,
            max_entries: 65536,
        }],
        counters: vec![ProgramCounters {
            program: "uplink_ingress".into(),
            packets: 3,
            bytes: 180,
        }],
        interfaces: vec![InterfaceCounters {
            ifindex: 7,
            packets: 1,
            bytes: 60,
        }],
        ..samples::status(2, 1)
    }
}
