//! The protocol's lines: every request survives encoding and decoding, a
//! request line wraps the unversioned request unchanged, and lines of
//! another version are refused by their version.

use std::net::Ipv4Addr;

use serde_json::json;

use super::{observe::FlowView, request::*, response::unversioned_refusal, *};
use crate::{
    netconf::{HostEntry, LinkSpec},
    portspec::{PortMapping, PortRequest, Protocol},
};

fn names() -> Vec<String> {
    vec!["a".into(), "b".into()]
}

fn port_request() -> PortRequest {
    PortRequest {
        host_ip: Some(Ipv4Addr::LOCALHOST.into()),
        host_port: Some(8000),
        host_port_end: Some(8010),
        container_port: 80,
        protocol: Protocol::Udp,
    }
}

pub(super) fn mapping() -> PortMapping {
    PortMapping {
        host_ip: Ipv4Addr::UNSPECIFIED.into(),
        host_port: 8080,
        container_port: 80,
        protocol: Protocol::Tcp,
    }
}

/// One request of every kind, with its optional fields set.
pub(super) fn every_request() -> Vec<Request> {
    let options = ContainerOptions {
        network: Some("front".into()),
        ip: Some(Ipv4Addr::new(10, 1, 0, 9)),
        ip6: Some("fd00:1::9".parse().expect("ip")),
        ports: vec![port_request()],
        hostname: Some("web".into()),
        aliases: vec!["www".into()],
        links: vec![LinkSpec {
            container: "db".into(),
            alias: Some("database".into()),
        }],
        extra_hosts: vec![HostEntry {
            name: "gw".into(),
            ip: "10.0.0.1".parse().expect("ip"),
        }],
        dns: vec![Ipv4Addr::new(1, 1, 1, 1)],
        netns: Some("/run/netns/other".into()),
        pid: Some(42),
        ifname: Some("net1".into()),
        mac: Some([0x02, 0, 0, 0, 0, 0x09]),
        labels: [("tier".to_string(), "front".to_string())].into(),
    };
    vec![
        NetworkCreate {
            name: "front".into(),
            subnet: Some("10.1.0.0/24".parse().expect("cidr")),
            gateway: Some(Ipv4Addr::new(10, 1, 0, 1)),
            internal: true,
            driver: None,
            options: Default::default(),
            ipv6: crate::controller::ipv6::Ipv6Request {
                enable: true,
                subnet: Some("fd00:1::/64".parse().expect("cidr")),
                gateway: Some("fd00:1::fe".parse().expect("ip")),
                only: false,
                routed: false,
            },
        }
        .into(),
        NetworkCreate {
            name: "ov".into(),
            subnet: None,
            gateway: None,
            internal: false,
            driver: Some("overlay".into()),
            options: Default::default(),
            ipv6: Default::default(),
        }
        .into(),
        NetworkCreate {
            name: "lan".into(),
            subnet: Some("192.168.1.0/24".parse().expect("cidr")),
            gateway: Some(Ipv4Addr::new(192, 168, 1, 1)),
            internal: false,
            driver: Some("macvlan".into()),
            options: [("parent".to_string(), "eth0".to_string())].into(),
            ipv6: Default::default(),
        }
        .into(),
        NetworkList.into(),
        NetworkRemove { names: names() }.into(),
        NetworkInspect { names: names() }.into(),
        NetworkConnect {
            network: "front".into(),
            container: "web".into(),
            ip: Some(Ipv4Addr::new(10, 1, 0, 5)),
            ip6: Some("fd00:1::5".parse().expect("ip")),
            aliases: vec!["www".into()],
        }
        .into(),
        NetworkDisconnect {
            network: "front".into(),
            container: "web".into(),
        }
        .into(),
        ContainerCreate {
            name: "web".into(),
            options,
        }
        .into(),
        ContainerList.into(),
        ContainerRemove { names: names() }.into(),
        ContainerInspect { names: names() }.into(),
        Publish {
            container: "web".into(),
            ports: vec![port_request()],
        }
        .into(),
        Unpublish {
            container: "web".into(),
            ports: vec![port_request()],
        }
        .into(),
        Port {
            container: "web".into(),
        }
        .into(),
        Flows.into(),
        Stats.into(),
        Status.into(),
        Reset.into(),
        NetworkPrune.into(),
    ]
}

#[test]
fn every_request_survives_the_wire() {
    let requests = every_request();
    for request in &requests {
        let line = RequestEnvelope::new(request.clone())
            .encode()
            .expect("encodes");
        let decoded = RequestEnvelope::decode(&line).expect(&line);
        assert_eq!(decoded.api_version, API_VERSION);
        assert_eq!(&decoded.request, request, "{line}");
    }
    // The match fails to compile when a request is added without a sample.
    let mut covered = [false; 18];
    for request in &requests {
        let index = match request {
            Request::NetworkCreate(_) => 0,
            Request::NetworkList(_) => 1,
            Request::NetworkRemove(_) => 2,
            Request::NetworkInspect(_) => 3,
            Request::NetworkConnect(_) => 4,
            Request::NetworkDisconnect(_) => 5,
            Request::ContainerCreate(_) => 6,
            Request::ContainerList(_) => 7,
            Request::ContainerRemove(_) => 8,
            Request::ContainerInspect(_) => 9,
            Request::Publish(_) => 10,
            Request::Unpublish(_) => 11,
            Request::Port(_) => 12,
            Request::Flows(_) => 13,
            Request::Stats(_) => 14,
            Request::Status(_) => 15,
            Request::Reset(_) => 16,
            Request::NetworkPrune(_) => 17,
        };
        covered[index] = true;
    }
    assert!(covered.iter().all(|c| *c), "{covered:?}");
}

#[test]
fn a_request_line_wraps_the_unversioned_request_unchanged() {
    let line = RequestEnvelope::new(NetworkCreate {
        name: "front".into(),
        subnet: None,
        gateway: Some(Ipv4Addr::new(10, 1, 0, 1)),
        internal: false,
        driver: None,
        options: Default::default(),
        ipv6: Default::default(),
    })
    .encode()
    .expect("encodes");
    let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(
        value,
        json!({"api_version": 2, "request": {"op": "network_create", "name": "front",
               "subnet": null, "gateway": "10.1.0.1", "internal": false}})
    );
    let line = RequestEnvelope::new(Flows).encode().expect("encodes");
    assert_eq!(line, r#"{"api_version":2,"request":{"op":"flows"}}"#);
    // Options sit next to the name, as before versioning.
    let line = RequestEnvelope::new(ContainerCreate {
        name: "web".into(),
        options: ContainerOptions::default(),
    })
    .encode()
    .expect("encodes");
    let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    let request = &value["request"];
    assert_eq!(request["op"], "container_create");
    assert_eq!(request["name"], "web");
    assert_eq!(request["network"], serde_json::Value::Null);
    assert_eq!(request["ports"], json!([]));
}

/// A daemon from before versioning read a line as a bare `Request`: a
/// versioned line must fail that read, so such a daemon refuses it before
/// acting on it.
#[test]
fn a_daemon_from_before_versioning_cannot_act_on_a_versioned_request() {
    for request in every_request() {
        let line = RequestEnvelope::new(request).encode().expect("encodes");
        let err = serde_json::from_str::<Request>(&line).expect_err(&line);
        assert!(err.to_string().contains("missing field `op`"), "{err}");
    }
}

#[test]
fn optional_request_fields_may_be_left_out() {
    let line = r#"{"api_version":2,"request":{"op":"network_connect","network":"n","container":"c","ip":null}}"#;
    let decoded = RequestEnvelope::decode(line).expect("decodes");
    assert_eq!(
        decoded.request,
        Request::NetworkConnect(NetworkConnect {
            network: "n".into(),
            container: "c".into(),
            ip: None,
            ip6: None,
            aliases: Vec::new(),
        })
    );
}

#[test]
fn the_daemon_refuses_a_request_of_another_version_by_its_version() {
    // Checked before the op, which another version may not have.
    let err = RequestEnvelope::decode(r#"{"api_version":3,"request":{"op":"frobnicate"}}"#)
        .expect_err("version 3");
    assert!(
        matches!(err, RequestError::VersionMismatch { client: 3 }),
        "{err:?}"
    );
    let message = err.to_string();
    assert!(
        message.contains("version mismatch") && message.contains("version 3"),
        "{message}"
    );
    assert!(
        message.contains(&format!("version {API_VERSION}")),
        "{message}"
    );
}

#[test]
fn the_daemon_tells_an_unversioned_cli_so_in_the_shape_it_reads() {
    let err = RequestEnvelope::decode(r#"{"op":"network_list"}"#).expect_err("unversioned");
    assert!(matches!(err, RequestError::Unversioned), "{err:?}");
    let line = unversioned_refusal(&err.to_string()).expect("encodes");
    let value: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(value, json!({"error": err.to_string()}));
    assert!(err.to_string().contains("older than the daemon"), "{err}");
}

#[test]
fn malformed_requests_are_refused_as_such() {
    for line in [
        "not json",
        r#"{"api_version":2,"request":{"op":"frobnicate"}}"#,
        r#"{"api_version":2,"request":{"op":"network_remove"}}"#,
        r#"{"api_version":2,"op":"flows"}"#,
        r#"{"api_version":"1","request":{"op":"flows"}}"#,
    ] {
        let err = RequestEnvelope::decode(line).expect_err(line);
        assert!(matches!(err, RequestError::Malformed(_)), "{line}: {err:?}");
        assert!(err.to_string().starts_with("malformed request: "), "{err}");
    }
}

#[test]
fn the_cli_refuses_an_answer_of_another_version_by_its_version() {
    let err = ResponseEnvelope::<Vec<FlowView>>::decode(r#"{"api_version":3,"ok":{"New":1}}"#)
        .expect_err("version 3");
    assert!(
        matches!(err, ResponseError::VersionMismatch { daemon: Some(3) }),
        "{err:?}"
    );
    assert!(
        err.to_string().contains("the daemon speaks version 3"),
        "{err}"
    );
    // A daemon from before versioning answers `{"ok": …}`.
    let err = ResponseEnvelope::<String>::decode(r#"{"ok":"3f9c"}"#).expect_err("unversioned");
    assert!(
        matches!(err, ResponseError::VersionMismatch { daemon: None }),
        "{err:?}"
    );
    assert!(err.to_string().contains("older than versioning"), "{err}");
}

#[test]
fn refusals_and_garbage_are_told_apart() {
    let line = ResponseEnvelope::<String>::new(Outcome::Error("no such network x".into()))
        .encode()
        .expect("encodes");
    assert_eq!(line, r#"{"api_version":2,"error":"no such network x"}"#);
    let err = ResponseEnvelope::<String>::decode(&line).expect_err("refusal");
    assert!(matches!(&err, ResponseError::Refused(m) if m == "no such network x"));
    assert_eq!(err.to_string(), "no such network x");
    for line in [
        "",
        "{",
        r#"{"api_version":2,"ok":42}"#,
        r#"{"api_version":2}"#,
    ] {
        let err = ResponseEnvelope::<String>::decode(line).expect_err(line);
        assert!(
            matches!(err, ResponseError::Malformed(_)),
            "{line}: {err:?}"
        );
    }
}
