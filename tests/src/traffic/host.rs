//! Guards for host-global changes (addresses, sysctls, iptables policy),
//! bpftool dumps and small waits.

use std::path::Path;
use std::process::Command;
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::clients::many_clients;
use crate::TestEnv;
use crate::cli::{CmdOutput, describe, run, run_timeout};
use crate::netns::{netns_exec, python};

/// `sysctl -n NAME` (`None` when the key does not exist).
pub fn sysctl(name: &str) -> Option<String> {
    let p = Path::new("/proc/sys").join(name.replace('.', "/"));
    std::fs::read_to_string(p)
        .ok()
        .map(|s| s.trim().to_string())
}

fn sysctl_write(name: &str, value: &str) {
    let out = run(
        Command::new("sysctl").args(["-w", &format!("{name}={value}")]),
        None,
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "{}", describe("sysctl -w", &out));
}

/// Sets a sysctl; the old value comes back on drop.
pub struct SysctlGuard {
    name: String,
    old: String,
}

impl SysctlGuard {
    pub fn set(name: &str, value: &str) -> SysctlGuard {
        let old = sysctl(name).unwrap_or_else(|| panic!("sysctl {name} does not exist"));
        let g = SysctlGuard {
            name: name.to_string(),
            old,
        };
        sysctl_write(name, value);
        g
    }
}

impl Drop for SysctlGuard {
    fn drop(&mut self) {
        let _ = run_timeout(
            Command::new("sysctl").args(["-w", &format!("{}={}", self.name, self.old)]),
            None,
            Duration::from_secs(10),
        );
    }
}

/// `iptables -P FORWARD DROP`; the old policy comes back on drop.
pub struct ForwardPolicyGuard {
    old: String,
}

impl ForwardPolicyGuard {
    pub fn drop_policy() -> ForwardPolicyGuard {
        let rules = run(
            Command::new("iptables").args(["-S", "FORWARD"]),
            None,
            Duration::from_secs(10),
        );
        assert!(
            rules.status.success(),
            "{}",
            describe("iptables -S", &rules)
        );
        let old = rules
            .stdout_str()
            .lines()
            .find_map(|l| l.strip_prefix("-P FORWARD ").map(str::to_string))
            .expect("iptables -S FORWARD shows the policy");
        let g = ForwardPolicyGuard { old };
        let out = run(
            Command::new("iptables").args(["-P", "FORWARD", "DROP"]),
            None,
            Duration::from_secs(10),
        );
        assert!(out.status.success(), "{}", describe("iptables -P", &out));
        g
    }
}

impl Drop for ForwardPolicyGuard {
    fn drop(&mut self) {
        let _ = run_timeout(
            Command::new("iptables").args(["-P", "FORWARD", &self.old]),
            None,
            Duration::from_secs(10),
        );
    }
}

/// An extra address on a host link, removed on drop.
pub struct HostAddrGuard {
    cidr: String,
    dev: String,
}

impl HostAddrGuard {
    pub fn add(cidr: &str, dev: &str) -> HostAddrGuard {
        crate::netns::ip_ok(&["addr", "add", cidr, "dev", dev]);
        HostAddrGuard {
            cidr: cidr.to_string(),
            dev: dev.to_string(),
        }
    }
}

impl Drop for HostAddrGuard {
    fn drop(&mut self) {
        let _ = crate::netns::ip(&["addr", "del", &self.cidr, "dev", &self.dev]);
    }
}

/// `bpftool -j map dump pinned PATH`.
pub fn bpftool_dump(path: &Path) -> Value {
    let out = run(
        Command::new("bpftool")
            .args(["-j", "map", "dump", "pinned"])
            .arg(path),
        None,
        Duration::from_secs(20),
    );
    assert!(
        out.status.success(),
        "{}",
        describe(&format!("bpftool map dump pinned {}", path.display()), &out)
    );
    serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("bpftool output is not JSON ({e}): {}", out.stdout_str()))
}

/// The masquerade port range from the pinned `CONFIG` map.
pub fn masq_range(env: &TestEnv) -> (u16, u16) {
    let dump = bpftool_dump(&env.pin_dir.join("CONFIG"));
    let v = &dump[0]["formatted"]["value"];
    let get = |k: &str| {
        v[k].as_u64()
            .unwrap_or_else(|| panic!("CONFIG has no formatted {k}: {dump:#}")) as u16
    };
    (get("masq_port_min"), get("masq_port_max"))
}

/// Field `field` (`Entries`, `MaxEntries`) of pinned map `map` in
/// `ebpfnet status --format json`.
pub fn status_map_field(env: &TestEnv, map: &str, field: &str) -> u64 {
    let status = env.json(&["status"]);
    status["Maps"]
        .as_array()
        .and_then(|maps| maps.iter().find(|m| m["Name"] == map))
        .and_then(|m| m[field].as_u64())
        .unwrap_or_else(|| panic!("status has no {field} of map {map}: {status:#}"))
}

/// Entries of pinned map `map`, from `ebpfnet status`.
pub fn map_entries(env: &TestEnv, map: &str) -> u64 {
    status_map_field(env, map, "Entries")
}

/// Count of drop reason `reason` in `ebpfnet stats --format json`.
pub fn drop_count(env: &TestEnv, reason: &str) -> u64 {
    let st = env.json(&["stats"]);
    st["Drops"]
        .as_array()
        .and_then(|a| a.iter().find(|d| d["Reason"] == reason))
        .and_then(|d| d["Count"].as_u64())
        .unwrap_or_else(|| panic!("stats has no drop reason {reason}: {st:#}"))
}

/// Polls `cond` every 100 ms for up to `timeout`.
pub fn wait_for(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        thread::sleep(Duration::from_millis(100));
    }
}

/// Polls `check` every 200 ms until it holds, and fails the test naming
/// `what` when `timeout` passes first; returns how long it took.
#[track_caller]
pub fn wait_within(what: &str, timeout: Duration, mut check: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !check() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        thread::sleep(Duration::from_millis(200));
    }
    start.elapsed()
}

/// `ebpfnet port NAME` lines.
pub fn port_lines(env: &TestEnv, container: &str) -> Vec<String> {
    env.ok(&["port", container])
        .lines()
        .map(str::to_string)
        .collect()
}

/// A UDP datagram from `ns` whose answer is irrelevant: sends from a
/// socket bound to `src` (any address when empty).
pub fn udp_send_from(ns: &str, src: &str, ip: &str, port: u16, payload: &str) {
    let script = "import socket,sys\ns=socket.socket(socket.AF_INET,socket.SOCK_DGRAM)\n\
                  s.bind((sys.argv[1],0))\nfor _ in range(3): s.sendto(sys.argv[4].encode(),(sys.argv[2],int(sys.argv[3])))\n";
    let _ = netns_exec(
        ns,
        &[python(), "-c", script, src, ip, &port.to_string(), payload],
    );
}

/// Whether the pinned `HOST_ADDRS` map holds `ip`.
pub fn host_addrs_has(env: &TestEnv, ip: &str) -> bool {
    let want: Vec<Value> = crate::parse_ipv4(ip).iter().map(|&b| b.into()).collect();
    bpftool_dump(&env.pin_dir.join("HOST_ADDRS"))
        .as_array()
        .is_some_and(|a| {
            a.iter()
                .any(|e| e["formatted"]["key"] == Value::from(want.clone()))
        })
}

/// One `proto` request from `ns` to `ip:port` (3 s): the reply or the error.
pub fn request(ns: &str, ip: &str, port: u16, proto: &str) -> Result<String, String> {
    match many_clients(ns, ip, port, proto, 1).remove(0) {
        Ok((_, r)) => Ok(r),
        Err(e) => Err(e),
    }
}
