use super::*;
use crate::portspec::{PortSpec, Protocol};

fn requests(spec: &str) -> Vec<PortRequest> {
    let PortSpec(r) = spec.parse().expect(spec);
    r
}

fn mapping(host_ip: [u8; 4], host_port: u16, container_port: u16, p: Protocol) -> PortMapping {
    PortMapping {
        host_ip: host_ip.into(),
        host_port,
        container_port,
        protocol: p,
    }
}

fn all_free(_: &PortMapping) -> Probe {
    Probe::Free
}

#[test]
fn requested_ports_are_taken_as_given() {
    let got = resolve_ports(
        [],
        &requests("8000-8002:80-82"),
        Families::IPV4,
        (40000, 40010),
        &mut all_free,
    )
    .expect("free");
    let pairs: Vec<_> = got
        .iter()
        .map(|m| (m.host_port, m.container_port))
        .collect();
    assert_eq!(pairs, [(8000, 80), (8001, 81), (8002, 82)]);
}

#[test]
fn a_published_port_is_refused_with_its_owner() {
    let taken = [Taken {
        container: "web",
        mapping: mapping([0; 4], 8080, 80, Protocol::Tcp),
    }];
    let err = resolve_ports(
        taken,
        &requests("127.0.0.1:8080:81"),
        Families::IPV4,
        (1, 2),
        &mut all_free,
    )
    .expect_err("clash with the wildcard");
    assert!(
        err.contains("127.0.0.1:8080/tcp is already published"),
        "{err}"
    );
    assert!(err.contains("container web"), "{err}");
    // Another protocol, or another port, is fine.
    resolve_ports(
        taken,
        &requests("8080:80/udp"),
        Families::IPV4,
        (1, 2),
        &mut all_free,
    )
    .expect("udp");
    resolve_ports(
        taken,
        &requests("8081:80"),
        Families::IPV4,
        (1, 2),
        &mut all_free,
    )
    .expect("8081");
}

#[test]
fn a_range_fails_as_a_whole() {
    let mut probe = |m: &PortMapping| {
        if m.host_port == 8001 {
            Probe::InUse
        } else {
            Probe::Free
        }
    };
    let err = resolve_ports(
        [],
        &requests("8000-8002:80-82"),
        Families::IPV4,
        (1, 2),
        &mut probe,
    )
    .expect_err("8001 is held");
    assert_eq!(
        err,
        "host port 8001/tcp is already in use by a process on this host"
    );
}

#[test]
fn probe_errors_name_the_problem() {
    let mut not_local = |_: &PortMapping| Probe::NotLocal;
    let err = resolve_ports(
        [],
        &requests("10.0.0.5:8080:80"),
        Families::IPV4,
        (1, 2),
        &mut not_local,
    )
    .expect_err("not local");
    assert_eq!(err, "host IP 10.0.0.5 is not an address of this host");
    let err = resolve_ports(
        [],
        &requests("10.0.0.5::80"),
        Families::IPV4,
        (1, 2),
        &mut not_local,
    )
    .expect_err("not local either when auto-picking");
    assert_eq!(err, "host IP 10.0.0.5 is not an address of this host");
}

#[test]
fn auto_ports_skip_published_and_busy_ones() {
    let taken = [Taken {
        container: "web",
        mapping: mapping([0; 4], 40000, 80, Protocol::Tcp),
    }];
    let mut probe = |m: &PortMapping| {
        if m.host_port == 40001 {
            Probe::InUse
        } else {
            Probe::Free
        }
    };
    let got = resolve_ports(
        taken,
        &requests("80-81"),
        Families::IPV4,
        (40000, 40010),
        &mut probe,
    )
    .expect("free ports");
    let ports: Vec<_> = got.iter().map(|m| m.host_port).collect();
    assert_eq!(ports, [40002, 40003]);
    let err = resolve_ports(
        taken,
        &requests("80"),
        Families::IPV4,
        (40000, 40001),
        &mut probe,
    )
    .expect_err("exhausted");
    assert!(
        err.contains("no free host port left in 40000-40001"),
        "{err}"
    );
}

#[test]
fn a_host_range_gives_its_first_free_port() {
    let taken = [Taken {
        container: "web",
        mapping: mapping([0; 4], 8000, 80, Protocol::Tcp),
    }];
    let mut probe = |m: &PortMapping| {
        if m.host_port == 8001 {
            Probe::InUse
        } else {
            Probe::Free
        }
    };
    // Not the ephemeral range: the one given.
    let got = resolve_ports(
        taken,
        &requests("8000-8010:80"),
        Families::IPV4,
        (40000, 40010),
        &mut probe,
    )
    .expect("8002 is free");
    assert_eq!(got, [mapping([0; 4], 8002, 80, Protocol::Tcp)]);
    let err = resolve_ports(
        taken,
        &requests("8000-8001:80"),
        Families::IPV4,
        (40000, 40010),
        &mut probe,
    )
    .expect_err("both taken");
    assert_eq!(err, "no free host port left in 8000-8001 for 80/tcp");
}

#[test]
fn a_port_requested_twice_is_refused() {
    let err = resolve_ports(
        [],
        &[requests("8080:80")[0], requests("8080:81")[0]],
        Families::IPV4,
        (1, 2),
        &mut all_free,
    )
    .expect_err("twice");
    assert!(err.contains("requested twice"), "{err}");
}

#[test]
fn unpublish_matching() {
    let mappings = [
        mapping([0; 4], 8080, 80, Protocol::Tcp),
        mapping([127, 0, 0, 1], 8081, 80, Protocol::Tcp),
        mapping([0; 4], 8080, 80, Protocol::Udp),
        mapping([0; 4], 9000, 90, Protocol::Tcp),
    ];
    let m = |spec| match_unpublish("web", &mappings, &requests(spec));
    // No host port: every mapping of 80/tcp.
    assert_eq!(m("80").expect("80"), mappings[..2]);
    assert_eq!(m("8081:80").expect("8081"), mappings[1..2]);
    assert_eq!(m("127.0.0.1::80").expect("by ip"), mappings[1..2]);
    assert_eq!(m("80/udp").expect("udp"), mappings[2..3]);
    // A host range for one port: whichever port of it the mapping got.
    assert_eq!(m("8081-8090:80").expect("range"), mappings[1..2]);
    assert_eq!(
        m("8082-8090:80").unwrap_err(),
        "container web has no published port 8082-8090:80/tcp"
    );
    assert_eq!(
        m("8080-8081:80-81").unwrap_err(),
        "container web has no published port 8081:81/tcp"
    );
    assert_eq!(
        m("8082:80").unwrap_err(),
        "container web has no published port 8082:80/tcp"
    );
    assert_eq!(
        m("10.0.0.1::80").unwrap_err(),
        "container web has no published port 10.0.0.1::80/tcp"
    );
    // Named twice, removed once.
    assert_eq!(m("80").expect("dedup").len(), 2);
    assert_eq!(
        match_unpublish(
            "web",
            &mappings,
            &[requests("80")[0], requests("8080:80")[0]]
        )
        .expect("dedup")
        .len(),
        2
    );
}

#[test]
fn ranges() {
    assert_eq!(ephemeral_range("32768\t60999\n"), (32768, 60999));
    assert_eq!(ephemeral_range(""), (32768, 60999));
    assert_eq!(ephemeral_range("5000 4000"), (32768, 60999));
}

#[path = "portalloc6_tests.rs"]
mod ipv6;
