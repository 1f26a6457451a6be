use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use hickory_proto::{
    op::{Message, MessageType, OpCode, Query, ResponseCode},
    rr::{Name, RData, RecordType},
};

use super::{Answer, View, answer};
use crate::state::{Container, Endpoint, NetMode, Network, State};

fn ip(text: &str) -> Ipv4Addr {
    text.parse().expect("ip")
}

fn network(name: &str, third: u8, internal: bool) -> Network {
    Network {
        id: format!("{name:0>64}"),
        name: name.into(),
        subnet: format!("10.{third}.0.0/16").parse().expect("cidr"),
        gateway: Ipv4Addr::new(10, third, 0, 1),
        internal,
        bridge: format!("br-{name}"),
        created: String::new(),
        number: u32::from(third),
        lan: None,
        overlay: None,
    }
}

fn container(name: &str, endpoints: &[(&str, &str, &[&str])]) -> Container {
    Container {
        id: format!("{:x<64}", "abc".to_string() + name),
        name: name.into(),
        created: String::new(),
        endpoints: endpoints
            .iter()
            .enumerate()
            .map(|(i, (net, addr, aliases))| Endpoint {
                id: String::new(),
                network: (*net).into(),
                ip: ip(addr),
                mac: [0; 6],
                ifname: format!("eth{i}"),
                host_veth: String::new(),
                aliases: aliases.iter().map(|a| a.to_string()).collect(),
            })
            .collect(),
        ports: Vec::new(),
        mode: NetMode::Owned,
        hostname: None,
        extra_hosts: Vec::new(),
        dns: Vec::new(),
        links: Vec::new(),
        labels: Default::default(),
    }
}

/// front 10.1/16, back 10.2/16, locked 10.3/16 (internal), bridge 10.214/16.
fn state() -> State {
    let mut state = State::default();
    for n in [
        network("front", 1, false),
        network("back", 2, false),
        network("locked", 3, true),
        network("bridge", 214, false),
    ] {
        state.networks.insert(n.name.clone(), n);
    }
    let mut dns = container("custom", &[("front", "10.1.0.9", &[])]);
    dns.dns = vec![ip("9.9.9.9")];
    for c in [
        container("web", &[("front", "10.1.0.2", &["www"])]),
        container("db", &[("back", "10.2.0.2", &[])]),
        container(
            "app",
            &[("front", "10.1.0.3", &[]), ("back", "10.2.0.3", &[])],
        ),
        container("old", &[("bridge", "10.214.0.2", &[])]),
        container("vault", &[("locked", "10.3.0.2", &[])]),
        dns,
    ] {
        state.containers.insert(c.name.clone(), c);
    }
    state
}

fn view() -> View {
    View::build(&state(), &[IpAddr::V4(ip("192.0.2.53"))])
}

fn query(name: &str, kind: RecordType) -> Message {
    let mut message = Message::new();
    message
        .set_id(4242)
        .set_message_type(MessageType::Query)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .add_query(Query::query(Name::from_ascii(name).expect("name"), kind));
    message
}

fn reply(from: &str, name: &str, kind: RecordType) -> Message {
    match answer(&view(), ip(from), &query(name, kind)) {
        Answer::Reply(message) => message,
        other => panic!("{from} asking {name}: expected a reply, got {other:?}"),
    }
}

fn a_records(message: &Message) -> Vec<Ipv4Addr> {
    message
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::A(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

#[test]
fn names_resolve_on_shared_networks_only() {
    let m = reply("10.1.0.3", "web.", RecordType::A);
    assert_eq!(m.id(), 4242);
    assert_eq!(m.message_type(), MessageType::Response);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert_eq!(a_records(&m), vec![ip("10.1.0.2")]);
    // Aliases, case, the network-scoped form, and both networks of `app`.
    assert_eq!(
        a_records(&reply("10.1.0.3", "WWW", RecordType::A)),
        vec![ip("10.1.0.2")]
    );
    assert_eq!(
        a_records(&reply("10.1.0.3", "web.front.", RecordType::A)),
        vec![ip("10.1.0.2")]
    );
    assert_eq!(
        a_records(&reply("10.1.0.3", "db", RecordType::A)),
        vec![ip("10.2.0.2")]
    );
    assert_eq!(
        a_records(&reply("10.2.0.2", "app", RecordType::A)),
        vec![ip("10.2.0.3")]
    );
    // web is not on back: db is not its to know, so the query leaves.
    let forwarded = answer(&view(), ip("10.1.0.2"), &query("db.", RecordType::A));
    assert!(
        matches!(&forwarded, Answer::Forward(to) if to == &[SocketAddr::from(([192, 0, 2, 53], 53))]),
        "{forwarded:?}"
    );
    assert!(matches!(
        answer(&view(), ip("10.1.0.3"), &query("web.back.", RecordType::A)),
        Answer::Forward(_)
    ));
}

#[test]
fn only_containers_of_user_networks_get_answers() {
    for stranger in ["10.214.0.2", "203.0.113.2", "10.1.0.1", "10.1.0.77"] {
        assert!(
            matches!(
                answer(&view(), ip(stranger), &query("web.", RecordType::A)),
                Answer::Ignore
            ),
            "{stranger} got an answer"
        );
    }
    let mut response = query("web.", RecordType::A);
    response.set_message_type(MessageType::Response);
    assert!(matches!(
        answer(&view(), ip("10.1.0.3"), &response),
        Answer::Ignore
    ));
}

#[test]
fn other_types_of_known_names_are_empty_not_forwarded() {
    let m = reply("10.1.0.3", "web.", RecordType::AAAA);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty());
    assert!(m.authoritative());
}

#[test]
fn ptr_answers_names_and_keeps_subnets_private() {
    let m = reply("10.1.0.3", "2.0.1.10.in-addr.arpa.", RecordType::PTR);
    let names: Vec<String> = m
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::PTR(ptr) => Some(ptr.0.to_ascii()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["web.front.".to_string()]);
    let m = reply("10.1.0.3", "99.0.1.10.in-addr.arpa.", RecordType::PTR);
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    assert!(matches!(
        answer(
            &view(),
            ip("10.1.0.3"),
            &query("8.8.8.8.in-addr.arpa.", RecordType::PTR)
        ),
        Answer::Forward(_)
    ));
}

#[test]
fn upstreams_follow_dns_option_and_internal_networks() {
    let custom = answer(
        &view(),
        ip("10.1.0.9"),
        &query("example.org.", RecordType::A),
    );
    assert!(
        matches!(&custom, Answer::Forward(to) if to == &[SocketAddr::from(([9, 9, 9, 9], 53))]),
        "{custom:?}"
    );
    let m = reply("10.3.0.2", "example.org.", RecordType::A);
    assert_eq!(m.response_code(), ResponseCode::ServFail);
    let none = View::build(&state(), &[]);
    match answer(&none, ip("10.1.0.3"), &query("example.org.", RecordType::A)) {
        Answer::Reply(m) => assert_eq!(m.response_code(), ResponseCode::ServFail),
        other => panic!("{other:?}"),
    }
    // The default bridge network has no server.
    assert!(!view().gateways.contains(&ip("10.214.0.1")));
}
