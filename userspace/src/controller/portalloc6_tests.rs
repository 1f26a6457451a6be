//! Host ports on both families: a request without an address on each
//! family the container has, one port free on both, clashes within a
//! family only, unpublishing by family.

use super::*;

const BOTH: Families = Families {
    ipv4: true,
    ipv6: true,
};

fn v6(host_ip: &str, host_port: u16, container_port: u16, p: Protocol) -> PortMapping {
    PortMapping {
        host_ip: host_ip.parse().expect(host_ip),
        host_port,
        container_port,
        protocol: p,
    }
}

#[test]
fn no_address_publishes_on_each_family_of_the_container() {
    let got = resolve_ports([], &requests("8080:80"), BOTH, (1, 2), &mut all_free).expect("both");
    assert_eq!(
        got,
        [
            mapping([0; 4], 8080, 80, Protocol::Tcp),
            v6("::", 8080, 80, Protocol::Tcp)
        ]
    );
    let ipv6_only = Families {
        ipv4: false,
        ipv6: true,
    };
    let got = resolve_ports([], &requests("8080:80"), ipv6_only, (1, 2), &mut all_free)
        .expect("IPv6 only");
    assert_eq!(got, [v6("::", 8080, 80, Protocol::Tcp)]);
    // A named address publishes on it alone.
    let got = resolve_ports(
        [],
        &requests("0.0.0.0:8080:80"),
        BOTH,
        (1, 2),
        &mut all_free,
    )
    .expect("IPv4 only");
    assert_eq!(got, [mapping([0; 4], 8080, 80, Protocol::Tcp)]);
    let got =
        resolve_ports([], &requests("[::1]:8080:80"), BOTH, (1, 2), &mut all_free).expect("::1");
    assert_eq!(got, [v6("::1", 8080, 80, Protocol::Tcp)]);
    // A family the container has no address of is refused, named.
    let err = resolve_ports(
        [],
        &requests("[::]:8080:80"),
        Families::IPV4,
        (1, 2),
        &mut all_free,
    )
    .expect_err("no IPv6");
    assert_eq!(
        err,
        "cannot publish on host IP [::]: the container has no IPv6 address on its network \
         to lead it to"
    );
    let err = resolve_ports(
        [],
        &requests("127.0.0.1:8080:80"),
        ipv6_only,
        (1, 2),
        &mut all_free,
    )
    .expect_err("no IPv4");
    assert!(
        err.contains("host IP 127.0.0.1: the container has no IPv4"),
        "{err}"
    );
}

#[test]
fn families_clash_only_within_themselves() {
    let taken = [
        Taken {
            container: "web",
            mapping: v6("::", 8080, 80, Protocol::Tcp),
        },
        Taken {
            container: "db",
            mapping: mapping([0; 4], 9000, 90, Protocol::Tcp),
        },
    ];
    // `::` holds every IPv6 address of the port, no IPv4 one.
    let err = resolve_ports(
        taken,
        &requests("[::1]:8080:81"),
        BOTH,
        (1, 2),
        &mut all_free,
    )
    .expect_err("clash");
    assert_eq!(
        err,
        "host port [::1]:8080/tcp is already published (by container web: 80/tcp -> [::]:8080)"
    );
    resolve_ports(
        taken,
        &requests("127.0.0.1:8080:81"),
        BOTH,
        (1, 2),
        &mut all_free,
    )
    .expect("IPv4 is free");
    resolve_ports(
        taken,
        &requests("[::]:9000:81"),
        BOTH,
        (1, 2),
        &mut all_free,
    )
    .expect("IPv6 is free");
    // Both families on a port held on one: refused as a whole.
    let err = resolve_ports(taken, &requests("9000:91"), BOTH, (1, 2), &mut all_free)
        .expect_err("0.0.0.0:9000 is db's");
    assert!(
        err.contains("0.0.0.0:9000/tcp is already published"),
        "{err}"
    );
}

#[test]
fn both_families_get_one_port_free_on_both() {
    // The first free IPv4 port is held on IPv6 by a host process.
    let mut probe = |m: &PortMapping| {
        if m.host_port == 40000 && m.host_ip.is_ipv6() {
            Probe::InUse
        } else {
            Probe::Free
        }
    };
    let got = resolve_ports([], &requests("80"), BOTH, (40000, 40010), &mut probe).expect("free");
    assert_eq!(
        got,
        [
            mapping([0; 4], 40001, 80, Protocol::Tcp),
            v6("::", 40001, 80, Protocol::Tcp)
        ]
    );
    let err = resolve_ports([], &requests("40000:80"), BOTH, (1, 2), &mut probe)
        .expect_err("held on IPv6");
    assert_eq!(
        err,
        "host port 40000/tcp is already in use by a process on this host"
    );
}

#[test]
fn unpublish_matching_by_family() {
    let mappings = [
        mapping([0; 4], 8080, 80, Protocol::Tcp),
        v6("::", 8080, 80, Protocol::Tcp),
        v6("::1", 8081, 80, Protocol::Tcp),
    ];
    let m = |spec| match_unpublish("web", &mappings, &requests(spec));
    assert_eq!(m("8080:80").expect("both"), mappings[..2]);
    assert_eq!(m("0.0.0.0:8080:80").expect("IPv4"), mappings[..1]);
    assert_eq!(m("[::]::80").expect("every IPv6"), mappings[1..]);
    assert_eq!(m("[::1]::80").expect("::1"), mappings[2..]);
    assert_eq!(
        m("[::2]:8081:80").unwrap_err(),
        "container web has no published port [::2]:8081:80/tcp"
    );
}
