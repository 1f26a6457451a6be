//! Traffic helpers for the end-to-end datapath tests: servers that record
//! what they saw, many-flow clients, a long-lived client, a raw-frame sender
//! and sniffer (python3 AF_PACKET), host-side clients, bpftool dumps, and
//! guards for host-global changes (addresses, sysctls, iptables policy).
//!
//! Every client has a 2-3 s timeout per request; every background process
//! is killed when its guard drops.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::TestEnv;
use crate::cli::{CmdOutput, describe, run, run_timeout};
use crate::netns::{Spawned, netns_exec, netns_exec_ok, python};

/// TCP and UDP server on `0.0.0.0:PORT`. TCP: answers every line with
/// `NAME peer=IP:PORT got=LINE` and keeps the connection; UDP: answers each
/// datagram the same way. Prints `tcp IP:PORT` / `udp IP:PORT DATA` on stdout.
const ECHO_SERVER: &str = r#"
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
out = threading.Lock()
def log(s):
    with out:
        sys.stdout.write(s + "\n"); sys.stdout.flush()
def conn(c, a):
    log("tcp %s:%d" % a)
    c.settimeout(30)
    buf = b""
    try:
        while True:
            d = c.recv(4096)
            if not d:
                break
            buf += d
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                c.sendall(("%s peer=%s:%d got=%s\n" % (name, a[0], a[1], line.decode(errors="replace"))).encode())
    except Exception:
        pass
    finally:
        c.close()
def tcp(s):
    while True:
        c, a = s.accept()
        threading.Thread(target=conn, args=(c, a), daemon=True).start()
def udp(u):
    while True:
        d, a = u.recvfrom(65535)
        log("udp %s:%d %s" % (a[0], a[1], d.decode(errors="replace")))
        u.sendto(("%s peer=%s:%d got=%s" % (name, a[0], a[1], d.decode(errors="replace"))).encode(), a)
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", port)); s.listen(256)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); u.bind(("0.0.0.0", port))
threading.Thread(target=tcp, args=(s,), daemon=True).start()
log("ready")
udp(u)
"#;

/// `IP PORT PROTO N [SRC]`: N concurrent clients (threads). Each prints
/// `OK LOCALPORT REPLY` or `ERR I WHAT`.
const MANY_CLIENTS: &str = r#"
import socket, sys, threading
ip, port, proto, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
res = [None] * n
def one(i):
    try:
        if proto == "tcp":
            s = socket.create_connection((ip, port), timeout=3)
            s.settimeout(3)
            lp = s.getsockname()[1]
            s.sendall(b"client-%d\n" % i)
            d = b""
            while not d.endswith(b"\n"):
                x = s.recv(4096)
                if not x:
                    break
                d += x
            s.close()
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", 0)); s.settimeout(1.2)
            lp = s.getsockname()[1]
            d = b""
            for _ in range(2):
                s.sendto(b"client-%d" % i, (ip, port))
                try:
                    d, a = s.recvfrom(65535); break
                except socket.timeout:
                    pass
            s.close()
        res[i] = "OK %d %s" % (lp, d.decode(errors="replace").strip()) if d else "ERR %d no reply" % i
    except Exception as e:
        res[i] = "ERR %d %s" % (i, e)
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
sys.stdout.write("\n".join(res) + "\n")
"#;

/// `IP PORT N`: N UDP flows one after another, each from a new socket;
/// prints each reply (or `ERR`).
const SEQ_UDP: &str = r#"
import socket, sys
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for i in range(n):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(1.2)
    d = b""
    for _ in range(2):
        s.sendto(b"flow-%d" % i, (ip, port))
        try:
            d, a = s.recvfrom(65535); break
        except socket.timeout:
            pass
    print(d.decode(errors="replace") if d else "ERR flow-%d" % i, flush=True)
    s.close()
"#;

/// `IP PORT`: one TCP connection, a line every 200 ms; prints `local PORT`,
/// then `reply ...` / `timeout` / `closed` / `error ...` lines (30 s at most).
const HOLD_CLIENT: &str = r#"
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
print("local %d" % s.getsockname()[1], flush=True)
s.settimeout(0.5)
end = time.time() + 30
i = 0
while time.time() < end:
    i += 1
    try:
        s.sendall(b"tick-%d\n" % i)
        d = s.recv(4096)
        print(("reply " + d.decode(errors="replace").strip()) if d else "closed", flush=True)
        if not d:
            break
    except socket.timeout:
        print("timeout", flush=True)
    except Exception as e:
        print("error %s" % e, flush=True)
        break
    time.sleep(0.2)
"#;

/// `DEV HEX COUNT`: sends the frame COUNT times on DEV (AF_PACKET).
const RAW_SEND: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for _ in range(int(sys.argv[3])):
    s.send(bytes.fromhex(sys.argv[2])); time.sleep(0.05)
"#;

/// `DEV`: prints every incoming IPv4 TCP/UDP frame on DEV as
/// `PROTO SRC:SPORT -> DST:DPORT`.
const SNIFF: &str = r#"
import socket, struct, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0))
print("ready", flush=True)
while True:
    d, a = s.recvfrom(65535)
    if a[2] == 4 or len(d) < 38 or d[12:14] != b"\x08\x00":
        continue
    ihl = (d[14] & 15) * 4
    p = d[23]
    if p not in (6, 17):
        continue
    sp, dp = struct.unpack("!HH", d[14 + ihl:18 + ihl])
    print("%s %s:%d -> %s:%d" % ("tcp" if p == 6 else "udp", socket.inet_ntoa(d[26:30]), sp, socket.inet_ntoa(d[30:34]), dp), flush=True)
"#;

/// A background process whose stdout lines are collected.
pub struct Recorder {
    _proc: Spawned,
    lines: Arc<Mutex<Vec<String>>>,
    rx: mpsc::Receiver<String>,
}

impl Recorder {
    /// Lines printed so far (after `ready`).
    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }
    /// The next line, waiting up to `timeout`.
    pub fn next_line(&self, timeout: Duration) -> Option<String> {
        self.rx.recv_timeout(timeout).ok()
    }
    /// Drops every line read so far; returns them.
    pub fn drain(&self) -> Vec<String> {
        while self.rx.try_recv().is_ok() {}
        std::mem::take(&mut *self.lines.lock().unwrap())
    }
}

/// Starts `cmd` in `ns` (host namespace when `None`) and records its stdout.
/// With `ready`, waits (5 s) for a first line `ready`.
pub fn record(ns: Option<&str>, cmd: &[&str], ready: bool) -> Recorder {
    let mut c = match ns {
        Some(ns) => {
            let mut c = Command::new("ip");
            c.args(["netns", "exec", ns]).args(cmd);
            c
        }
        None => {
            let mut c = Command::new(cmd[0]);
            c.args(&cmd[1..]);
            c
        }
    };
    let what = format!("{ns:?}: {}", cmd.join(" "));
    let mut child = c
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let stdout = child.stdout.take().expect("stdout piped");
    let proc = Spawned {
        child,
        what: what.clone(),
    };
    let lines = Arc::new(Mutex::new(Vec::new()));
    let (tx, rx) = mpsc::channel();
    let (ready_tx, ready_rx) = mpsc::channel();
    let l2 = lines.clone();
    thread::spawn(move || {
        let mut first = ready;
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if first {
                first = false;
                let _ = ready_tx.send(line);
                continue;
            }
            l2.lock().unwrap().push(line.clone());
            let _ = tx.send(line);
        }
    });
    if ready {
        match ready_rx.recv_timeout(Duration::from_secs(5)) {
            Ok(l) if l.trim() == "ready" => {}
            Ok(l) => panic!("{what} did not start (printed {l:?})"),
            Err(_) => panic!("{what} not ready after 5 s"),
        }
    }
    Recorder {
        _proc: proc,
        lines,
        rx,
    }
}

/// [`ECHO_SERVER`] named `name` on TCP and UDP port `port` inside `ns`.
pub fn echo_server(ns: &str, name: &str, port: u16) -> Recorder {
    record(
        Some(ns),
        &[python(), "-c", ECHO_SERVER, name, &port.to_string()],
        true,
    )
}

/// A sniffer of incoming TCP/UDP frames on `dev` inside `ns`.
pub fn sniffer(ns: &str, dev: &str) -> Recorder {
    record(Some(ns), &[python(), "-c", SNIFF, dev], true)
}

/// A long-lived TCP client in `ns` to `ip:port` (see [`HOLD_CLIENT`]).
/// Returns it once connected, with its local port.
pub fn hold_client(ns: &str, ip: &str, port: u16) -> (Recorder, u16) {
    let r = record(
        Some(ns),
        &[python(), "-c", HOLD_CLIENT, ip, &port.to_string()],
        false,
    );
    let first = r
        .next_line(Duration::from_secs(5))
        .unwrap_or_else(|| panic!("long-lived client {ns} -> {ip}:{port} did not connect"));
    let local = first
        .strip_prefix("local ")
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("long-lived client printed {first:?}"));
    r.drain();
    (r, local)
}

/// (local port, reply) per client of `n` concurrent `proto` clients from
/// `ns` to `ip:port`; failures as `Err(text)`.
pub fn many_clients(
    ns: &str,
    ip: &str,
    port: u16,
    proto: &str,
    n: usize,
) -> Vec<Result<(u16, String), String>> {
    let out = run(
        Command::new("ip").args(["netns", "exec", ns]).args([
            python(),
            "-c",
            MANY_CLIENTS,
            ip,
            &port.to_string(),
            proto,
            &n.to_string(),
        ]),
        None,
        Duration::from_secs(30),
    );
    assert!(out.status.success(), "{}", describe("many clients", &out));
    out.stdout_str()
        .lines()
        .map(|l| match l.strip_prefix("OK ") {
            Some(rest) => {
                let (p, reply) = rest.split_once(' ').unwrap_or((rest, ""));
                Ok((p.parse().unwrap_or(0), reply.to_string()))
            }
            None => Err(l.to_string()),
        })
        .collect()
}

/// Replies to `n` sequential UDP flows (each from a fresh socket) from `ns`.
pub fn sequential_udp(ns: &str, ip: &str, port: u16, n: usize) -> Vec<String> {
    let out = run(
        Command::new("ip").args(["netns", "exec", ns]).args([
            python(),
            "-c",
            SEQ_UDP,
            ip,
            &port.to_string(),
            &n.to_string(),
        ]),
        None,
        Duration::from_secs(60 + n as u64 * 3),
    );
    assert!(out.status.success(), "{}", describe("udp flows", &out));
    out.stdout_str().lines().map(str::to_string).collect()
}

/// The `peer=IP:PORT` an [`ECHO_SERVER`] reply names.
pub fn peer_of(reply: &str) -> Option<(String, u16)> {
    let p = reply
        .split_whitespace()
        .find_map(|w| w.strip_prefix("peer="))?;
    let (ip, port) = p.rsplit_once(':')?;
    Some((ip.to_string(), port.parse().ok()?))
}

/// Sends `frame` `count` times on `dev` inside `ns` (AF_PACKET).
pub fn send_frame(ns: &str, dev: &str, frame: &[u8], count: u32) {
    let hex: String = frame.iter().map(|b| format!("{b:02x}")).collect();
    netns_exec_ok(
        ns,
        &[python(), "-c", RAW_SEND, dev, &hex, &count.to_string()],
    );
}

/// MAC address as six bytes from `aa:bb:..`.
pub fn mac_bytes(mac: &str) -> [u8; 6] {
    let v: Vec<u8> = mac
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).unwrap_or_else(|e| panic!("bad MAC {mac}: {e}")))
        .collect();
    v.try_into().unwrap_or_else(|_| panic!("bad MAC {mac}"))
}

/// MAC of a host link.
pub fn host_mac(dev: &str) -> String {
    let p = Path::new("/sys/class/net").join(dev).join("address");
    std::fs::read_to_string(&p)
        .unwrap_or_else(|e| panic!("{}: {e}", p.display()))
        .trim()
        .to_string()
}

/// A TCP request from the test process (host namespace): sends `line`,
/// returns the first reply line, or `Err` (3 s timeouts).
pub fn host_tcp(ip: &str, port: u16, line: &str) -> Result<String, String> {
    let addr = SocketAddr::V4(SocketAddrV4::new(ip.parse().unwrap(), port));
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_secs(3))
        .map_err(|e| format!("connect {addr}: {e}"))?;
    s.set_read_timeout(Some(Duration::from_secs(3))).unwrap();
    s.write_all(format!("{line}\n").as_bytes())
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    while !buf.ends_with(b"\n") {
        match s.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) => return Err(format!("read from {addr}: {e}")),
        }
    }
    if buf.is_empty() {
        return Err(format!("{addr} closed without a reply"));
    }
    Ok(String::from_utf8_lossy(&buf).trim().to_string())
}

/// A UDP request from the test process (unconnected socket, two tries of
/// 1.2 s): returns the reply and the address it came from.
pub fn host_udp(ip: &str, port: u16, payload: &str) -> Result<(String, SocketAddr), String> {
    let s = UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)).map_err(|e| e.to_string())?;
    s.set_read_timeout(Some(Duration::from_millis(1200)))
        .unwrap();
    let mut buf = [0u8; 4096];
    for _ in 0..2 {
        s.send_to(payload.as_bytes(), (ip, port))
            .map_err(|e| format!("send to {ip}:{port}: {e}"))?;
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            return Ok((String::from_utf8_lossy(&buf[..n]).into_owned(), from));
        }
    }
    Err(format!("no UDP reply from {ip}:{port}"))
}

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
