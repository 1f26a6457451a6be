//! Helpers of the IPv6 overlay tests (`tests/tests/overlay6*.rs`): a
//! container's IPv6 address, a host's IPv6 peers and networks, the
//! hosts' IPv6 addresses on the underlay, and what the cluster's etcd
//! holds.

use std::time::Duration;

use serde_json::Value;

use crate::etcd::Etcd;
use crate::hosts::Host;
use crate::netns::netns_exec_ok;
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
