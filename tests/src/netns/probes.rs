//! Servers and one-shot clients inside a namespace (python3 one-liners,
//! `ping`): a TCP server that names its client, a UDP echo server, their
//! clients and an ICMP echo. Every client has a timeout of 2-3 s; every
//! server is a child process killed when its guard drops.

use std::io::{BufRead, BufReader};
use std::process::Output;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use super::{Spawned, in_path, netns_exec, python, spawn_in_netns};
use crate::cli::CmdOutput;
use crate::py_socket::py_socket_fns;

/// Waits (up to 5 s) until a spawned server prints its `ready` line.
pub(crate) fn wait_ready(mut s: Spawned) -> Spawned {
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
pub const TCP_CLIENT: &str = concat!(
    r#"
import socket, sys
"#,
    py_socket_fns!(),
    r#"
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.settimeout(3)
s.sendall(b"ping\n")
sys.stdout.write(recv_until(s).decode(errors="replace"))
"#
);

/// `IP PORT PAYLOAD`: one UDP request (two tries), prints the answer.
const UDP_CLIENT: &str = concat!(
    r#"
import socket, sys
"#,
    py_socket_fns!(),
    r#"
ip, port, payload = sys.argv[1], int(sys.argv[2]), sys.argv[3].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.2)
d = udp_ask(s, payload, (ip, port))
if not d:
    sys.exit("no UDP reply from %s:%d" % (ip, port))
sys.stdout.write(d.decode(errors="replace"))
"#
);

/// `IP PORT`: a connected UDP socket sends until the kernel reports the
/// error that came back (`refused`: an ICMP port unreachable matched the
/// socket) or an answer comes (`answered`); `timeout` after 3 tries of
/// 1.5 s.
const UDP_CONNECTED: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
s.connect((sys.argv[1], int(sys.argv[2])))
for _ in range(3):
    try:
        s.send(b"anyone?")
        s.recv(100)
        print("answered")
        break
    except ConnectionRefusedError:
        print("refused")
        break
    except socket.timeout:
        continue
else:
    print("timeout")
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
    stdout_or_empty(&format!("tcp_request {ns} -> {ip}:{port}"), &out)
}

/// Sends `payload` by UDP from `ns` to `ip:port`, returns the reply (empty
/// string when none came within ~2.5 s).
pub fn udp_request(ns: &str, ip: &str, port: u16, payload: &str) -> String {
    let out = netns_exec(
        ns,
        &[python(), "-c", UDP_CLIENT, ip, &port.to_string(), payload],
    );
    stdout_or_empty(&format!("udp_request {ns} -> {ip}:{port}"), &out)
}

/// A client's stdout, or an empty string (its complaint on stderr, naming
/// `what`) when it failed.
fn stdout_or_empty(what: &str, out: &Output) -> String {
    if !out.status.success() {
        eprintln!("{what} failed: {}", out.stderr_str().trim());
        return String::new();
    }
    out.stdout_str()
}

/// What a connected UDP socket in `ns` gets back from `ip:port`
/// ([`UDP_CONNECTED`]): `refused`, `answered` or `timeout` on stdout.
pub fn udp_connected_outcome(ns: &str, ip: &str, port: u16) -> Output {
    netns_exec(ns, &[python(), "-c", UDP_CONNECTED, ip, &port.to_string()])
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
