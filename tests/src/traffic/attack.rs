//! What an attacker sends, bounded: floods of crafted TCP SYNs (python3
//! AF_PACKET, checksums computed), and UDP with a chosen TTL next to a
//! server that reports the TTL it received.

use std::time::Duration;

use crate::TestEnv;
use crate::netns::{python, python_in_netns_ok};

use super::clients::{Recorder, record, send_frame};
use super::host::{drop_count, wait_for};

/// `DEV SRC_MAC DST_MAC SRC_IP DST_IP COUNT MODE PORT`: COUNT TCP SYNs.
/// MODE `flows`: from SRC_IP, each a new flow (1000 destination ports from
/// PORT up, source ports counting). MODE `spoof`: from SRC_IP's /24
/// (hosts .3 to .252) to DST_IP:PORT, source ports counting.
const SYN_FLOOD: &str = r#"
import socket, struct, sys
dev, smac, dmac, src, dst, count, mode, port = sys.argv[1:9]
count, port = int(count), int(port)
def csum(b):
    s = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    s = (s & 0xffff) + (s >> 16)
    s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff
sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
sock.bind((dev, 0))
eth = bytes.fromhex(dmac.replace(":", "")) + bytes.fromhex(smac.replace(":", "")) + b"\x08\x00"
srcb, dstb = socket.inet_aton(src), socket.inet_aton(dst)
sent = 0
for i in range(count):
    if mode == "spoof":
        sip, sport, dport = srcb[:3] + bytes([3 + i % 250]), 1024 + (i // 250) % 64000, port
    else:
        sip, sport, dport = srcb, 1024 + (i // 1000) % 64000, port + i % 1000
    tcp = struct.pack("!HHIIBBHHH", sport, dport, i, 0, 0x50, 0x02, 64240, 0, 0)
    pseudo = sip + dstb + struct.pack("!BBH", 0, 6, len(tcp))
    tcp = tcp[:16] + struct.pack("!H", csum(pseudo + tcp)) + tcp[18:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(tcp), i & 0xffff, 0x4000, 64, 6, 0, sip, dstb)
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    try:
        sock.send(eth + ip + tcp)
        sent += 1
    except OSError:
        pass
print("sent %d" % sent)
"#;

/// A UDP server on PORT that prints `ttl N from IP:PORT` per datagram
/// (IP_RECVTTL) and echoes it.
const TTL_SERVER: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
IP_RECVTTL = getattr(socket, "IP_RECVTTL", 12)  # <linux/in.h>; not every Python names it
s.setsockopt(socket.IPPROTO_IP, IP_RECVTTL, 1)
s.bind(("0.0.0.0", int(sys.argv[1])))
print("ready", flush=True)
while True:
    d, anc, _, a = s.recvmsg(2048, socket.CMSG_SPACE(4))
    ttl = next((int.from_bytes(c[2][:4], "little") for c in anc if c[0] == socket.IPPROTO_IP and c[1] == socket.IP_TTL), -1)
    print("ttl %d from %s:%d" % (ttl, a[0], a[1]), flush=True)
    s.sendto(d, a)
"#;

/// `IP PORT TTL`: one UDP datagram with that TTL; prints the echo or
/// `timeout`.
const TTL_CLIENT: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, int(sys.argv[3]))
s.settimeout(2)
s.sendto(b"ttl-probe", (sys.argv[1], int(sys.argv[2])))
try:
    print(s.recv(2048).decode())
except socket.timeout:
    print("timeout")
"#;

/// `IP PORT`: a UDP datagram with TTL 1 to IP:PORT, then listens (raw
/// ICMP socket, 2 s) for "time exceeded" about it; prints `time-exceeded
/// from ADDR` or `none`.
const TTL_PROBE: &str = r#"
import socket, struct, sys, time
ip, port = sys.argv[1], int(sys.argv[2])
raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
raw.settimeout(0.2)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
u.sendto(b"ttl-1", (ip, port))
sport = u.getsockname()[1]
end = time.time() + 2
while time.time() < end:
    try:
        d, a = raw.recvfrom(2048)
    except socket.timeout:
        continue
    ihl = (d[0] & 15) * 4
    icmp = d[ihl:]
    if icmp[0] != 11 or len(icmp) < 8 + 28:
        continue
    inner = icmp[8:]
    iihl = (inner[0] & 15) * 4
    isp, idp = struct.unpack("!HH", inner[iihl:iihl + 4])
    if socket.inet_ntoa(inner[16:20]) == ip and (isp, idp) == (sport, port):
        print("time-exceeded from %s" % a[0])
        sys.exit(0)
print("none")
"#;

/// Who sends a flood, and as what.
pub struct Flood<'a> {
    pub ns: &'a str,
    pub dev: &'a str,
    pub src_mac: &'a str,
    pub dst_mac: &'a str,
    pub src_ip: &'a str,
    pub dst_ip: &'a str,
    pub port: u16,
}

impl Flood<'_> {
    /// Sends `count` SYNs (`mode` `flows` or `spoof`, see [`SYN_FLOOD`]);
    /// returns how many left the socket. Bounded to 120 s.
    pub fn send(&self, mode: &str, count: u32) -> u32 {
        let (count, port) = (count.to_string(), self.port.to_string());
        let args = [
            self.dev,
            self.src_mac,
            self.dst_mac,
            self.src_ip,
            self.dst_ip,
            &count,
            mode,
            &port,
        ];
        let limit = Duration::from_secs(120);
        let out = python_in_netns_ok(self.ns, "SYN flood", SYN_FLOOD, &args, limit);
        out.trim()
            .strip_prefix("sent ")
            .and_then(|n| n.parse().ok())
            .unwrap_or_else(|| panic!("SYN flood printed {out:?}"))
    }
}

/// A [`TTL_SERVER`] on `port` in `ns`.
pub fn ttl_server(ns: &str, port: u16) -> Recorder {
    record(
        Some(ns),
        &[python(), "-c", TTL_SERVER, &port.to_string()],
        true,
    )
}

/// One UDP datagram with `ttl` from `ns` to `ip:port`: the echo, or
/// `timeout`.
pub fn udp_with_ttl(ns: &str, ip: &str, port: u16, ttl: u8) -> String {
    let args = [ip, &port.to_string(), &ttl.to_string()];
    let ten = Duration::from_secs(10);
    let out = python_in_netns_ok(ns, "TTL client", TTL_CLIENT, &args, ten);
    out.trim().to_string()
}

/// Sends `frame` `count` times from `ns`'s `eth0` and asserts the datapath
/// drops every copy for `reason` (within 5 s).
pub fn assert_frames_dropped(env: &TestEnv, ns: &str, frame: &[u8], count: u32, reason: &str) {
    let before = drop_count(env, reason);
    send_frame(ns, "eth0", frame, count);
    let want = before + u64::from(count);
    assert!(
        wait_for(Duration::from_secs(5), || drop_count(env, reason) >= want),
        "{count} frames from {ns} not dropped as {reason} (count {} -> {})",
        before,
        drop_count(env, reason)
    );
}

/// A UDP datagram with TTL 1 from `ns` to `ip:port`: `time-exceeded from
/// ADDR` when a hop answered so, else `none`.
pub fn ttl_probe(ns: &str, ip: &str, port: u16) -> String {
    let args = [ip, &port.to_string()];
    let ten = Duration::from_secs(10);
    let out = python_in_netns_ok(ns, "TTL probe", TTL_PROBE, &args, ten);
    out.trim().to_string()
}
