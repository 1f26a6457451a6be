//! IPv6 helpers of the end-to-end tests: a TCP server and client over
//! IPv6, an AAAA query, ping6, two containers talking over IPv6, and what
//! inspect says of IPv6.

use std::process::Output;

use serde_json::Value;

use crate::cli::CmdOutput;
use crate::traffic::{Recorder, record};
use crate::{TestEnv, netns_exec, python};

/// Answers each TCP connection with `hello from NAME peer=ADDR`, on
/// `[::]:PORT` (IPv4 too).
pub const SERVER6: &str = r#"
import socket, sys
name, port = sys.argv[1], int(sys.argv[2])
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind(("::", port))
s.listen(16)
print("ready", flush=True)
while True:
    c, a = s.accept()
    c.sendall(("hello from %s peer=%s\n" % (name, a[0])).encode())
    c.close()
"#;

/// Connects over IPv6 only (an AAAA lookup for a name) and prints the
/// server's line.
pub const CLIENT6: &str = r#"
import socket, sys
host, port = sys.argv[1], int(sys.argv[2])
ai = socket.getaddrinfo(host, port, socket.AF_INET6, socket.SOCK_STREAM)
s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
s.settimeout(3)
s.connect(ai[0][4])
sys.stdout.write(s.recv(4096).decode())
"#;

/// One AAAA query for NAME to [SERVER]:53 over UDP: `answer RCODE IP...`.
pub const AAAA_QUERY: &str = r#"
import socket, struct, sys
server, name = sys.argv[1], sys.argv[2]
q = struct.pack("!HHHHHH", 0x4343, 0x0100, 1, 0, 0, 0)
q += b"".join(bytes([len(p)]) + p.encode() for p in name.split(".")) + b"\0" + struct.pack("!HH", 28, 1)
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.settimeout(2)
s.sendto(q, (server, 53))
d, _ = s.recvfrom(4096)
def skip(d, i):
    while d[i] != 0:
        if d[i] >= 0xC0:
            return i + 2
        i += d[i] + 1
    return i + 1
i = skip(d, 12) + 4
ips = []
for _ in range(struct.unpack("!H", d[6:8])[0]):
    i = skip(d, i)
    rtype, _, _, rdlen = struct.unpack("!HHIH", d[i:i + 10])
    i += 10
    if rtype == 28:
        ips.append(socket.inet_ntop(socket.AF_INET6, d[i:i + 16]))
    i += rdlen
print("answer", d[3] & 15, *ips)
"#;

pub fn server6(ns: &str, port: u16) -> Recorder {
    record(
        Some(ns),
        &[python(), "-c", SERVER6, ns, &port.to_string()],
        true,
    )
}

pub fn client6(ns: &str, host: &str, port: u16) -> Output {
    netns_exec(ns, &[python(), "-c", CLIENT6, host, &port.to_string()])
}

pub fn ping6(ns: &str, ip: &str) -> bool {
    netns_exec(ns, &["ping", "-6", "-n", "-c", "1", "-W", "2", ip])
        .status
        .success()
}

/// Containers `a` (address `a6`) and `b` (`b6`) of network `net` talk
/// over IPv6: ping6 both ways and from `a` to its gateway `gw6`; a
/// [`SERVER6`] on `b`'s `port` answers `a` by address, by name and by
/// `NAME.NET`, each time `hello from B peer=A6`. Returns that server,
/// still running.
#[track_caller]
pub fn assert_talk6(
    net: &str,
    (a, a6): (&str, &str),
    (b, b6): (&str, &str),
    gw6: &str,
    port: u16,
) -> Recorder {
    assert!(ping6(a, b6), "{a} -> {b}");
    assert!(ping6(b, a6), "{b} -> {a}");
    assert!(ping6(a, gw6), "{a} -> its gateway");
    let server = server6(b, port);
    let qualified = format!("{b}.{net}");
    for host in [b6, b, qualified.as_str()] {
        let out = client6(a, host, port);
        assert!(
            out.stdout_str() == format!("hello from {b} peer={a6}\n"),
            "{host}: {} {}",
            out.stdout_str(),
            out.stderr_str()
        );
    }
    server
}

/// (GlobalIPv6Address, GlobalIPv6PrefixLen, IPv6Gateway) of a container.
pub fn v6_of(env: &TestEnv, container: &str, net: &str) -> (String, u64, String) {
    let e = env.endpoint(container, net);
    let text = |k: &str| e[k].as_str().unwrap_or_default().to_string();
    (
        text("GlobalIPv6Address"),
        e["GlobalIPv6PrefixLen"].as_u64().unwrap_or_default(),
        text("IPv6Gateway"),
    )
}

pub fn ipam_configs(network: &Value) -> Vec<(String, String)> {
    network["IPAM"]["Config"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|c| {
            let s = |k: &str| c[k].as_str().unwrap_or_default().to_string();
            (s("Subnet"), s("Gateway"))
        })
        .collect()
}
