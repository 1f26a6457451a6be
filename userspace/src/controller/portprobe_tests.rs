use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use super::*;
use crate::testing::{FakeHost, HostWorld, Link, LinkKind};

const UPLINK: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);

fn host(busy: &[(Protocol, &str)]) -> (FakeHost, crate::testing::Faults) {
    let mut world = HostWorld::default();
    world.links.insert(
        "up0".into(),
        Link {
            index: 2,
            kind: LinkKind::Device,
            mac: None,
            addresses: vec![(UPLINK, 24)],
            addresses6: Vec::new(),
            up: true,
            forwarding: false,
            accept_ra: false,
        },
    );
    world.busy_ports = busy
        .iter()
        .map(|(p, a)| (*p, a.parse::<SocketAddr>().expect("address")))
        .collect();
    let faults = crate::testing::Faults::default();
    (FakeHost::new(world, faults.clone()), faults)
}

fn mapping(protocol: Protocol, ip: &str, port: u16) -> PortMapping {
    PortMapping {
        host_ip: ip.parse::<IpAddr>().expect("ip"),
        host_port: port,
        container_port: port,
        protocol,
    }
}

/// Every port of each address and protocol through one prober, against a
/// bind each.
fn same_as_binds(host: &FakeHost) {
    let mut prober = PortProber::new(host);
    for protocol in [Protocol::Tcp, Protocol::Udp] {
        for ip in ["0.0.0.0", "192.0.2.1", "::", "::1"] {
            for port in 1..=2000 {
                let m = mapping(protocol, ip, port);
                let want = host.probe_port(protocol, SocketAddr::from((m.host_ip, port)));
                assert_eq!(prober.probe(&m), want, "{ip}:{port}/{protocol}");
            }
        }
    }
}

#[test]
fn bulk_answers_are_the_binds_answers() {
    let (host, faults) = host(&[
        (Protocol::Tcp, "0.0.0.0:80"),
        (Protocol::Tcp, "192.0.2.1:1100"),
        (Protocol::Tcp, "[::]:1101"),
        (Protocol::Udp, "192.0.2.1:53"),
        (Protocol::Udp, "[::1]:1200"),
        (Protocol::Udp, "127.0.0.1:1500"),
    ]);
    faults.take_log();
    same_as_binds(&host);
    // One dump per protocol, however many ports.
    let dumps = faults.take_log();
    assert_eq!(dumps, ["bound_sockets", "bound_sockets"], "{dumps:?}");
}

#[test]
fn without_a_dump_every_port_is_bound() {
    let (host, faults) = host(&[
        (Protocol::Tcp, "0.0.0.0:1500"),
        (Protocol::Udp, "[::]:1600"),
    ]);
    faults.fail_op("bound_sockets");
    same_as_binds(&host);
}

#[test]
fn addresses_the_host_lacks_stay_refused_past_the_first_ports() {
    let (host, _) = host(&[]);
    let mut prober = PortProber::new(&host);
    for port in 1..=(BULK as u16 * 2) {
        let m = mapping(Protocol::Udp, "203.0.113.5", port);
        assert_eq!(prober.probe(&m), Probe::NotLocal, "port {port}");
    }
    // An address the host has, after them, is probed as before.
    let m = mapping(Protocol::Udp, "192.0.2.1", 5000);
    assert_eq!(prober.probe(&m), Probe::Free);
}
