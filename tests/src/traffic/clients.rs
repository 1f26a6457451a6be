//! Recorded servers and clients, many-flow runs, raw frames, and requests
//! from the test process itself.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::thread;
use std::time::Duration;

use crate::netns::{Spawned, netns_exec_ok, python, python_in_netns_ok};

use super::scripts::*;

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
/// `ns` to `ip:port`; failures as `Err(text)`. Each client has a socket of
/// its own, kept open until all are done, so no two share a local port
/// (and with it a flow).
pub fn many_clients(
    ns: &str,
    ip: &str,
    port: u16,
    proto: &str,
    n: usize,
) -> Vec<Result<(u16, String), String>> {
    let args = [ip, &port.to_string(), proto, &n.to_string()];
    let thirty = Duration::from_secs(30);
    python_in_netns_ok(ns, "many clients", MANY_CLIENTS, &args, thirty)
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
    let args = [ip, &port.to_string(), &n.to_string()];
    let timeout = Duration::from_secs(60 + n as u64 * 3);
    python_in_netns_ok(ns, "udp flows", SEQ_UDP, &args, timeout)
        .lines()
        .map(str::to_string)
        .collect()
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

fn socket_addr(ip: &str, port: u16) -> SocketAddr {
    let ip: IpAddr = ip
        .parse()
        .unwrap_or_else(|e| panic!("not an IP address: {ip:?}: {e}"));
    SocketAddr::new(ip, port)
}

/// A UDP socket of the family of `addr` (dual-stack for IPv6), any port.
fn udp_socket_for(addr: &SocketAddr) -> Result<UdpSocket, String> {
    let any: IpAddr = match addr {
        SocketAddr::V4(_) => Ipv4Addr::UNSPECIFIED.into(),
        SocketAddr::V6(_) => Ipv6Addr::UNSPECIFIED.into(),
    };
    let s = UdpSocket::bind((any, 0)).map_err(|e| format!("bind [{any}]:0: {e}"))?;
    s.set_read_timeout(Some(Duration::from_millis(1200)))
        .map_err(|e| e.to_string())?;
    Ok(s)
}

/// The `-p` options of a container that the host's own clients reach
/// ([`host_tcp`], [`host_udp`]): its port 80 published as 8080 (TCP and
/// UDP) on every host address, and as 8081 (TCP) on 127.0.0.1 alone.
pub const PUBLISHED_TO_HOST: [&str; 6] = [
    "-p",
    "8080:80",
    "-p",
    "8080:80/udp",
    "-p",
    "127.0.0.1:8081:80",
];

/// A TCP request from the test process (host namespace) to an IPv4 or
/// IPv6 address: sends `line`, returns the first reply line, or `Err`
/// (3 s timeouts).
pub fn host_tcp(ip: &str, port: u16, line: &str) -> Result<String, String> {
    let addr = socket_addr(ip, port);
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

/// A UDP request from the test process (unconnected socket of the
/// address's family, two tries of 1.2 s): returns the reply and the
/// address it came from.
pub fn host_udp(ip: &str, port: u16, payload: &str) -> Result<(String, SocketAddr), String> {
    let addr = socket_addr(ip, port);
    let s = udp_socket_for(&addr)?;
    let mut buf = [0u8; 4096];
    for _ in 0..2 {
        s.send_to(payload.as_bytes(), addr)
            .map_err(|e| format!("send to {addr}: {e}"))?;
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            return Ok((String::from_utf8_lossy(&buf[..n]).into_owned(), from));
        }
    }
    Err(format!("no UDP reply from {ip}:{port}"))
}

/// Like [`host_udp`], but the socket `connect`s to the address first and
/// sends with `send`; the reply's address is still read with `recv_from`.
pub fn host_udp_connected(
    ip: &str,
    port: u16,
    payload: &str,
) -> Result<(String, SocketAddr), String> {
    let addr = socket_addr(ip, port);
    let s = udp_socket_for(&addr)?;
    s.connect(addr)
        .map_err(|e| format!("connect UDP to {addr}: {e}"))?;
    let mut buf = [0u8; 4096];
    for _ in 0..2 {
        s.send(payload.as_bytes())
            .map_err(|e| format!("send to {addr}: {e}"))?;
        if let Ok((n, from)) = s.recv_from(&mut buf) {
            return Ok((String::from_utf8_lossy(&buf[..n]).into_owned(), from));
        }
    }
    Err(format!("no UDP reply from {addr}"))
}
