//! Helpers of the IPv6 publishing tests (`publish6.rs`, `publish46.rs`):
//! an echo server on both families, one TCP or UDP request from a
//! namespace to an IPv4 or IPv6 address and the check of its answer, a
//! connection held across a daemon restart, `flows` rows, and a
//! hop-limit-1 UDP probe that reports the ICMPv6 error. (IPv6 addresses
//! on the uplink and outside: `outside6::Uplink6`.)

use std::time::Duration;

pub use crate::outside6::Uplink6;
use crate::outside6::icmp6_error_report;
use crate::py_socket::py_socket_fns;
use crate::traffic::{ECHO_SERVER, Recorder, hold_client, record};
use crate::{TestEnv, netns_exec, python};

/// `PROTO IP PORT DATA`: one request over the address's family; prints
/// the reply, or `ERR why`.
const ASK: &str = concat!(
    r#"
import socket, sys
"#,
    py_socket_fns!(),
    r#"
proto, ip, port, data = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
family = socket.AF_INET6 if ":" in ip else socket.AF_INET
try:
    if proto == "tcp":
        s = socket.socket(family, socket.SOCK_STREAM)
        s.settimeout(3)
        s.connect((ip, port))
        s.sendall(data.encode() + b"\n")
        d = recv_until(s, b"\n")
    else:
        s = socket.socket(family, socket.SOCK_DGRAM)
        s.settimeout(1.2)
        d = udp_ask(s, data.encode(), (ip, port))
    print(d.decode().strip() if d else "ERR no reply")
except OSError as e:
    print("ERR %s" % e)
"#
);

/// `IP PORT`: one UDP datagram with hop limit 1; prints the ICMPv6 error
/// it drew (`IPV6_RECVERR`): `icmp6 from ADDR type T code C`, or
/// `no error`.
const HOP1_PROBE: &str = concat!(
    r#"
import socket, struct, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, 25, 1)  # IPV6_RECVERR
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)
s.connect((ip, port))
s.send(b"probe")
"#,
    icmp6_error_report!()
);

/// A UDP datagram with hop limit 1 from `ns` to `[ip]:port`: the ICMPv6
/// error it drew, as [`HOP1_PROBE`] prints it.
pub fn hop1_probe(ns: &str, ip: &str, port: u16) -> String {
    let out = netns_exec(ns, &[python(), "-c", HOP1_PROBE, ip, &port.to_string()]);
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}

/// An echo server on `[::]:port` for both families (TCP and UDP), named
/// `name`, inside `ns`: replies `NAME peer=ADDR:PORT got=DATA`, ADDR as
/// the server's socket sees the client (`::ffff:a.b.c.d` for IPv4 ones).
pub fn echo_server6(ns: &str, name: &str, port: u16) -> Recorder {
    echo6(Some(ns), name, port)
}

/// The same server in the host's namespace.
pub fn host_echo_server6(name: &str, port: u16) -> Recorder {
    echo6(None, name, port)
}

fn echo6(ns: Option<&str>, name: &str, port: u16) -> Recorder {
    record(
        ns,
        &[python(), "-c", ECHO_SERVER, name, &port.to_string(), "6"],
        true,
    )
}

/// One `proto` request from `ns` to `ip:port` (3 s): the reply or the error.
pub fn ask(ns: &str, proto: &str, ip: &str, port: u16) -> Result<String, String> {
    let out = netns_exec(
        ns,
        &[python(), "-c", ASK, proto, ip, &port.to_string(), "hi"],
    );
    let text = String::from_utf8_lossy(&out.stdout).trim().to_string();
    match text.strip_prefix("ERR ") {
        Some(why) => Err(why.to_string()),
        None if out.status.success() && !text.is_empty() => Ok(text),
        None => Err(format!(
            "client failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )),
    }
}

/// The `peer=ADDR` of an echo reply, without its port.
pub fn peer_address(reply: &str) -> String {
    reply
        .split_whitespace()
        .find_map(|w| w.strip_prefix("peer="))
        .and_then(|p| p.rsplit_once(':'))
        .map(|(ip, _)| ip.to_string())
        .unwrap_or_else(|| panic!("no peer= in {reply:?}"))
}

/// `reply` is an echo reply of the server `name` (`NAME peer=...`);
/// `what` names the request in the failure message.
#[track_caller]
pub fn answered_by(reply: Result<String, String>, name: &str, what: &str) -> String {
    let reply = reply.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        reply.starts_with(&format!("{name} peer=")),
        "{what}: {reply:?}"
    );
    reply
}

/// The rows of `ebpfnet flows` that contain `needle`.
pub fn flows_rows(env: &TestEnv, needle: &str) -> Vec<String> {
    env.ok(&["flows"])
        .lines()
        .filter(|l| l.contains(needle))
        .map(str::to_string)
        .collect()
}

/// Holds a connection from `ns` to `ip:port` (an echo server named
/// `name` behind it) across a restart of the daemon, and checks that it
/// goes on; returns the held client.
#[track_caller]
pub fn held_across_restart(
    env: &mut TestEnv,
    ns: &str,
    (ip, port): (&str, u16),
    name: &str,
) -> Recorder {
    let (held, _) = hold_client(ns, ip, port);
    assert!(
        env.stop_daemon().success(),
        "the daemon did not stop cleanly"
    );
    env.start_daemon();
    held.drain();
    let next = held
        .next_line(Duration::from_secs(3))
        .unwrap_or_else(|| panic!("the held connection fell silent"));
    assert!(next.starts_with(&format!("reply {name} peer=")), "{next}");
    held
}

/// Bulk both ways on one TCP connection (`PORT`): reads to the end of
/// stream, then answers `SHA256 COUNT PEER`, a newline and COUNT bytes of
/// its own (rounded down to 256), and closes: an answer only after the
/// client's half-close.
pub const BULK_SERVER: &str = concat!(
    r#"
import hashlib, socket, sys
"#,
    py_socket_fns!(),
    r#"
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("::", int(sys.argv[1]))); s.listen(4)
print("ready", flush=True)
while True:
    c, a = s.accept()
    c.settimeout(30)
    d = recv_until(c)
    n = len(d)
    c.sendall(("%s %d %s\n" % (hashlib.sha256(d).hexdigest(), n, a[0])).encode())
    c.sendall(bytes(range(256)) * (n // 256))
    c.close()
"#
);

/// `IP PORT SIZE`: sends SIZE bytes to [`BULK_SERVER`], shuts its side and
/// prints `ok PEER MSS` (the address the server saw, the segment size the
/// client's TCP uses) when both directions arrived whole, else `ERR why`.
pub const BULK_CLIENT: &str = concat!(
    r#"
import hashlib, socket, sys
"#,
    py_socket_fns!(),
    r#"
ip, port, size = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
data = bytes((i * 7) % 251 for i in range(size))
try:
    s = socket.create_connection((ip, port), timeout=20)
    s.sendall(data)
    s.shutdown(socket.SHUT_WR)
    head, _, rest = recv_until(s).partition(b"\n")
    digest, count, peer = head.decode().split()
    if digest != hashlib.sha256(data).hexdigest() or int(count) != size:
        print("ERR the server got %s bytes, not ours" % count)
    elif rest != bytes(range(256)) * (size // 256):
        print("ERR got %d bytes back of %d" % (len(rest), size))
    else:
        print("ok %s %d" % (peer, s.getsockopt(socket.IPPROTO_TCP, socket.TCP_MAXSEG)))
except OSError as e:
    print("ERR %s" % e)
"#
);
