//! Namespace and link helpers (iproute2): commands run in a namespace,
//! background processes, what links, addresses and routes there are. Its
//! servers and clients are in `probes`.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use serde_json::Value;

use crate::cli::{CmdOutput, describe, run, run_timeout};

mod probes;
pub use probes::*;

/// `unshare --mount --propagation private sh -c SCRIPT sh`: `script` in a
/// mount namespace of its own, so that nothing it mounts reaches the host;
/// the arguments added to the command are its `$@`.
pub fn private_mounts_sh(script: &str) -> Command {
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
        "sh",
    ]);
    cmd
}

const CMD_TIMEOUT: Duration = Duration::from_secs(20);

/// python3 to run inside namespaces (the system one; pyenv shims are slow).
pub fn python() -> &'static str {
    if Path::new("/usr/bin/python3").exists() {
        "/usr/bin/python3"
    } else {
        "python3"
    }
}

fn in_path(prog: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file()))
        .unwrap_or(false)
}

/// Runs python3 program `script` with `args` inside `ns`, killed after
/// `timeout`.
pub fn python_in_netns(ns: &str, script: &str, args: &[&str], timeout: Duration) -> Output {
    run(
        Command::new("ip")
            .args(["netns", "exec", ns, python(), "-c", script])
            .args(args),
        None,
        timeout,
    )
}

/// Like [`python_in_netns`], panicking (naming `what`, with what the
/// program printed) unless it succeeds; returns its stdout.
pub fn python_in_netns_ok(
    ns: &str,
    what: &str,
    script: &str,
    args: &[&str],
    timeout: Duration,
) -> String {
    let out = python_in_netns(ns, script, args, timeout);
    assert!(out.status.success(), "{}", describe(what, &out));
    out.stdout_str()
}

/// Runs `ip ARGS` in the host namespace.
pub fn ip(args: &[&str]) -> Output {
    run(Command::new("ip").args(args), None, CMD_TIMEOUT)
}

/// Runs `ip ARGS` and panics unless it succeeds; returns stdout.
pub fn ip_ok(args: &[&str]) -> String {
    let out = ip(args);
    assert!(
        out.status.success(),
        "{}",
        describe(&format!("ip {}", args.join(" ")), &out)
    );
    out.stdout_str()
}

/// Runs `cmd` inside namespace `ns` (`ip netns exec`).
pub fn netns_exec(ns: &str, cmd: &[&str]) -> Output {
    run(
        Command::new("ip").args(["netns", "exec", ns]).args(cmd),
        None,
        CMD_TIMEOUT,
    )
}

/// Like [`netns_exec`], panicking unless the command succeeds; returns stdout.
pub fn netns_exec_ok(ns: &str, cmd: &[&str]) -> String {
    let out = netns_exec(ns, cmd);
    assert!(
        out.status.success(),
        "{}",
        describe(&format!("in netns {ns}: {}", cmd.join(" ")), &out)
    );
    out.stdout_str()
}

/// A background process, killed (and reaped) on drop.
pub struct Spawned {
    pub child: Child,
    pub what: String,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `cmd` inside `ns` in the background. stdout is piped (servers print
/// `ready` there), stderr goes to the test's stderr.
pub fn spawn_in_netns(ns: &str, cmd: &[&str]) -> Spawned {
    let child = Command::new("ip")
        .args(["netns", "exec", ns])
        .args(cmd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {cmd:?} in netns {ns}: {e}"));
    Spawned {
        child,
        what: format!("{ns}: {}", cmd.join(" ")),
    }
}

/// Whether a link named `name` exists in the host namespace.
pub fn link_exists(name: &str) -> bool {
    Path::new("/sys/class/net").join(name).exists()
}

/// Whether the named namespace `/run/netns/NAME` exists.
pub fn netns_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Names of all links in the host namespace.
pub fn host_links() -> BTreeSet<String> {
    dir_names("/sys/class/net")
}

/// Names of all named namespaces (`/run/netns`).
pub fn netns_list() -> BTreeSet<String> {
    dir_names("/run/netns")
}

fn dir_names(dir: &str) -> BTreeSet<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// ifindex of a host link.
pub fn link_ifindex(name: &str) -> u32 {
    let p = Path::new("/sys/class/net").join(name).join("ifindex");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", p.display()))
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("bad ifindex in {}: {e}", p.display()))
}

fn parse_json(what: &str, text: &str) -> Value {
    serde_json::from_str(text).unwrap_or_else(|e| panic!("{what}: bad JSON ({e}): {text}"))
}

/// IPv4 addresses (`ip/len`) of `dev`, in `ns` or on the host (`ns = None`).
pub fn ipv4_addrs(ns: Option<&str>, dev: &str) -> Vec<String> {
    let text = match ns {
        Some(ns) => netns_exec_ok(ns, &["ip", "-j", "-4", "addr", "show", "dev", dev]),
        None => ip_ok(&["-j", "-4", "addr", "show", "dev", dev]),
    };
    let v = parse_json("ip -j addr", &text);
    let mut out = Vec::new();
    for link in v.as_array().into_iter().flatten() {
        for a in link["addr_info"].as_array().into_iter().flatten() {
            if a["family"] == "inet" {
                out.push(format!(
                    "{}/{}",
                    a["local"].as_str().unwrap_or_default(),
                    a["prefixlen"]
                ));
            }
        }
    }
    out
}

/// MAC address of `dev` inside `ns`.
pub fn netns_mac(ns: &str, dev: &str) -> String {
    let text = netns_exec_ok(ns, &["ip", "-j", "link", "show", "dev", dev]);
    let v = parse_json("ip -j link", &text);
    v[0]["address"]
        .as_str()
        .unwrap_or_else(|| panic!("no address for {dev} in {ns}: {text}"))
        .to_string()
}

/// Whether `dev` exists inside `ns`.
pub fn netns_link_exists(ns: &str, dev: &str) -> bool {
    netns_exec(ns, &["ip", "link", "show", "dev", dev])
        .status
        .success()
}

/// (gateway, device) of the IPv4 default route in `ns`, if any.
pub fn netns_default_route(ns: &str) -> Option<(String, String)> {
    let text = netns_exec_ok(ns, &["ip", "-j", "-4", "route", "show", "default"]);
    let v = parse_json("ip -j route", &text);
    let r = v.as_array()?.first()?;
    Some((
        r["gateway"].as_str()?.to_string(),
        r["dev"].as_str()?.to_string(),
    ))
}

/// Deletes a named namespace if present (best effort).
pub fn delete_netns(name: &str) {
    if netns_exists(name) {
        let _ = run_timeout(
            Command::new("ip").args(["netns", "del", name]),
            None,
            CMD_TIMEOUT,
        );
    }
}

/// Deletes a host link if present (best effort).
pub fn delete_link(name: &str) {
    if link_exists(name) {
        let _ = run_timeout(
            Command::new("ip").args(["link", "del", "dev", name]),
            None,
            CMD_TIMEOUT,
        );
    }
}
