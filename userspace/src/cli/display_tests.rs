//! Golden outputs, most of them docker/cli's own test cases
//! (`formatter/container_test.go`, go-units, sortorder).

use std::net::Ipv4Addr;

use super::*;
use crate::portspec::Protocol;

fn port(ip: [u8; 4], public: u16, private: u16, protocol: Protocol) -> PortMapping {
    PortMapping {
        host_ip: Ipv4Addr::from(ip).into(),
        host_port: public,
        container_port: private,
        protocol,
    }
}

#[test]
fn ports_column_as_docker_ps() {
    use Protocol::{Tcp, Udp};
    let ip = [1, 2, 3, 4];
    for (ports, expected) in [
        (
            vec![port([4, 3, 2, 1], 8899, 9988, Tcp)],
            "4.3.2.1:8899->9988/tcp",
        ),
        (
            vec![port([4, 3, 2, 1], 9988, 9988, Tcp)],
            "4.3.2.1:9988->9988/tcp",
        ),
        (
            vec![port(ip, 9998, 9998, Udp), port(ip, 9999, 9999, Udp)],
            "1.2.3.4:9998-9999->9998-9999/udp",
        ),
        (
            vec![port(ip, 8887, 9998, Udp), port(ip, 8888, 9999, Udp)],
            "1.2.3.4:8887->9998/udp, 1.2.3.4:8888->9999/udp",
        ),
        (
            vec![
                port(ip, 8899, 9988, Udp),
                port(ip, 8899, 9988, Tcp),
                port([4, 3, 2, 1], 3322, 2233, Tcp),
            ],
            "4.3.2.1:3322->2233/tcp, 1.2.3.4:8899->9988/tcp, 1.2.3.4:8899->9988/udp",
        ),
        // ebpfnet's `-p 8000-8002:8000-8002` and `-p 8000-8002:80-82`.
        (
            vec![
                port([0; 4], 8002, 8002, Tcp),
                port([0; 4], 8000, 8000, Tcp),
                port([0; 4], 8001, 8001, Tcp),
            ],
            "0.0.0.0:8000-8002->8000-8002/tcp",
        ),
        (
            vec![
                port([0; 4], 8000, 80, Tcp),
                port([0; 4], 8001, 81, Tcp),
                port([0; 4], 8002, 82, Tcp),
            ],
            "0.0.0.0:8000->80/tcp, 0.0.0.0:8001->81/tcp, 0.0.0.0:8002->82/tcp",
        ),
        // A gap starts a new group; the closed one comes first.
        (
            vec![
                port([0; 4], 80, 80, Tcp),
                port([0; 4], 81, 81, Tcp),
                port([0; 4], 83, 83, Tcp),
                port([0; 4], 53, 53, Udp),
            ],
            "0.0.0.0:80-81->80-81/tcp, 0.0.0.0:53->53/udp, 0.0.0.0:83->83/tcp",
        ),
        // Both families of `-p 8080:80` and `-p 8000-8001:8000-8001`, as
        // docker/cli's `net.JoinHostPort` writes IPv6 addresses.
        (
            vec![port([0; 4], 8080, 80, Tcp), {
                let mut p = port([0; 4], 8080, 80, Tcp);
                p.host_ip = "::".parse().expect("ip");
                p
            }],
            "0.0.0.0:8080->80/tcp, [::]:8080->80/tcp",
        ),
        (
            vec![
                port([0; 4], 8000, 8000, Tcp),
                port([0; 4], 8001, 8001, Tcp),
                {
                    let mut p = port([0; 4], 8000, 8000, Tcp);
                    p.host_ip = "::".parse().expect("ip");
                    p
                },
                {
                    let mut p = port([0; 4], 8001, 8001, Tcp);
                    p.host_ip = "::".parse().expect("ip");
                    p
                },
            ],
            "0.0.0.0:8000-8001->8000-8001/tcp, [::]:8000-8001->8000-8001/tcp",
        ),
        (vec![], ""),
    ] {
        assert_eq!(displayable_ports(&ports), expected, "{ports:?}");
    }
}

#[test]
fn durations_as_go_units() {
    for (seconds, expected) in [
        (0.5, "Less than a second"),
        (1.0, "1 second"),
        (59.0, "59 seconds"),
        (60.0, "About a minute"),
        (119.0, "About a minute"),
        (120.0, "2 minutes"),
        (59.0 * 60.0, "59 minutes"),
        (60.0 * 60.0, "About an hour"),
        (89.0 * 60.0, "About an hour"),
        (91.0 * 60.0, "2 hours"),
        (47.0 * 3600.0, "47 hours"),
        (48.0 * 3600.0, "2 days"),
        (14.0 * 86400.0, "2 weeks"),
        (60.0 * 86400.0, "2 months"),
        (2.0 * 365.0 * 86400.0, "2 years"),
    ] {
        assert_eq!(human_duration(seconds), expected, "{seconds}");
    }
    let now: Timestamp = "2026-01-02T03:09:06.9Z".parse().expect("time");
    assert_eq!(running_for("2026-01-02T03:04:06.8Z", now), "5 minutes ago");
}

#[test]
fn times_as_go_prints_them() {
    let utc = TimeZone::UTC;
    assert_eq!(
        go_time_in("2026-01-02T03:04:05.123400Z", true, &utc),
        "2026-01-02 03:04:05.1234 +0000 UTC"
    );
    assert_eq!(
        go_time_in("2026-01-02T03:04:05Z", true, &utc),
        "2026-01-02 03:04:05 +0000 UTC"
    );
    assert_eq!(
        go_time_in("2026-01-02T03:04:05.9Z", false, &utc),
        "2026-01-02 03:04:05 +0000 UTC"
    );
    assert_eq!(go_time_in("yesterday", false, &utc), "yesterday");
}

#[test]
fn natural_order() {
    let mut lines = vec![
        "443/tcp -> 0.0.0.0:8443",
        "80/udp -> 0.0.0.0:8080",
        "80/tcp -> 0.0.0.0:8080",
        "[::]:8080",
        "0.0.0.0:8080",
        "abc12",
        "abc2",
        "abc02",
    ];
    lines.sort_by(|a, b| natural_cmp(a, b));
    assert_eq!(
        lines,
        [
            "0.0.0.0:8080",
            "80/tcp -> 0.0.0.0:8080",
            "80/udp -> 0.0.0.0:8080",
            "443/tcp -> 0.0.0.0:8443",
            "[::]:8080",
            "abc2",
            "abc02",
            "abc12",
        ]
    );
}

#[test]
fn labels_sorted_and_joined() {
    let l = BTreeMap::from([("b".to_string(), "2".to_string()), ("a".into(), "1".into())]);
    assert_eq!(labels(&l), "a=1,b=2");
    assert_eq!(labels(&BTreeMap::new()), "");
}

#[test]
fn tables_as_docker_tabwriter() {
    let rows = |cells: &[&[&str]]| -> Vec<Vec<String>> {
        cells
            .iter()
            .map(|r| r.iter().map(|c| c.to_string()).collect())
            .collect()
    };
    assert_eq!(
        docker_table(&rows(&[
            &["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
            &["17e324f45964", "bridge", "bridge", "local"],
            &["7092879f2cc8", "a-long-name", "null", "local"],
        ])),
        [
            "NETWORK ID     NAME          DRIVER    SCOPE",
            "17e324f45964   bridge        bridge    local",
            "7092879f2cc8   a-long-name   null      local",
        ]
    );
    assert_eq!(docker_table(&rows(&[&["ID"], &["x"]])), ["ID", "x"]);
    assert!(docker_table(&[]).is_empty());
}
