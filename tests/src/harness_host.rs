//! What a [`TestEnv`](crate::TestEnv) checks of the host before it makes
//! its own objects: namespaces and links a crashed earlier run left, and
//! which uplink subnet no host interface uses yet.

use std::path::PathBuf;

use serde_json::Value;

use crate::daemon::UPLINK_NETS;
use crate::netns::{delete_link, delete_netns, ip_ok};

fn pid_alive(pid: &str) -> bool {
    PathBuf::from("/proc").join(pid).exists()
}

/// Name prefixes (before the harness's pid) of the namespaces and host
/// links tests make: the outside namespace and uplink veth, the side
/// namespace and veth of the interface-guard tests, and the LAN segment of
/// the macvlan and ipvlan tests (and the namespace one adopts), and the
/// "hosts" of the many-daemon tests (`hosts`).
const HARNESS_NETNS_PREFIXES: [&str; 6] = [
    "ebnt-out-",
    "ebnt-side-",
    "ebnt-lan-",
    "ebnt-adopt-",
    "ebnt-hostA-",
    "ebnt-hostB-",
];
const HARNESS_LINK_PREFIXES: [&str; 6] = ["ebntup", "ebntsd", "ebln", "ebhbr", "ebhA", "ebhB"];

/// Removes namespaces and links left by harness processes that no longer
/// exist (a crashed earlier run).
pub(crate) fn remove_stale_harness_objects(own_pid: u32) {
    let stale = |name: &str, prefixes: &[&str]| {
        prefixes.iter().any(|prefix| {
            name.strip_prefix(prefix)
                .is_some_and(|pid| pid == own_pid.to_string() || !pid_alive(pid))
        })
    };
    for ns in crate::netns::netns_list() {
        if stale(&ns, &HARNESS_NETNS_PREFIXES) {
            delete_netns(&ns);
        }
    }
    for link in crate::netns::host_links() {
        if stale(&link, &HARNESS_LINK_PREFIXES) {
            delete_link(&link);
        }
    }
}

/// The first of [`UPLINK_NETS`] that no host interface has an address in.
pub(crate) fn free_uplink_net() -> &'static str {
    let text = ip_ok(&["-j", "-4", "addr", "show"]);
    let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("ip -j addr: {e}"));
    let users = |prefix: &str| -> Vec<String> {
        let mut found = Vec::new();
        for link in v.as_array().into_iter().flatten() {
            for a in link["addr_info"].as_array().into_iter().flatten() {
                let local = a["local"].as_str().unwrap_or_default();
                if local.starts_with(&format!("{prefix}.")) {
                    found.push(format!("{local} on {}", link["ifname"]));
                }
            }
        }
        found
    };
    for (i, prefix) in UPLINK_NETS.iter().enumerate() {
        let found = users(prefix);
        if found.is_empty() {
            return prefix;
        }
        if i + 1 < UPLINK_NETS.len() {
            eprintln!(
                "warning: {prefix}.0/24 already in use ({}); using the next uplink subnet",
                found.join(", ")
            );
        }
    }
    panic!(
        "every uplink subnet ({UPLINK_NETS:?}) is already in use on this host \
         (another test run or a debug setup?); the end-to-end tests need one"
    );
}
