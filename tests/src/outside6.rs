//! IPv6 between containers and the test's outside namespace, for the
//! NAT66 and routed-mode tests: addresses on the uplink and outside (no
//! route back to container subnets unless a test adds one), a TCP/UDP
//! server that says whom it saw, a one-shot client, and an outside UDP
//! peer that answers a container and reports the ICMPv6 error it gets
//! back (`IPV6_RECVERR`).

use std::time::Duration;

use crate::ipv6::ping6;
use crate::traffic::wait_for;
use crate::{TestEnv, cli::CmdOutput, ip, ip_ok, netns_exec, netns_exec_ok, python};

/// The end of a Python script whose IPv6 socket `s` (with
/// `IPV6_RECVERR`) has just sent: waits up to 3 s for the ICMPv6 error
/// the datagram drew and prints `icmp6 from ADDR type T code C`, or `no
/// error`.
macro_rules! icmp6_error_report {
    () => {
        r#"
deadline = time.time() + 3
while time.time() < deadline:
    try:
        _, anc, _, _ = s.recvmsg(100, 1024, socket.MSG_ERRQUEUE | socket.MSG_DONTWAIT)
    except BlockingIOError:
        time.sleep(0.05)
        continue
    for level, kind, data in anc:
        if level == socket.IPPROTO_IPV6 and kind == 25:
            _, origin, etype, code = struct.unpack_from("=IBBB", data)
            offender = socket.inet_ntop(socket.AF_INET6, data[24:40])
            print("icmp6 from %s type %d code %d" % (offender, etype, code), flush=True)
            sys.exit(0)
print("no error", flush=True)
"#
    };
}
pub(crate) use icmp6_error_report;

pub const UPLINK6: &str = "fd00:e6:ff::1";
pub const OUTSIDE6: &str = "fd00:e6:ff::2";

/// TCP and UDP on `[::]:PORT`: answers `PROTO peer=ADDR port=N hops=H
/// data=D` (hops: the hop limit the datagram arrived with; TCP -1).
pub const SERVER: &str = r#"
import socket, sys, threading
port = int(sys.argv[1])
t = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
t.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
t.bind(("::", port))
t.listen(16)
u = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_RECVHOPLIMIT, 1)
u.bind(("::", port))
def tcp():
    while True:
        c, a = t.accept()
        d = c.recv(100).decode()
        c.sendall(("tcp peer=%s port=%d hops=-1 data=%s\n" % (a[0], a[1], d)).encode())
        c.close()
threading.Thread(target=tcp, daemon=True).start()
print("ready", flush=True)
while True:
    d, anc, _, a = u.recvmsg(100, socket.CMSG_SPACE(4))
    hops = [int.from_bytes(x, sys.byteorder) for _, k, x in anc if k == socket.IPV6_HOPLIMIT]
    print("udp from", a[0], flush=True)
    u.sendto(("udp peer=%s port=%d hops=%d data=%s" % (a[0], a[1], hops[0] if hops else -1, d.decode())).encode(), a)
"#;

/// One request: `PROTO HOST PORT DATA [HOPS]`; prints the answer or `error`.
pub const CLIENT: &str = r#"
import socket, sys
proto, host, port, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
hops = int(sys.argv[5]) if len(sys.argv) > 5 else 0
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM)
if hops:
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, hops)
s.settimeout(2)
try:
    s.connect((host, port))
    s.send(data.encode())
    print(s.recv(200).decode().strip())
except OSError as e:
    print("error", e)
"#;

/// Outside UDP peer on `[::]:PORT`: takes one datagram, answers its sender
/// (`MODE` `hops1`: at once with hop limit 1; `late`: after 0.5 s), then
/// prints the ICMPv6 error the answer drew, from its socket's error queue:
/// `icmp6 from ADDR type T code C`, or `no error`.
pub const ANSWERER: &str = concat!(
    r#"
import socket, struct, sys, time
mode, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.bind(("::", port))
print("ready", flush=True)
d, a = s.recvfrom(100)
print("from", a[0], a[1], flush=True)
s.connect(a[:2])
s.setsockopt(socket.IPPROTO_IPV6, 25, 1)  # IPV6_RECVERR
if mode == "hops1":
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)
else:
    time.sleep(0.5)
s.send(b"answer")
"#,
    icmp6_error_report!()
);

/// One request from `ns` with [`CLIENT`]; its answer or `error …`.
pub fn ask(ns: &str, proto: &str, host: &str, port: u16, data: &str, hops: Option<u8>) -> String {
    let port = port.to_string();
    let hops = hops.map(|h| h.to_string());
    let mut args = vec![python(), "-c", CLIENT, proto, host, &port, data];
    args.extend(hops.as_deref());
    netns_exec(ns, &args).stdout_str().trim().to_string()
}

/// `udp peer=… port=N hops=H …` -> (peer, N, H).
pub fn parse_answer(answer: &str) -> (String, u16, i32) {
    let field = |k: &str| {
        answer
            .split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .unwrap_or_else(|| panic!("no {k} in {answer:?}"))
            .to_string()
    };
    (
        field("peer="),
        field("port=")
            .parse()
            .unwrap_or_else(|e| panic!("{e}: {answer}")),
        field("hops=")
            .parse()
            .unwrap_or_else(|e| panic!("{e}: {answer}")),
    )
}

/// Waits (`within`) until an ICMPv6 echo from `ns` to `ip` comes back,
/// and fails the test otherwise: the daemon takes up a new uplink address
/// by netlink, so NAT66 works a moment after [`Uplink6::add`].
#[track_caller]
pub fn wait_echo6(ns: &str, ip: &str, within: Duration) {
    assert!(
        wait_for(within, || ping6(ns, ip)),
        "no ICMPv6 echo from {ns} to {ip} within {within:?}"
    );
}

/// `ping -6` from `ns` with hop limit `hops`; its output (stdout).
pub fn ping6_hops(ns: &str, ip: &str, hops: u8) -> String {
    let hops = hops.to_string();
    netns_exec(
        ns,
        &["ping", "-6", "-n", "-c", "1", "-W", "2", "-t", &hops, ip],
    )
    .stdout_str()
}

/// IPv6 addresses (`/64`, no DAD) on the test's uplink and on `eth0` of
/// its outside namespace; removed on drop.
pub struct Uplink6 {
    uplink: String,
    outside_ns: String,
    host: Vec<String>,
}

impl Uplink6 {
    /// [`UPLINK6`] on the uplink, [`OUTSIDE6`] outside.
    pub fn add(env: &TestEnv) -> Self {
        Self::with(env, &[UPLINK6], OUTSIDE6)
    }

    /// `host` on the uplink, `outside` outside.
    pub fn with(env: &TestEnv, host: &[&str], outside: &str) -> Self {
        // Made before the addresses, so a failure half-way still removes
        // those added.
        let mut added = Self {
            uplink: env.uplink.clone(),
            outside_ns: env.outside_ns.clone(),
            host: Vec::new(),
        };
        for ip in host {
            let cidr = format!("{ip}/64");
            ip_ok(&["-6", "addr", "add", &cidr, "dev", &env.uplink, "nodad"]);
            added.host.push(cidr);
        }
        let out = format!("{outside}/64");
        netns_exec_ok(
            &env.outside_ns,
            &["ip", "-6", "addr", "add", &out, "dev", "eth0", "nodad"],
        );
        added
    }
}

impl Drop for Uplink6 {
    fn drop(&mut self) {
        for cidr in &self.host {
            let _ = ip(&["-6", "addr", "del", cidr, "dev", &self.uplink]);
        }
        let _ = netns_exec(
            &self.outside_ns,
            &[
                "ip", "-6", "addr", "flush", "dev", "eth0", "scope", "global",
            ],
        );
    }
}
