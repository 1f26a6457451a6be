use std::net::Ipv4Addr;

use super::*;
use crate::{
    portspec::Protocol,
    state::{Container, Endpoint, Network},
    testing::fixtures,
};

fn network(name: &str, id: &str) -> Network {
    Network {
        id: id.into(),
        bridge: format!("br-{name}"),
        ..fixtures::network(name, "10.9.0.0/16")
    }
}

fn endpoint(network: &str, last: u8) -> Endpoint {
    Endpoint {
        id: format!("ep-{network}-{last}"),
        mac: [2, 0x42, 10, 9, 0, last],
        host_veth: format!("veth{last}"),
        ..fixtures::endpoint(network, Ipv4Addr::new(10, 9, 0, last))
    }
}

fn port(host_port: u16) -> PortMapping {
    PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port,
        container_port: 80,
        protocol: Protocol::Tcp,
    }
}

fn container(name: &str, id: &str, endpoints: Vec<Endpoint>, ports: Vec<PortMapping>) -> Container {
    Container {
        endpoints,
        ports,
        ..fixtures::container(name, id)
    }
}

fn state(networks: Vec<Network>, containers: Vec<Container>) -> State {
    State {
        networks: networks.into_iter().map(|n| (n.name.clone(), n)).collect(),
        containers: containers
            .into_iter()
            .map(|c| (c.name.clone(), c))
            .collect(),
        ..State::default()
    }
}

/// Each change as `what name detail`, for readable assertions.
fn described(before: &State, after: &State) -> Vec<String> {
    changes(before, after)
        .into_iter()
        .map(|change| match change {
            Change::NetworkCreated(n) => format!("network created {}", n.name),
            Change::NetworkRemoved(n) => format!("network removed {}", n.name),
            Change::ContainerCreated(c) => format!("container created {}", c.name),
            Change::ContainerRemoved(c) => format!("container removed {}", c.name),
            Change::Connected(c, e) => format!("connected {} {}", c.name, e.network),
            Change::Disconnected(c, e) => format!("disconnected {} {}", c.name, e.network),
            Change::PortPublished(c, p) => format!("published {} {p}", c.name),
            Change::PortUnpublished(c, p) => format!("unpublished {} {p}", c.name),
        })
        .collect()
}

/// Network web (n1) and container a (c1) on it, publishing 8080.
fn a_on_web() -> State {
    state(
        vec![network("web", "n1")],
        vec![container(
            "a",
            "c1",
            vec![endpoint("web", 2)],
            vec![port(8080)],
        )],
    )
}

#[test]
fn no_change_no_event() {
    let s = a_on_web();
    assert!(changes(&s, &s.clone()).is_empty());
}

#[test]
fn a_new_container_comes_with_its_endpoints_and_ports() {
    let before = state(vec![network("web", "n1")], Vec::new());
    let after = a_on_web();
    assert_eq!(
        described(&before, &after),
        [
            "container created a",
            "connected a web",
            "published a 80/tcp -> 0.0.0.0:8080"
        ]
    );
    assert_eq!(
        described(&after, &before),
        [
            "unpublished a 80/tcp -> 0.0.0.0:8080",
            "disconnected a web",
            "container removed a"
        ]
    );
}

#[test]
fn networks_created_and_removed() {
    let before = state(vec![network("old", "n1")], Vec::new());
    let after = state(vec![network("new", "n2")], Vec::new());
    assert_eq!(
        described(&before, &after),
        ["network created new", "network removed old"]
    );
}

#[test]
fn a_name_reused_with_another_id_is_a_removal_and_a_creation() {
    let before = state(
        vec![network("web", "n1")],
        vec![container("a", "c1", vec![], vec![])],
    );
    let after = state(
        vec![network("web", "n2")],
        vec![container("a", "c2", vec![], vec![])],
    );
    assert_eq!(
        described(&before, &after),
        [
            "network created web",
            "container created a",
            "container removed a",
            "network removed web"
        ]
    );
}

#[test]
fn publish_connect_and_disconnect_on_a_kept_container() {
    let before = state(
        vec![network("web", "n1"), network("db", "n2")],
        vec![container(
            "a",
            "c1",
            vec![endpoint("web", 2)],
            vec![port(8080)],
        )],
    );
    let after = state(
        vec![network("web", "n1"), network("db", "n2")],
        vec![container(
            "a",
            "c1",
            vec![endpoint("db", 3)],
            vec![port(8080), port(9090)],
        )],
    );
    assert_eq!(
        described(&before, &after),
        [
            "connected a db",
            "published a 80/tcp -> 0.0.0.0:9090",
            "disconnected a web"
        ]
    );
}

fn udp(port: u16) -> PortMapping {
    PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port: port,
        container_port: port,
        protocol: Protocol::Udp,
    }
}

#[test]
fn added_ports_are_found_in_one_walk_or_through_a_set() {
    let before: Vec<PortMapping> = (1..=5).map(udp).collect();
    // Appended.
    let after: Vec<PortMapping> = (1..=7).map(udp).collect();
    assert_eq!(super::added(&before, &after), [&udp(6), &udp(7)]);
    // Taken out, order kept: nothing added; seen the other way, what went.
    let after = vec![udp(1), udp(3), udp(5)];
    assert!(super::added(&before, &after).is_empty());
    assert_eq!(super::added(&after, &before), [&udp(2), &udp(4)]);
    // Reordered with one new: the set finds exactly the new one.
    let after = vec![udp(5), udp(4), udp(9), udp(3), udp(2), udp(1)];
    assert_eq!(super::added(&before, &after), [&udp(9)]);
}

#[test]
fn consecutive_ports_are_one_event_each_run() {
    let before = a_on_web();
    let mut after = a_on_web();
    let ports = &mut after.containers.get_mut("a").expect("container a").ports;
    // A run of three, a gap, a lone port, then the next port on TCP (another
    // protocol: another run).
    ports.extend([udp(100), udp(101), udp(102), udp(200), port(8081)]);
    assert_eq!(
        described(&before, &after),
        [
            "published a 100-102/udp -> 0.0.0.0:100-102",
            "published a 200/udp -> 0.0.0.0:200",
            "published a 80/tcp -> 0.0.0.0:8081",
        ]
    );
    assert_eq!(
        described(&after, &before),
        [
            "unpublished a 100-102/udp -> 0.0.0.0:100-102",
            "unpublished a 200/udp -> 0.0.0.0:200",
            "unpublished a 80/tcp -> 0.0.0.0:8081",
        ]
    );
}
