//! Helpers of the IPv6 overlay tests (`tests/tests/overlay6*.rs`): a
//! container's IPv6 address, a host's IPv6 peers and networks, the
//! hosts' IPv6 addresses on the underlay, what the cluster's etcd holds,
//! and the checks that IPv6 crosses the hosts (and leaves by NAT66).

use std::time::Duration;

use serde_json::Value;

use crate::cli::CmdOutput;
use crate::etcd::Etcd;
use crate::hosts::Host;
use crate::ipv6::{client6, ping6, server6};
use crate::netns::{netns_exec, netns_exec_ok};
use crate::overlay_hosts::peers_in;
use crate::traffic::wait_within;

/// The hosts' IPv6 addresses on the underlay (`.N` → `::N`), which NAT66
/// masquerades behind.
pub const UNDERLAY6: &str = "fd00:e6:93::";

/// The container's global IPv6 address on `eth0`.
pub fn ip6_of(container: &str) -> String {
    let text = netns_exec_ok(
        container,
        &[
            "ip", "-j", "-6", "addr", "show", "dev", "eth0", "scope", "global",
        ],
    );
    let v: Value = serde_json::from_str(&text).expect("ip -j addr");
    v[0]["addr_info"][0]["local"]
        .as_str()
        .unwrap_or_else(|| panic!("{container} has no global IPv6 address: {text}"))
        .to_string()
}

/// Containers `{prefix}A1`/`{prefix}A2` on host `a` and `{prefix}B1`/
/// `{prefix}B2` on host `b`, on `networks[0]`/`networks[1]` each; their
/// global IPv6 addresses in that order, the two of each network apart.
pub fn two_on_each(a: &Host, b: &Host, prefix: &str, networks: [&str; 2]) -> [String; 4] {
    let places = [(a, "A1", 0), (a, "A2", 1), (b, "B1", 0), (b, "B2", 1)];
    let ips = places.map(|(host, suffix, net)| {
        let name = format!("{prefix}{suffix}");
        host.ok(&["container", "create", &name, "--network", networks[net]]);
        ip6_of(&name)
    });
    assert!(ips[0] != ips[2] && ips[1] != ips[3], "{ips:?}");
    ips
}

/// `network create -d overlay --ipv6 [--ipv4=false] [--subnet S]… NAME`:
/// a dual-stack overlay network, or an IPv6-only one when `ipv4` is false.
pub fn overlay6_create<'a>(name: &'a str, ipv4: bool, subnets: &[&'a str]) -> Vec<&'a str> {
    let mut args = vec!["network", "create", "-d", "overlay", "--ipv6"];
    if !ipv4 {
        args.push("--ipv4=false");
    }
    for subnet in subnets {
        args.extend(["--subnet", *subnet]);
    }
    args.push(name);
    args
}

/// The containers of [`two_on_each`] (`prefix`, their addresses `ips`)
/// reach each other across the hosts over IPv6, in each network: ping6
/// both ways between `A1` and `B1`, and from `B2` to `A2`; TCP from `A1`
/// to `B1` by address and by name (an AAAA answer from the store), `B2`
/// resolves `A2`; `A1` does not resolve `B2` of the other network, and
/// `A2` does not reach `B1`'s server.
#[track_caller]
pub fn assert_crosses_hosts6(prefix: &str, ips: &[String; 4]) {
    let [a1, a2, b1, _] = ips;
    let name = |suffix: &str| format!("{prefix}{suffix}");
    let (c_a1, c_a2, c_b1, c_b2) = (name("A1"), name("A2"), name("B1"), name("B2"));
    assert!(ping6(&c_a1, b1), "{c_a1} -> {c_b1} ({b1})");
    assert!(ping6(&c_b1, a1), "{c_b1} -> {c_a1} ({a1})");
    assert!(ping6(&c_b2, a2), "{c_b2} -> {c_a2} ({a2})");

    let _web = server6(&c_b1, 80);
    let reply = client6(&c_a1, b1, 80).stdout_str();
    assert!(
        reply.contains(&format!("hello from {c_b1} peer={a1}")),
        "TCP {c_a1} -> [{b1}]: {reply:?}"
    );
    let reply = client6(&c_a1, &c_b1, 80).stdout_str();
    assert!(
        reply.contains(&format!("peer={a1}")),
        "TCP {c_a1} -> {c_b1} by name: {reply:?}"
    );
    let found = netns_exec_ok(&c_b2, &["getent", "ahostsv6", &c_a2]);
    assert!(
        found.contains(a2.as_str()),
        "{c_b2} resolving {c_a2}: {found:?}"
    );
    let other = netns_exec(&c_a1, &["getent", "ahostsv6", &c_b2]);
    assert!(
        !other.status.success(),
        "{c_a1} resolved {c_b2} of another network"
    );
    assert!(
        client6(&c_a2, b1, 80).stdout_str().is_empty(),
        "{c_a2} reached {c_b1} of another network over TCP"
    );
}

/// From container `from` on host `a`, a TCP server on host `b` (outside
/// the overlay, at `b_ip6`) is reached by NAT66 behind `a`'s underlay
/// address `a_ip6`.
#[track_caller]
pub fn assert_nat66_out(from: &str, (b, b_ip6): (&Host, &str), a_ip6: &str) {
    let _outside = server6(&b.ns, 7070);
    let reply = client6(from, b_ip6, 7070).stdout_str();
    assert!(reply.contains(&format!("peer={a_ip6}")), "NAT66: {reply:?}");
}

/// `OVERLAY_PEERS6` of `host`, as (remote container address, host
/// address).
pub fn peers6(host: &Host) -> Vec<(String, String)> {
    peers_in(host, "OVERLAY_PEERS6")
}

/// `network inspect NETWORK` on `host`.
pub fn inspect(host: &Host, network: &str) -> Value {
    let text = host.ok(&["network", "inspect", network]);
    let v: Value = serde_json::from_str(&text).expect("inspect JSON");
    v[0].clone()
}

/// Gives the host an IPv6 address on the underlay and waits until its
/// daemon masquerades IPv6 behind it.
pub fn underlay6(host: &Host, n: u8) -> String {
    let ip = format!("{UNDERLAY6}{n}");
    let cidr = format!("{ip}/64");
    netns_exec_ok(
        &host.ns,
        &["ip", "-6", "addr", "add", &cidr, "dev", "eth0", "nodad"],
    );
    wait_within(
        "the daemon masquerades IPv6 behind the underlay",
        Duration::from_secs(10),
        || {
            host.daemon_log()
                .contains(&format!("masquerades IPv6 as {ip}"))
        },
    );
    ip
}

/// The keys under `prefix` in `etcd` and their values, as text.
pub fn etcd_keys(etcd: &Etcd, prefix: &str) -> Vec<(String, String)> {
    let (runtime, mut client) = etcd.client();
    runtime.block_on(async {
        let options = etcd_client::GetOptions::new().with_prefix();
        let answer = client.get(prefix, Some(options)).await.expect("get");
        answer
            .kvs()
            .iter()
            .map(|kv| {
                let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
                (text(kv.key()), text(kv.value()))
            })
            .collect()
    })
}
