//! A test-made LAN segment for macvlan and ipvlan networks: a veth whose
//! host end (`eblnPID`, no address unless asked) is the parent, and whose
//! other end is `eth0` of an "outside" namespace (`ebnt-lan-PID`) on the
//! same L2 segment. Removed on drop; the harness sweeps its names after a
//! crash.

use serde_json::Value;

use std::time::Duration;

use crate::TestEnv;
use crate::netns::{delete_link, delete_netns, ip_ok, netns_exec_ok, python};
use crate::traffic::{drop_count, wait_for};

pub struct LanSegment {
    /// The namespace on the segment (a host of the LAN).
    pub ns: String,
    /// The host end of the veth: the networks' parent.
    pub parent: String,
}

impl LanSegment {
    /// The segment, with `outside_cidr` (`192.0.2.1/24`) on the outside
    /// namespace's `eth0`, and `host_cidr` on the parent if given.
    pub fn new(outside_cidr: &str, host_cidr: Option<&str>) -> LanSegment {
        let pid = std::process::id();
        let segment = LanSegment {
            ns: format!("ebnt-lan-{pid}"),
            parent: format!("ebln{pid}"),
        };
        delete_netns(&segment.ns);
        delete_link(&segment.parent);
        ip_ok(&["netns", "add", &segment.ns]);
        let (ns, parent) = (segment.ns.as_str(), segment.parent.as_str());
        ip_ok(&[
            "link", "add", parent, "type", "veth", "peer", "name", "eth0", "netns", ns,
        ]);
        if let Some(cidr) = host_cidr {
            ip_ok(&["addr", "add", cidr, "dev", parent]);
        }
        ip_ok(&["link", "set", parent, "up"]);
        netns_exec_ok(ns, &["ip", "link", "set", "lo", "up"]);
        netns_exec_ok(ns, &["ip", "addr", "add", outside_cidr, "dev", "eth0"]);
        netns_exec_ok(ns, &["ip", "link", "set", "eth0", "up"]);
        segment
    }

    /// Runs `ip ARGS` in the outside namespace.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut cmd = vec!["ip"];
        cmd.extend_from_slice(args);
        netns_exec_ok(&self.ns, &cmd)
    }
}

impl Drop for LanSegment {
    fn drop(&mut self) {
        delete_netns(&self.ns);
        delete_link(&self.parent);
    }
}

/// A dual-stack LAN of `lan4.0/24` (`192.0.2`) and `lan6/64`
/// (`2001:db8:e8::`), the outside namespace at `.1` and `::1` of them.
#[derive(Clone, Copy)]
pub struct DualStackLan<'a> {
    pub lan4: &'a str,
    pub lan6: &'a str,
}

impl DualStackLan<'_> {
    /// The segment, its outside namespace at `.1` and `::1` (no DAD).
    pub fn segment(self) -> LanSegment {
        let lan = LanSegment::new(&format!("{}.1/24", self.lan4), None);
        let cidr6 = format!("{}1/64", self.lan6);
        lan.ip(&["-6", "addr", "add", &cidr6, "dev", "eth0", "nodad"]);
        lan
    }

    /// Creates network `name` on `parent` with both subnets (gateways the
    /// outside namespace's addresses) and `--ipv6`, then `extra`
    /// (`-d macvlan`, ...).
    pub fn create_network(self, env: &TestEnv, name: &str, parent: &str, extra: &[&str]) {
        let (subnet4, gateway4) = (format!("{}.0/24", self.lan4), format!("{}.1", self.lan4));
        let (subnet6, gateway6) = (format!("{}/64", self.lan6), format!("{}1", self.lan6));
        let parent = format!("parent={parent}");
        let mut args = vec!["-o", &parent, "--subnet", &subnet4, "--gateway", &gateway4];
        args.extend(["--ipv6", "--subnet", &subnet6, "--gateway", &gateway6]);
        args.extend_from_slice(extra);
        env.create_network(name, &args);
    }
}

/// The kind (`macvlan`, `ipvlan`, `veth`, …) of `dev` in `ns`, or of the
/// host's `dev` when `ns` is `None`.
pub fn link_kind(ns: Option<&str>, dev: &str) -> String {
    let args = ["ip", "-d", "-j", "link", "show", "dev", dev];
    let text = match ns {
        Some(ns) => netns_exec_ok(ns, &args),
        None => ip_ok(&args[1..]),
    };
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("ip -d -j link show {dev}: bad JSON ({e}): {text}"));
    v[0]["linkinfo"]["info_kind"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The IPv4 routes of `ns`, one `ip route` line each.
pub fn routes(ns: &str) -> String {
    netns_exec_ok(ns, &["ip", "-4", "route", "show"])
}

/// The arguments of `network create NAME -d DRIVER OPTS...`.
pub fn create_args<'a>(name: &'a str, driver: &'a str, opts: &[&'a str]) -> Vec<&'a str> {
    [&["network", "create", name, "-d", driver][..], opts].concat()
}

/// The row named `name` of a `network ls` answer, if it is listed.
pub fn network_row<'a>(list: &'a Value, name: &str) -> Option<&'a Value> {
    list.as_array()?.iter().find(|n| n["Name"] == name)
}

/// Asserts that `network ls` does not list `name`.
#[track_caller]
pub fn assert_unlisted(env: &TestEnv, name: &str) {
    let ls = env.json(&["network", "ls"]);
    assert!(network_row(&ls, name).is_none(), "{ls:#}");
}

/// Sends hex frame ARGV[2] ARGV[3] times on ARGV[1]; prints how many the
/// device refused. A drop at the parent's TC egress comes back to the
/// container's socket as ENOBUFS (the macvlan transmit is synchronous).
const SEND: &str = r#"
import errno, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
refused = 0
for _ in range(int(sys.argv[3])):
    try:
        s.send(bytes.fromhex(sys.argv[2]))
    except OSError as e:
        if e.errno != errno.ENOBUFS:
            raise
        refused += 1
    time.sleep(0.05)
print(refused)
"#;

/// Sends `frame` `count` times from `ns`'s eth0; returns how many the
/// kernel reported dropped on the way out.
pub fn send(ns: &str, frame: &[u8], count: u32) -> u32 {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    let out = netns_exec_ok(
        ns,
        &[python(), "-c", SEND, "eth0", &hex, &count.to_string()],
    );
    out.trim()
        .parse()
        .unwrap_or_else(|e| panic!("sender printed {out:?}: {e}"))
}

/// Every copy of `frame` from `ns` is dropped, counted as `reason`.
#[track_caller]
pub fn assert_dropped(env: &TestEnv, ns: &str, frame: &[u8], reason: &str) {
    let before = drop_count(env, reason);
    let refused = send(ns, frame, 3);
    assert_eq!(refused, 3, "frames refused on the way out ({reason})");
    assert!(
        wait_for(Duration::from_secs(5), || drop_count(env, reason)
            >= before + 3),
        "not counted as {reason}: {before} -> {}",
        drop_count(env, reason)
    );
}
