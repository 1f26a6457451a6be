use std::net::Ipv4Addr;

use super::*;
use crate::{
    api::{
        ContainerOptions,
        request::{ContainerCreate, NetworkConnect, Port},
    },
    netconf::LinkSpec,
    state::{Container, Network, PredefinedNetwork},
};

fn a_network(name: &str, id: &str) -> Network {
    Network {
        id: id.into(),
        name: name.into(),
        subnet: Some("10.231.0.0/24".parse().expect("cidr")),
        gateway: Some(Ipv4Addr::new(10, 231, 0, 1)),
        internal: false,
        bridge: format!("ebr-{name}"),
        created: "2026-01-02T03:04:05Z".into(),
        number: 1,
        lan: None,
        owner: None,
        ipv6: None,
        overlay: None,
    }
}

fn a_container(name: &str, id: &str) -> Container {
    Container {
        id: id.into(),
        name: name.into(),
        created: "2026-01-02T03:04:06Z".into(),
        endpoints: Vec::new(),
        ports: Vec::new(),
        mode: Default::default(),
        hostname: None,
        extra_hosts: Vec::new(),
        dns: Vec::new(),
        links: Vec::new(),
        labels: Default::default(),
    }
}

/// `web` (abc1…), `db` (abc2…), `cafe` (f00d…), and a container named
/// like a prefix of another's id, `abc2` (9999…).
fn state() -> State {
    let mut state = State::default();
    for (name, id) in [
        ("web", "abc1aaaaaaaa"),
        ("db", "abc2bbbbbbbb"),
        ("cafe", "f00dcccccccc"),
        ("abc2", "999999999999"),
    ] {
        state.containers.insert(name.into(), a_container(name, id));
    }
    for (name, id) in [("bridge", "b1b1b1"), ("front", "f1f1f1")] {
        state.networks.insert(name.into(), a_network(name, id));
    }
    state.predefined.insert(
        "host".into(),
        PredefinedNetwork {
            id: "4040".into(),
            created: "2026-01-02T03:04:05Z".into(),
        },
    );
    state
}

#[test]
fn full_id_then_name_then_unique_prefix() {
    let state = state();
    assert_eq!(container(&state, "abc1aaaaaaaa"), Ok("web".into()));
    assert_eq!(container(&state, "web"), Ok("web".into()));
    assert_eq!(container(&state, "f0"), Ok("cafe".into()));
    // A name wins over an id prefix.
    assert_eq!(container(&state, "abc2"), Ok("abc2".into()));
    // Unknown names stay as given, for the controller to refuse.
    assert_eq!(container(&state, "nope"), Ok("nope".into()));
    assert_eq!(network(&state, "f1f"), Ok("front".into()));
    assert_eq!(network(&state, "40"), Ok("host".into()));
    assert_eq!(network(&state, "none"), Ok("none".into()));
}

#[test]
fn an_ambiguous_prefix_names_the_candidates() {
    let err = container(&state(), "abc").expect_err("web and db");
    assert_eq!(
        err.to_string(),
        "container id prefix \"abc\" is ambiguous: it matches db (abc2bbbbbbbb), web (abc1aaaaaaaa)"
    );
}

#[test]
fn requests_name_what_the_controller_knows() {
    let state = state();
    let create = ContainerCreate {
        name: "new".into(),
        options: ContainerOptions {
            network: Some("container:f00d".into()),
            links: vec![LinkSpec {
                container: "abc1".into(),
                alias: None,
            }],
            ..ContainerOptions::default()
        },
    };
    let Request::ContainerCreate(r) = resolve(&state, create.into()).expect("resolves") else {
        panic!("another request");
    };
    assert_eq!(r.name, "new", "the new name is not looked up");
    assert_eq!(r.options.network.as_deref(), Some("container:cafe"));
    assert_eq!(r.options.links[0].container, "web");
    let connect = NetworkConnect {
        network: "f1".into(),
        container: "abc1".into(),
        ip: None,
        ip6: None,
        aliases: Vec::new(),
    };
    let Request::NetworkConnect(r) = resolve(&state, connect.into()).expect("resolves") else {
        panic!("another request");
    };
    assert_eq!((r.network.as_str(), r.container.as_str()), ("front", "web"));
    let err = resolve(
        &state,
        Port {
            container: "a".into(),
        }
        .into(),
    )
    .expect_err("ambiguous");
    assert!(err.to_string().contains("db (abc2bbbbbbbb)"), "{err}");
}
