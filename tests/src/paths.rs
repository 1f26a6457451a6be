//! A routed path beyond a [`TestEnv`]'s outside namespace, for path-MTU
//! and fragment tests, and the bulk-transfer and probe programs run over it:
//!
//! ```text
//! host ──uplink── outside (router) ──middle── mid (router) ──1500── far
//! ```
//!
//! The uplink and the middle link get the MTUs a test asks for; the far
//! host's own link is 1500, so TCP's MSS (taken from the ends' links) does
//! not hide a smaller hop. The path uses 198.18.0.0/24 (benchmarking range;
//! not TEST-NET-1, which a machine may use itself); the host routes it out
//! of the test's uplink. Everything is removed on drop, also after a panic.

use std::time::Duration;

use crate::TestEnv;
use crate::cli::{CmdOutput, describe};
use crate::netns::{
    Spawned, delete_netns, ip, ip_ok, netns_exec_ok, python, python_in_netns, spawn_in_netns,
    wait_ready,
};

/// The far host's address (its link is 1500 bytes).
pub const FAR_IP: &str = "198.18.0.6";
const FAR_NET: &str = "198.18.0.0/24";

/// The namespaces and routes beyond the outside namespace.
pub struct FarPath {
    pub mid_ns: String,
    pub far_ns: String,
    /// The host route to [`FAR_NET`] (removed on drop).
    host_route: Vec<String>,
}

impl FarPath {
    /// Builds the path; `uplink_mtu` is set on both ends of the uplink,
    /// `middle_mtu` on both ends of the outside–mid link.
    pub fn new(env: &TestEnv, uplink_mtu: u32, middle_mtu: u32) -> FarPath {
        let pid = std::process::id();
        let path = FarPath {
            mid_ns: format!("ebnt-mid-{pid}"),
            far_ns: format!("ebnt-far-{pid}"),
            host_route: vec![
                FAR_NET.to_string(),
                "via".to_string(),
                env.outside_ip.clone(),
                "dev".to_string(),
                env.uplink.clone(),
            ],
        };
        let (out, mid, far) = (env.outside_ns.as_str(), &path.mid_ns, &path.far_ns);
        for ns in [mid, far] {
            delete_netns(ns);
            ip_ok(&["netns", "add", ns]);
            netns_exec_ok(ns, &["ip", "link", "set", "lo", "up"]);
        }
        let (um, mm) = (uplink_mtu.to_string(), middle_mtu.to_string());
        ip_ok(&["link", "set", &env.uplink, "mtu", &um]);
        netns_exec_ok(out, &["ip", "link", "set", "eth0", "mtu", &um]);
        // outside r0 (198.18.0.1/30) ── mid m0 (198.18.0.2/30), middle_mtu.
        ip_ok(&[
            "-n", out, "link", "add", "r0", "mtu", &mm, "type", "veth", "peer", "name", "m0",
            "mtu", &mm, "netns", mid,
        ]);
        // mid m1 (198.18.0.5/30) ── far eth0 (198.18.0.6/30), 1500.
        ip_ok(&[
            "-n", mid, "link", "add", "m1", "type", "veth", "peer", "name", "eth0", "netns", far,
        ]);
        for (ns, dev, cidr) in [
            (out, "r0", "198.18.0.1/30"),
            (mid.as_str(), "m0", "198.18.0.2/30"),
            (mid.as_str(), "m1", "198.18.0.5/30"),
            (far.as_str(), "eth0", "198.18.0.6/30"),
        ] {
            netns_exec_ok(ns, &["ip", "addr", "add", cidr, "dev", dev]);
            netns_exec_ok(ns, &["ip", "link", "set", dev, "up"]);
        }
        for ns in [out, mid.as_str()] {
            netns_exec_ok(ns, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
        }
        netns_exec_ok(
            out,
            &["ip", "route", "add", "198.18.0.4/30", "via", "198.18.0.2"],
        );
        netns_exec_ok(mid, &["ip", "route", "add", "default", "via", "198.18.0.1"]);
        netns_exec_ok(far, &["ip", "route", "add", "default", "via", "198.18.0.5"]);
        let mut route = vec!["route", "add"];
        route.extend(path.host_route.iter().map(String::as_str));
        ip_ok(&route);
        path
    }
}

impl Drop for FarPath {
    fn drop(&mut self) {
        let mut route = vec!["route", "del"];
        route.extend(self.host_route.iter().map(String::as_str));
        let _ = ip(&route);
        delete_netns(&self.far_ns);
        delete_netns(&self.mid_ns);
    }
}

/// `PORT`: TCP server that counts what each connection sends until EOF,
/// answers `got N` and closes.
const SINK: &str = r#"
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)
print("ready", flush=True)
while True:
    c, a = s.accept()
    c.settimeout(20)
    n = 0
    try:
        while True:
            d = c.recv(65536)
            if not d:
                break
            n += len(d)
        c.sendall(b"got %d\n" % n)
    except Exception as e:
        sys.stderr.write("sink: %s\n" % e)
    c.close()
"#;

/// `PORT N [6]`: TCP server that sends N bytes to each connection and
/// closes; over IPv6 (on `::`) with a third argument.
const SOURCE: &str = r#"
import socket, sys
v6 = len(sys.argv) > 3
s = socket.socket(socket.AF_INET6 if v6 else socket.AF_INET)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::" if v6 else "0.0.0.0", int(sys.argv[1]))); s.listen(8)
n = int(sys.argv[2])
print("ready", flush=True)
while True:
    c, a = s.accept()
    c.settimeout(20)
    try:
        c.sendall(b"x" * n)
    except Exception as e:
        sys.stderr.write("source: %s\n" % e)
    c.close()
"#;

/// `IP PORT N`: uploads N bytes, prints the sink's answer (10 s stall limit).
const UPLOAD: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
s.sendall(b"y" * int(sys.argv[3]))
s.shutdown(socket.SHUT_WR)
sys.stdout.write(s.recv(100).decode())
"#;

/// `IP PORT`: downloads until EOF, prints `got N` (10 s stall limit).
const DOWNLOAD: &str = r#"
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=10)
n = 0
while True:
    d = s.recv(65536)
    if not d:
        break
    n += len(d)
print("got %d" % n)
"#;

/// `IP PORT SIZE`: a connected UDP socket that never fragments (IPv4:
/// DF on every datagram, IP_PMTUDISC_DO; IPv6 routers never fragment, and
/// IPV6_PMTUDISC_DO keeps the sender from doing it) sends SIZE bytes until
/// the kernel refuses them (EMSGSIZE, once an ICMP "fragmentation needed" /
/// "packet too big" lowered the path MTU), then prints `mtu N` (IP_MTU /
/// IPV6_MTU); `mtu unchanged` after 5 s. An optional 4th argument is the
/// source port to send from.
const DF_PROBE: &str = r#"
import errno, socket, sys, time
if ":" in sys.argv[1]:
    family, level, (discover, do, mtu) = socket.AF_INET6, socket.IPPROTO_IPV6, (23, 2, 24)
else:
    family, level, (discover, do, mtu) = socket.AF_INET, socket.IPPROTO_IP, (10, 2, 14)
s = socket.socket(family, socket.SOCK_DGRAM)
s.setsockopt(level, discover, do)
if len(sys.argv) > 4:
    s.bind(("", int(sys.argv[4])))
s.connect((sys.argv[1], int(sys.argv[2])))
end = time.time() + 5
while time.time() < end:
    try:
        s.send(b"z" * int(sys.argv[3]))
    except OSError as e:
        if e.errno == errno.EMSGSIZE:
            print("mtu %d" % s.getsockopt(level, mtu))
            sys.exit(0)
        raise
    time.sleep(0.2)
print("mtu unchanged")
"#;

/// A [`SINK`] on `port` in `ns`.
pub fn sink(ns: &str, port: u16) -> Spawned {
    wait_ready(spawn_in_netns(
        ns,
        &[python(), "-c", SINK, &port.to_string()],
    ))
}

/// A [`SOURCE`] of `bytes` on `port` in `ns`.
pub fn source(ns: &str, port: u16, bytes: usize) -> Spawned {
    let (port, bytes) = (port.to_string(), bytes.to_string());
    wait_ready(spawn_in_netns(ns, &[python(), "-c", SOURCE, &port, &bytes]))
}

/// A [`SOURCE`] of `bytes` on `[::]:port` in `ns` (an IPv6-only container).
pub fn source6(ns: &str, port: u16, bytes: usize) -> Spawned {
    let (port, bytes) = (port.to_string(), bytes.to_string());
    wait_ready(spawn_in_netns(
        ns,
        &[python(), "-c", SOURCE, &port, &bytes, "6"],
    ))
}

fn python_in(ns: &str, script: &str, args: &[&str]) -> Result<String, String> {
    let out = python_in_netns(ns, script, args, Duration::from_secs(30));
    if out.status.success() {
        Ok(out.stdout_str().trim().to_string())
    } else {
        Err(describe(&format!("{ns}: python {args:?}"), &out))
    }
}

/// Uploads `bytes` from `ns` to `ip:port`; the sink's `got N` line.
pub fn upload(ns: &str, ip: &str, port: u16, bytes: usize) -> Result<String, String> {
    python_in(ns, UPLOAD, &[ip, &port.to_string(), &bytes.to_string()])
}

/// Downloads from `ip:port` in `ns` until EOF; `got N`.
pub fn download(ns: &str, ip: &str, port: u16) -> Result<String, String> {
    python_in(ns, DOWNLOAD, &[ip, &port.to_string()])
}

/// The path MTU a DF UDP socket in `ns` learns towards `ip:port` by
/// sending `size`-byte datagrams ([`DF_PROBE`]): `mtu N` or
/// `mtu unchanged`.
pub fn df_probe(ns: &str, ip: &str, port: u16, size: usize) -> Result<String, String> {
    python_in(ns, DF_PROBE, &[ip, &port.to_string(), &size.to_string()])
}

/// `IP PORT SIZE DF [SOURCE_PORT]`: sends SIZE random bytes, with DF on
/// the packet when DF is 1 and without (so the stack fragments them) when
/// 0, and waits for the same bytes back; prints `echoed N`. IPv6 (IP with
/// a colon) has no DF: the sender fragments to the path MTU (DF 0) or to
/// its device's MTU, whatever it learnt (DF 1, IPV6_PMTUDISC_PROBE).
const UDP_ROUND_TRIP: &str = r#"
import os, socket, sys
PMTUDISC_DONT, PMTUDISC_PROBE = 0, 3
if ":" in sys.argv[1]:
    family, level, discover = socket.AF_INET6, socket.IPPROTO_IPV6, 23
else:
    family, level, discover = socket.AF_INET, socket.IPPROTO_IP, 10
s = socket.socket(family, socket.SOCK_DGRAM)
mode = PMTUDISC_PROBE if sys.argv[4] == "1" else PMTUDISC_DONT
s.setsockopt(level, discover, mode)
if len(sys.argv) > 5:
    s.bind(("", int(sys.argv[5])))
s.settimeout(1.5)
data = os.urandom(int(sys.argv[3]))
for _ in range(3):
    s.sendto(data, (sys.argv[1], int(sys.argv[2])))
    try:
        d, a = s.recvfrom(65535)
    except socket.timeout:
        continue
    if d == data:
        print("echoed %d" % len(d))
        sys.exit(0)
    sys.exit("answer differs: %d bytes" % len(d))
sys.exit("no answer")
"#;

/// A `size`-byte UDP datagram from `ns` to an echo server at `ip:port`
/// and back ([`UDP_ROUND_TRIP`]): `echoed N`, or the client's complaint.
pub fn udp_round_trip(
    ns: &str,
    ip: &str,
    port: u16,
    size: usize,
    df: bool,
) -> Result<String, String> {
    let df = if df { "1" } else { "0" };
    python_in(
        ns,
        UDP_ROUND_TRIP,
        &[ip, &port.to_string(), &size.to_string(), df],
    )
}

/// A UDP client of this module that [`udp_from_port`] sends from a
/// fixed source port, so that the probe's datagrams belong to the flow
/// the round trip opened.
#[derive(Clone, Copy, Debug)]
pub enum FromPort {
    /// [`udp_round_trip`] with DF.
    RoundTrip,
    /// [`df_probe`].
    DfProbe,
}

/// `client` from `ns` to `ip:port` with `size` bytes, from source port
/// `source_port`.
pub fn udp_from_port(
    ns: &str,
    client: FromPort,
    (ip, port): (&str, u16),
    size: usize,
    source_port: u16,
) -> Result<String, String> {
    let (port, size, source) = (port.to_string(), size.to_string(), source_port.to_string());
    match client {
        FromPort::RoundTrip => python_in(ns, UDP_ROUND_TRIP, &[ip, &port, &size, "1", &source]),
        FromPort::DfProbe => python_in(ns, DF_PROBE, &[ip, &port, &size, &source]),
    }
}
