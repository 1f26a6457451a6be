//! Namespace, link and traffic helpers (iproute2 and python3 one-liners).
//!
//! Every client has a timeout of 2-3 s; every server is a child process
//! killed when its guard drops.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use serde_json::Value;

use crate::cli::{CmdOutput, describe, run, run_timeout};

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

/// Waits (up to 5 s) until a spawned server prints its `ready` line.
fn wait_ready(mut s: Spawned) -> Spawned {
    let stdout = s.child.stdout.take().expect("stdout piped");
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(5)) {
        Ok(line) if line.trim() == "ready" => s,
        Ok(line) => panic!("server {} did not start (printed {line:?})", s.what),
        Err(_) => panic!("server {} not ready after 5 s", s.what),
    }
}

const TCP_SERVER: &str = r#"
import socket, sys
name, ip, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((ip, port))
s.listen(64)
print("ready", flush=True)
while True:
    c, a = s.accept()
    try:
        c.settimeout(3)
        d = c.recv(4096)
        msg = "hello from %s peer=%s data=%s\n" % (name, a[0], d.decode(errors="replace").strip())
        c.sendall(msg.encode())
    except Exception as e:
        sys.stderr.write("tcp server: %s\n" % e)
    finally:
        c.close()
"#;

/// `PORT [ADDR]`: echoes UDP datagrams on ADDR (0.0.0.0; `::` for IPv6).
const UDP_ECHO: &str = r#"
import socket, sys
addr = sys.argv[2] if len(sys.argv) > 2 else "0.0.0.0"
s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET, socket.SOCK_DGRAM)
s.bind((addr, int(sys.argv[1])))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(65535)
    s.sendto(d, a)
"#;

/// `IP_OR_NAME PORT`: one TCP request (`ping`), prints the whole answer.
pub const TCP_CLIENT: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.settimeout(3)
s.sendall(b"ping\n")
out = b""
while True:
    d = s.recv(4096)
    if not d:
        break
    out += d
sys.stdout.write(out.decode(errors="replace"))
"#;

const UDP_CLIENT: &str = r#"
import socket, sys
ip, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.2)
for _ in range(2):
    s.sendto(payload, (ip, port))
    try:
        d, a = s.recvfrom(65535)
    except socket.timeout:
        continue
    sys.stdout.write(d.decode(errors="replace"))
    sys.exit(0)
sys.exit("no UDP reply from %s:%d" % (ip, port))
"#;

const PING: &str = r#"
import os, socket, struct, sys, time
dst = sys.argv[1]
def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xffff)
    t += t >> 16
    return ~t & 0xffff
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(0.2)
ident = os.getpid() & 0xffff
payload = b"ebpfnet-test-ping"
hdr = struct.pack("!BBHHH", 8, 0, 0, ident, 1)
s.sendto(struct.pack("!BBHHH", 8, 0, csum(hdr + payload), ident, 1) + payload, (dst, 0))
end = time.time() + 2
while time.time() < end:
    try:
        d, a = s.recvfrom(4096)
    except socket.timeout:
        continue
    ihl = (d[0] & 15) * 4
    t, _, _, i, _ = struct.unpack("!BBHHH", d[ihl:ihl + 8])
    if t == 0 and i == ident and a[0] == dst:
        sys.exit(0)
sys.exit(1)
"#;

/// A TCP server on `ip:port` in `ns` that answers each connection with
/// `hello from NS peer=CLIENT_IP data=WHAT_IT_GOT` and closes it.
pub fn tcp_server(ns: &str, ip: &str, port: u16) -> Spawned {
    let port = port.to_string();
    wait_ready(spawn_in_netns(
        ns,
        &[python(), "-c", TCP_SERVER, ns, ip, &port],
    ))
}

/// A UDP echo server on `0.0.0.0:port` in `ns`.
pub fn udp_echo_server(ns: &str, port: u16) -> Spawned {
    udp_echo_server_on(ns, "0.0.0.0", port)
}

/// A UDP echo server on `addr:port` in `ns` (`::` for IPv6).
pub fn udp_echo_server_on(ns: &str, addr: &str, port: u16) -> Spawned {
    let port = port.to_string();
    wait_ready(spawn_in_netns(ns, &[python(), "-c", UDP_ECHO, &port, addr]))
}

/// Connects from `ns` to `ip:port`, sends `ping`, returns the whole reply
/// (empty string on failure; 3 s timeout).
pub fn tcp_request(ns: &str, ip: &str, port: u16) -> String {
    let out = netns_exec(ns, &[python(), "-c", TCP_CLIENT, ip, &port.to_string()]);
    if !out.status.success() {
        eprintln!(
            "tcp_request {ns} -> {ip}:{port} failed: {}",
            out.stderr_str().trim()
        );
        return String::new();
    }
    out.stdout_str()
}

/// Sends `payload` by UDP from `ns` to `ip:port`, returns the reply (empty
/// string when none came within ~2.5 s).
pub fn udp_request(ns: &str, ip: &str, port: u16, payload: &str) -> String {
    let out = netns_exec(
        ns,
        &[python(), "-c", UDP_CLIENT, ip, &port.to_string(), payload],
    );
    if !out.status.success() {
        eprintln!(
            "udp_request {ns} -> {ip}:{port} failed: {}",
            out.stderr_str().trim()
        );
        return String::new();
    }
    out.stdout_str()
}

/// One ICMP echo from `ns` to `ip`, 2 s timeout. Uses `ping -c 1 -W 2` when
/// installed, else a raw-socket python3 equivalent.
pub fn ping(ns: &str, ip: &str) -> bool {
    let out = if in_path("ping") {
        netns_exec(ns, &["ping", "-n", "-c", "1", "-W", "2", ip])
    } else {
        netns_exec(ns, &[python(), "-c", PING, ip])
    };
    out.status.success()
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
