//! The state file: round trips, older files, refused ones.

use std::{fs, path::Path};

use super::*;
use crate::testing::fixtures;

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ebpfnet-state-{tag}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    dir
}

fn sample() -> State {
    let mut state = State::default();
    state.networks.insert(
        "bridge".into(),
        Network {
            id: "ab".repeat(32),
            bridge: "ebpfnet0".into(),
            created: "2026-01-01T00:00:00Z".into(),
            ..fixtures::network("bridge", "10.214.0.0/16")
        },
    );
    state
}

#[test]
fn round_trips() {
    let dir = temp_dir("rt");
    let store = Store::new(&dir);
    assert_eq!(store.load().expect("empty"), State::default());
    store.save(&sample()).expect("save");
    assert_eq!(store.load().expect("load"), sample());
    assert!(!dir.join("state.json.tmp").exists());
    store.remove().expect("remove");
    assert_eq!(store.load().expect("empty again"), State::default());
    assert!(!dir.exists(), "an emptied state dir is removed");
}

#[test]
fn older_files_get_number_zero_and_numbers_fill_gaps() {
    let mut state = sample();
    let mut text = serde_json::to_value(&state).expect("json");
    text["networks"]["bridge"]
        .as_object_mut()
        .expect("object")
        .remove("number");
    let old: State = serde_json::from_value(text).expect("old file");
    assert_eq!(old.networks["bridge"].number, 0);
    assert_eq!(state.free_network_number(), 2);
    let mut other = state.networks["bridge"].clone();
    other.number = 3;
    state.networks.insert("other".into(), other);
    assert_eq!(state.free_network_number(), 2);
}

#[test]
fn ipv6_fields_round_trip_and_older_files_have_none() {
    let mut state = sample();
    let six = Ipv6Config {
        subnet: "fd00:eb::/64".parse().expect("cidr"),
        gateway: "fd00:eb::1".parse().expect("ip"),
    };
    if let Some(n) = state.networks.get_mut("bridge") {
        n.ipv6 = Some(six);
    }
    let text = encode(&state);
    assert!(String::from_utf8_lossy(&text).contains("fd00:eb::/64"));
    let back = decode(Path::new("state.json"), &text).expect("decode");
    assert_eq!(back.networks["bridge"].ipv6, Some(six));
    // A file of a daemon without IPv6: no `ipv6` key, no `ip6` key.
    let old = br#"{"version":1,"networks":{"n":{"id":"x","name":"n",
        "subnet":"10.1.0.0/24","gateway":"10.1.0.1","internal":false,"bridge":"b",
        "created":"c","number":1}},"containers":{"c":{"id":"y","name":"c","created":"c",
        "endpoints":[{"id":"e","network":"n","ip":"10.1.0.2","mac":[2,66,10,1,0,2],
        "ifname":"eth0","host_veth":"v"}]}}}"#;
    let old = decode(Path::new("state.json"), old).expect("old file loads");
    assert_eq!(old.networks["n"].ipv6, None);
    assert_eq!(old.containers["c"].endpoints[0].ip6, None);
}

#[test]
fn corrupt_and_future_files_are_refused() {
    let dir = temp_dir("bad");
    fs::create_dir_all(&dir).expect("mkdir");
    fs::write(dir.join(STATE_FILE), b"{not json").expect("write");
    let err = Store::new(&dir).load().expect_err("corrupt");
    assert!(err.to_string().contains("is corrupt"), "{err}");
    fs::write(
        dir.join(STATE_FILE),
        br#"{"version":99,"networks":{},"containers":{}}"#,
    )
    .expect("write");
    let err = Store::new(&dir).load().expect_err("future");
    assert!(err.to_string().contains("format version 99"), "{err}");
    fs::remove_dir_all(&dir).expect("cleanup");
}

#[test]
fn ipv6_only_networks_round_trip_and_half_an_ipv4_side_is_refused() {
    let mut state = sample();
    let mut six = state.networks["bridge"].clone();
    six.name = "six".into();
    (six.subnet, six.gateway) = (None, None);
    six.ipv6 = Some(Ipv6Config {
        subnet: "fd00:6::/64".parse().expect("cidr"),
        gateway: "fd00:6::1".parse().expect("ip"),
    });
    state.networks.insert("six".into(), six);
    let text = encode(&state);
    let json: serde_json::Value = serde_json::from_slice(&text).expect("json");
    let written = json["networks"]["six"].as_object().expect("object");
    assert!(!written.contains_key("subnet") && !written.contains_key("gateway"));
    // Files written before IPv6-only networks have "subnet"/"gateway"
    // on every network, as before.
    assert!(json["networks"]["bridge"]["subnet"].is_string());
    let path = Path::new("state.json");
    assert_eq!(decode(path, &text).expect("round trip"), state);
    let mut broken = json.clone();
    broken["networks"]["bridge"]
        .as_object_mut()
        .expect("object")
        .remove("gateway");
    let text = serde_json::to_vec(&broken).expect("json");
    let err = decode(path, &text).expect_err("subnet without gateway");
    assert!(err.to_string().contains("network bridge"), "{err}");
    let mut neither = json;
    neither["networks"]["six"]
        .as_object_mut()
        .expect("object")
        .remove("ipv6");
    let text = serde_json::to_vec(&neither).expect("json");
    let err = decode(path, &text).expect_err("neither family");
    assert!(err.to_string().contains("needs an IPv4 subnet"), "{err}");
}

#[test]
fn published_ports_of_older_files_load_and_ipv6_ones_round_trip() {
    // A daemon before IPv6 publishing wrote IPv4 host addresses only.
    let old = br#"{"version":1,"networks":{},"containers":{"c":{"id":"y","name":"c",
        "created":"c","endpoints":[],"ports":[
        {"host_ip":"0.0.0.0","host_port":8080,"container_port":80,"protocol":"tcp"},
        {"host_ip":"127.0.0.1","host_port":9000,"container_port":90,"protocol":"udp",
         "count":2}]}}}"#;
    let old = decode(Path::new("state.json"), old).expect("old file loads");
    let ports: Vec<String> = old.containers["c"]
        .ports
        .iter()
        .map(ToString::to_string)
        .collect();
    assert_eq!(
        ports,
        [
            "80/tcp -> 0.0.0.0:8080",
            "90/udp -> 127.0.0.1:9000",
            "91/udp -> 127.0.0.1:9001"
        ]
    );
    let mut state = old;
    if let Some(c) = state.containers.get_mut("c") {
        c.ports.push(crate::portspec::PortMapping {
            host_ip: "2001:db8::1".parse().expect("ip"),
            host_port: 8080,
            container_port: 80,
            protocol: crate::portspec::Protocol::Tcp,
        });
    }
    let text = encode(&state);
    assert!(String::from_utf8_lossy(&text).contains(r#""host_ip": "2001:db8::1""#));
    let back = decode(Path::new("state.json"), &text).expect("decode");
    assert_eq!(back, state);
}
