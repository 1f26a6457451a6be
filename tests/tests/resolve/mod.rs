//! Helpers shared by `names.rs` and `modes.rs`: running commands in a
//! container with `ebpfnet exec`, name lookups as plain tools do them, and
//! guards for what a test makes itself (raw DNS queries:
//! `ebpfnet_tests::dns`).

#![allow(dead_code)]

use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use ebpfnet_tests::*;

/// `ebpfnet exec CONTAINER -- CMD...`.
pub fn exec(env: &TestEnv, container: &str, cmd: &[&str]) -> Output {
    let mut args = vec!["exec", container, "--"];
    args.extend_from_slice(cmd);
    env.cli(&args)
}

/// stdout of a successful `ebpfnet exec`, else a panic with the output.
#[track_caller]
pub fn exec_ok(env: &TestEnv, container: &str, cmd: &[&str]) -> String {
    let out = exec(env, container, cmd);
    assert!(
        out.status.success(),
        "ebpfnet exec {container} -- {}: {}\nstdout: {}\nstderr: {}",
        cmd.join(" "),
        out.status,
        out.stdout_str(),
        out.stderr_str()
    );
    out.stdout_str()
}

/// `getent hosts NAME` in the container: the address, or `None`.
pub fn getent(env: &TestEnv, container: &str, name: &str) -> Option<String> {
    let out = exec(env, container, &["getent", "hosts", name]);
    if !out.status.success() {
        return None;
    }
    out.stdout_str()
        .split_whitespace()
        .next()
        .map(str::to_string)
}

const GETHOSTBYNAME: &str = r#"
import socket, sys
try:
    print(socket.gethostbyname(sys.argv[1]))
except socket.gaierror as e:
    sys.exit("unresolved: %s" % e)
"#;

/// python's `socket.gethostbyname(NAME)` in the container (A only).
pub fn py_lookup(env: &TestEnv, container: &str, name: &str) -> Option<String> {
    let out = exec(env, container, &[python(), "-c", GETHOSTBYNAME, name]);
    if !out.status.success() {
        eprintln!(
            "{container}: gethostbyname({name}): {}",
            out.stderr_str().trim()
        );
    }
    out.status
        .success()
        .then(|| out.stdout_str().trim().to_string())
}

/// Connects from the container to `host:port` (a name or an address) and
/// returns what the server said (empty on failure).
pub fn tcp_by_name(env: &TestEnv, container: &str, host: &str, port: u16) -> String {
    let out = exec(
        env,
        container,
        &[python(), "-c", TCP_CLIENT, host, &port.to_string()],
    );
    out.stdout_str()
}

/// A named namespace the test made itself (`ip netns add`), deleted on drop.
pub struct OwnNetns(pub String);

impl OwnNetns {
    pub fn new(name: &str) -> Self {
        delete_netns(name);
        ip_ok(&["netns", "add", name]);
        Self(name.to_string())
    }
}

impl Drop for OwnNetns {
    fn drop(&mut self) {
        delete_netns(&self.0);
    }
}

/// A process in a network namespace of its own (`unshare -n sleep`),
/// killed on drop.
pub struct OwnProcess(pub Child);

impl OwnProcess {
    pub fn unshared() -> Self {
        let child = Command::new("unshare")
            .args(["--net", "sleep", "600"])
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start unshare --net sleep: {e}"));
        // Wait until it has its own namespace.
        let own = std::fs::read_link("/proc/self/ns/net").ok();
        let pid = child.id();
        let moved = ebpfnet_tests::traffic::wait_for(Duration::from_secs(5), || {
            std::fs::read_link(format!("/proc/{pid}/ns/net")).ok() != own
        });
        assert!(
            moved,
            "unshare --net did not give process {pid} a namespace"
        );
        Self(child)
    }

    pub fn pid(&self) -> u32 {
        self.0.id()
    }

    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for OwnProcess {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A tiny DNS server in `ns` on `ip:53/udp` answering every A query with
/// `answer`: an upstream the tests control.
const FAKE_UPSTREAM: &str = r#"
import socket, struct, sys
ip, answer = sys.argv[1], socket.inet_aton(sys.argv[2])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((ip, 53))
print("ready", flush=True)
while True:
    q, a = s.recvfrom(4096)
    end = 12
    while q[end] != 0:
        end += q[end] + 1
    question = q[12:end + 5]
    qtype = struct.unpack("!H", q[end + 1:end + 3])[0]
    flags = 0x8180 | (q[2] & 1) << 8
    if qtype == 1:
        r = struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], flags, 1, 1, 0, 0) + question
        r += struct.pack("!HHHIH", 0xC00C, 1, 1, 60, 4) + answer
    else:
        r = struct.pack("!HHHHHH", struct.unpack("!H", q[:2])[0], flags, 1, 0, 0, 0) + question
    s.sendto(r, a)
"#;

pub fn fake_upstream(ns: &str, ip: &str, answer: &str) -> Spawned {
    let mut server = spawn_in_netns(ns, &[python(), "-c", FAKE_UPSTREAM, ip, answer]);
    let mut line = String::new();
    let stdout = server.child.stdout.take().expect("stdout piped");
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .expect("read the fake upstream's ready line");
    assert_eq!(line.trim(), "ready", "fake upstream did not start");
    server
}
