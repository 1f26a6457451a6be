//! Golden `ls` outputs: the table, `-q`, and the JSON lines with Docker's
//! keys.

use std::{collections::BTreeMap, net::Ipv4Addr};

use super::*;
use crate::portspec::{PortMapping, Protocol};

const WEB_ID: &str = "0123456789ab0123456789ab0123456789ab0123456789ab0123456789abcdef";
const BOX_ID: &str = "fedcba987654fedcba987654fedcba987654fedcba987654fedcba9876543210";

fn tcp(host_port: u16, container_port: u16) -> PortMapping {
    PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port,
        container_port,
        protocol: Protocol::Tcp,
    }
}

fn containers() -> Vec<ContainerSummary> {
    vec![
        ContainerSummary {
            id: WEB_ID.into(),
            short_id: WEB_ID[..12].into(),
            name: "web".into(),
            networks: BTreeMap::from([
                ("back".into(), "10.215.0.2".into()),
                ("front".into(), "10.216.0.2".into()),
            ]),
            ports: vec![
                tcp(8002, 8002),
                tcp(8080, 80),
                tcp(8000, 8000),
                tcp(8001, 8001),
            ],
            created: "2026-01-02T03:04:06.5Z".into(),
            labels: BTreeMap::from([("tier".into(), "front".into()), ("a".into(), "b".into())]),
        },
        ContainerSummary {
            id: BOX_ID.into(),
            short_id: BOX_ID[..12].into(),
            name: "side".into(),
            networks: BTreeMap::from([("container:web".into(), String::new())]),
            ports: Vec::new(),
            created: "2026-01-02T03:05:00Z".into(),
            labels: BTreeMap::new(),
        },
    ]
}

fn networks() -> Vec<NetworkSummary> {
    let network =
        |name: &str, id: &str, driver: &str, subnet: Option<&str>, internal| NetworkSummary {
            enable_ipv6: false,
            id: id.into(),
            name: name.into(),
            driver: driver.into(),
            scope: "local".into(),
            internal,
            created: "2026-01-02T03:04:05.123Z".into(),
            subnet: subnet.map(|s| s.parse().expect("cidr")),
            gateway: None,
            bridge: None,
            labels: Default::default(),
        };
    vec![
        network(
            "net10",
            &WEB_ID.replace('0', "a"),
            "bridge",
            Some("10.1.0.0/24"),
            true,
        ),
        network("none", &BOX_ID.replace('f', "1"), "null", None, false),
        network("net9", WEB_ID, "bridge", Some("10.2.0.0/24"), false),
        network("host", BOX_ID, "host", None, false),
        network(
            "bridge",
            &BOX_ID.replace('f', "2"),
            "bridge",
            Some("10.214.0.0/16"),
            false,
        ),
    ]
}

#[test]
fn container_table_newest_first_with_docker_ports() {
    let lines =
        container_lines(containers(), ListArgs::default(), &FormatArg::Table).expect("lines");
    assert_eq!(
        lines,
        [
            "CONTAINER ID   NAME      NETWORKS        IP ADDRESS              PORTS",
            // Docker pads an empty cell too, and trims nothing.
            "fedcba987654   side      container:web                           ",
            "0123456789ab   web       back,front      10.215.0.2,10.216.0.2   \
             0.0.0.0:8000-8002->8000-8002/tcp, 0.0.0.0:8080->80/tcp",
        ]
    );
}

#[test]
fn quiet_lists_ids_only() {
    let quiet = ListArgs {
        quiet: true,
        no_trunc: false,
    };
    // -q wins over --format, as in Docker.
    assert_eq!(
        container_lines(containers(), quiet, &FormatArg::Json).expect("lines"),
        [&BOX_ID[..12], &WEB_ID[..12]]
    );
    let full = ListArgs {
        quiet: true,
        no_trunc: true,
    };
    assert_eq!(
        network_lines(networks(), full, &FormatArg::Table).expect("lines")[0],
        BOX_ID.replace('f', "2")
    );
}

#[test]
fn container_json_has_docker_keys() {
    let now: Timestamp = "2026-01-02T03:09:07Z".parse().expect("time");
    let web = &containers()[0];
    let json = container_json(web, ListArgs::default(), now);
    // CreatedAt is in this host's zone; its form is Go's.
    let created = go_time(&web.created, false);
    assert!(
        created.starts_with("2026-01-0") && created.len() >= 25,
        "{created}"
    );
    assert_eq!(
        json,
        serde_json::json!({
            "CreatedAt": created,
            "ID": "0123456789ab",
            "Labels": "a=b,tier=front",
            "Names": "web",
            "Networks": "back,front",
            "Ports": "0.0.0.0:8000-8002->8000-8002/tcp, 0.0.0.0:8080->80/tcp",
            "RunningFor": "5 minutes ago",
        })
    );
    let side = container_json(&containers()[1], ListArgs::default(), now);
    assert_eq!(
        side["Networks"], "",
        "container: mode has no network of its own"
    );
    assert_eq!(side["Ports"], "");
    // One object a line.
    let lines =
        container_lines(containers(), ListArgs::default(), &FormatArg::Json).expect("lines");
    assert_eq!(lines.len(), 2);
    assert!(
        lines
            .iter()
            .all(|l| !l.contains('\n') && l.starts_with('{'))
    );
}

#[test]
fn network_table_in_natural_order_with_the_modes() {
    let lines = network_lines(networks(), ListArgs::default(), &FormatArg::Table).expect("lines");
    assert_eq!(
        lines,
        [
            // `docker network ls` to the space: columns at least 10 wide.
            "NETWORK ID     NAME      DRIVER    SCOPE",
            "2edcba987654   bridge    bridge    local",
            "fedcba987654   host      host      local",
            "0123456789ab   net9      bridge    local",
            "a123456789ab   net10     bridge    local",
            "1edcba987654   none      null      local",
        ]
    );
}

#[test]
fn network_json_has_docker_keys() {
    let lines = network_lines(networks(), ListArgs::default(), &FormatArg::Json).expect("lines");
    let values: Vec<Value> = lines
        .iter()
        .map(|l| serde_json::from_str(l).expect("a JSON object a line"))
        .collect();
    let created = go_time("2026-01-02T03:04:05.123Z", true);
    assert!(created.contains(":05.123 "), "{created}");
    assert_eq!(
        values[3],
        serde_json::json!({
            "CreatedAt": created,
            "Driver": "bridge",
            "ID": "a123456789ab",
            "IPv4": "true",
            "IPv6": "false",
            "Internal": "true",
            "Labels": "",
            "Name": "net10",
            "Scope": "local",
        })
    );
    assert_eq!(values[4]["Driver"], "null");
    assert_eq!(values[4]["IPv4"], "true", "as Docker's none");
}

#[test]
fn network_labels_show_as_docker_shows_them() {
    let mut networks = networks();
    networks[0].labels = [
        ("ebpfnet.owner".to_string(), "docker".to_string()),
        ("ebpfnet.docker.network-id".to_string(), "3f1e".to_string()),
    ]
    .into();
    let lines = network_lines(
        networks,
        ListArgs::default(),
        &FormatArg::Go("{{.Name}} {{.Labels}}".into()),
    )
    .expect("lines");
    assert!(
        lines.contains(&"net10 ebpfnet.docker.network-id=3f1e,ebpfnet.owner=docker".to_string()),
        "{lines:?}"
    );
}

#[test]
fn go_templates_on_docker_keys() {
    let go = |t: &str| FormatArg::Go(t.into());
    assert_eq!(
        container_lines(
            containers(),
            ListArgs::default(),
            &go("{{.Names}} {{.Ports}}")
        )
        .expect("lines"),
        [
            "side ",
            "web 0.0.0.0:8000-8002->8000-8002/tcp, 0.0.0.0:8080->80/tcp"
        ]
    );
    assert_eq!(
        network_lines(
            networks(),
            ListArgs::default(),
            &go("table {{.Name}}\t{{.Driver}}")
        )
        .expect("lines"),
        [
            "NAME      DRIVER",
            "bridge    bridge",
            "host      host",
            "net9      bridge",
            "net10     bridge",
            "none      null",
        ]
    );
    let err = network_lines(networks(), ListArgs::default(), &go("{{.Name"));
    assert!(err.is_err());
}
