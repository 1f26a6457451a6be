//! Helpers of the overlay tests (`tests/tests/overlay*.rs`, both
//! families): hosts of a cluster on the test underlay, what their daemons
//! list and count, their overlay maps as bpftool shows them, isolation
//! between overlay networks and the removal of all of it.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::cli::CmdOutput;
use crate::etcd::Etcd;
use crate::hosts::{self, Host, Underlay};
use crate::netns::netns_exec;
use crate::traffic::wait_within;

/// Host `letter` number `n` of the cluster kept in `etcd`.
pub fn cluster_host(underlay: &Underlay, etcd: &Etcd, letter: char, n: u8) -> Host {
    let args = [
        "--cluster-store".to_string(),
        format!("etcd://{}", etcd.endpoint()),
        "--advertise-addr".to_string(),
        format!("{}.{n}", hosts::UNDERLAY),
    ];
    underlay.host_with(letter, n, &args)
}

/// A fresh underlay, an etcd of its own on it (named after `tag`) and
/// hosts `A` (`.1`) and `B` (`.2`) of the cluster it keeps. Bind them in
/// this order (`let (underlay, etcd, a, b) = …`): they drop in reverse,
/// the hosts' daemons before their store and the underlay last.
pub fn cluster_of_two(tag: &str) -> (Underlay, Etcd, Host, Host) {
    let underlay = Underlay::create();
    let etcd = Etcd::start_on(tag, &underlay.gateway());
    let a = cluster_host(&underlay, &etcd, 'A', 1);
    let b = cluster_host(&underlay, &etcd, 'B', 2);
    (underlay, etcd, a, b)
}

/// Whether `host` lists global network `name`.
pub fn sees_network(host: &Host, name: &str) -> bool {
    host.cli(&["network", "ls", "--format", "json"])
        .stdout_str()
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .any(|n| n["Name"] == name && n["Scope"] == "global")
}

/// An address as bpftool prints a byte array: 4 bytes as IPv4, 16 as
/// IPv6.
fn address(v: &Value) -> String {
    let bytes: Vec<u8> = v
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| u8::try_from(b.as_u64().unwrap_or(0)).unwrap_or(0))
        .collect();
    match bytes.len() {
        4 => Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string(),
        16 => {
            let mut ip = [0u8; 16];
            ip.copy_from_slice(&bytes);
            Ipv6Addr::from(ip).to_string()
        }
        _ => format!("{bytes:?}"),
    }
}

/// Map `map` (`OVERLAY_PEERS` or `OVERLAY_PEERS6`) of `host`, as
/// (remote container address, host address).
pub fn peers_in(host: &Host, map: &str) -> Vec<(String, String)> {
    let path = host.pin_dir.join(map);
    let out = Command::new("bpftool")
        .args(["-j", "map", "dump", "pinned"])
        .arg(&path)
        .output()
        .unwrap_or_else(|e| panic!("bpftool: {e}"));
    assert!(out.status.success(), "bpftool map dump {}", path.display());
    let entries: Value = serde_json::from_slice(&out.stdout).expect("bpftool JSON");
    entries
        .as_array()
        .into_iter()
        .flatten()
        .map(|e| {
            let f = &e["formatted"];
            (address(&f["key"]["ip"]), address(&f["value"]["host_ip"]))
        })
        .collect()
}

/// `OVERLAY_PEERS` of `host`.
pub fn peers(host: &Host) -> Vec<(String, String)> {
    peers_in(host, "OVERLAY_PEERS")
}

/// What `stats` of `host` counts for drop reason `reason`.
pub fn drops(host: &Host, reason: &str) -> u64 {
    let stats: Value =
        serde_json::from_str(&host.ok(&["stats", "--format", "json"])).expect("stats JSON");
    stats["Drops"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|d| d["Reason"] == reason)
        .and_then(|d| d["Count"].as_u64())
        .unwrap_or(0)
}

/// Waits (10 s) until map `map` (`OVERLAY_PEERS`, `OVERLAY_PEERS6`) of
/// `host` holds every (container address, its host) of `remote`.
#[track_caller]
pub fn wait_knows(host: &Host, map: &str, remote: &[(impl AsRef<str>, &Host)]) {
    let wanted: Vec<(String, String)> = remote
        .iter()
        .map(|(ip, other)| (ip.as_ref().to_string(), other.ip.clone()))
        .collect();
    let what = format!("{} has {wanted:?} in {map}", host.ns);
    wait_within(&what, Duration::from_secs(10), || {
        let known = peers_in(host, map);
        wanted.iter().all(|peer| known.contains(peer))
    });
}

/// Containers of two overlay networks do not reach each other across
/// hosts: `ping` (of the family) fails both ways of `ways` (from, to's
/// address, to), and `host` counts isolation drops for it.
#[track_caller]
pub fn assert_apart(host: &Host, ping: fn(&str, &str) -> bool, ways: [(&str, &str, &str); 2]) {
    let before = drops(host, "isolation");
    for (from, ip, to) in ways {
        assert!(
            !ping(from, ip),
            "{from} reached {to} ({ip}) of another overlay network"
        );
    }
    assert!(
        drops(host, "isolation") > before,
        "no isolation drop counted on {}",
        host.ns
    );
}

/// Removes `containers` (each on its host), waits until `map` of both
/// hosts is empty, removes `networks` through `a`, and waits until the
/// VXLAN device is gone on both hosts with them.
#[track_caller]
pub fn remove_overlay(
    (a, b): (&Host, &Host),
    containers: &[(&Host, &str)],
    map: &str,
    networks: &[&str],
) {
    for (host, name) in containers {
        host.ok(&["container", "rm", name]);
    }
    wait_within(
        &format!("the endpoints leave {map}"),
        Duration::from_secs(10),
        || peers_in(a, map).is_empty() && peers_in(b, map).is_empty(),
    );
    let mut rm = vec!["network", "rm"];
    rm.extend_from_slice(networks);
    a.ok(&rm);
    // The local sides go on every host, and the VXLAN device with them.
    wait_within("the VXLAN devices go", Duration::from_secs(10), || {
        [a, b].iter().all(|h| {
            !netns_exec(&h.ns, &["ip", "link", "show", "ebpfnet-vxlan"])
                .status
                .success()
        })
    });
}
