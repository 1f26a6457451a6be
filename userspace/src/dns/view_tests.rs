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
        subnet: Some(format!("10.{third}.0.0/16").parse().expect("cidr")),
        gateway: Some(Ipv4Addr::new(10, third, 0, 1)),
        internal,
        bridge: format!("br-{name}"),
        created: String::new(),
        number: u32::from(third),
        lan: None,
        owner: None,
        ipv6: None,
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
                ip: Some(ip(addr)),
                ip6: None,
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
    assert!(!view().gateways.contains(&ip("10.214.0.1").into()));
}

/// front with IPv6 (fd00:1::/64): web fd00:1::2, app fd00:1::3.
fn dual_view() -> View {
    let mut state = state();
    if let Some(front) = state.networks.get_mut("front") {
        front.ipv6 = Some(crate::state::Ipv6Config {
            subnet: "fd00:1::/64".parse().expect("cidr"),
            gateway: "fd00:1::1".parse().expect("ip"),
        });
    }
    for (name, ip6) in [("web", "fd00:1::2"), ("app", "fd00:1::3")] {
        if let Some(e) = state
            .containers
            .get_mut(name)
            .and_then(|c| c.endpoints.iter_mut().find(|e| e.network == "front"))
        {
            e.ip6 = ip6.parse().ok();
        }
    }
    View::build(&state, &[IpAddr::V4(ip("192.0.2.53"))])
}

fn dual_reply(from: &str, name: &str, kind: RecordType) -> Message {
    let from: IpAddr = from.parse().expect("ip");
    match answer(&dual_view(), from, &query(name, kind)) {
        Answer::Reply(message) => message,
        other => panic!("{from} asking {name}: expected a reply, got {other:?}"),
    }
}

fn aaaa_records(message: &Message) -> Vec<std::net::Ipv6Addr> {
    message
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::AAAA(a) => Some(a.0),
            _ => None,
        })
        .collect()
}

#[test]
fn aaaa_and_ip6_arpa_on_networks_with_ipv6() {
    let view = dual_view();
    assert!(view.gateways.contains(&"fd00:1::1".parse().expect("ip")));
    // Asked over IPv6 or IPv4, by name, alias or scoped name.
    for from in ["fd00:1::3", "10.1.0.3"] {
        for name in ["web.", "www.", "web.front."] {
            let m = dual_reply(from, name, RecordType::AAAA);
            assert_eq!(
                aaaa_records(&m),
                vec!["fd00:1::2".parse::<std::net::Ipv6Addr>().expect("ip")]
            );
            assert!(a_records(&m).is_empty());
        }
    }
    let m = dual_reply("fd00:1::3", "web.", RecordType::A);
    assert_eq!(a_records(&m), vec![ip("10.1.0.2")]);
    // db is on back (no IPv6): its name is not app's on front, and has
    // no AAAA where app shares a network with it.
    let m = dual_reply("10.2.0.3", "db.", RecordType::AAAA);
    assert_eq!(m.response_code(), ResponseCode::NoError);
    assert!(m.answers().is_empty());
    // PTR under ip6.arpa: a container's name, NXDOMAIN for a free address.
    let arpa = |ip: &str| {
        let ip: std::net::Ipv6Addr = ip.parse().expect("ip");
        let nibbles: Vec<String> = ip
            .octets()
            .iter()
            .rev()
            .flat_map(|b| [format!("{:x}", b & 0xf), format!("{:x}", b >> 4)])
            .collect();
        format!("{}.ip6.arpa.", nibbles.join("."))
    };
    let m = dual_reply("fd00:1::3", &arpa("fd00:1::2"), RecordType::PTR);
    let names: Vec<String> = m
        .answers()
        .iter()
        .filter_map(|r| match r.data() {
            RData::PTR(ptr) => Some(ptr.0.to_ascii()),
            _ => None,
        })
        .collect();
    assert_eq!(names, vec!["web.front.".to_string()]);
    let m = dual_reply("fd00:1::3", &arpa("fd00:1::99"), RecordType::PTR);
    assert_eq!(m.response_code(), ResponseCode::NXDomain);
    // An IPv6 address that is no container's gets no answer at all.
    let stranger: IpAddr = "fd00:1::77".parse().expect("ip");
    assert!(matches!(
        answer(&view, stranger, &query("web.", RecordType::AAAA)),
        Answer::Ignore
    ));
}
