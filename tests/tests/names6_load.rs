//! The embedded name server over IPv6 under load: a container's AAAA
//! lookups to its network's IPv6 gateway — UDP and TCP from its global
//! address, which the datapath hands on through `container_ingress6` to
//! the host — all answered, a few hundred of them, in parallel.

use std::time::Duration;

use ebpfnet_tests::ipv6::{AAAA_QUERY, v6_of};
use ebpfnet_tests::traffic::wait_for;
use ebpfnet_tests::*;

/// `SERVER NAME WANT N`: 4 threads of N UDP queries each (one retry on a
/// timeout) and 2 threads of N/4 TCP queries each, AAAA for NAME; counts
/// the answers with the query's id, no error and WANT among the records:
/// prints `udp OK tcp OK`.
const LOAD: &str = r#"
import socket, struct, sys, threading
server, name, want, n = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
wanted = socket.inet_pton(socket.AF_INET6, want)
def query(i):
    q = struct.pack("!HHHHHH", i & 0xffff, 0x0100, 1, 0, 0, 0)
    q += b"".join(bytes([len(p)]) + p.encode() for p in name.split("."))
    return q + b"\0" + struct.pack("!HH", 28, 1)
def good(d, i):
    return len(d) > 12 and struct.unpack("!H", d[:2])[0] == i & 0xffff \
        and d[3] & 15 == 0 and wanted in d[12:]
ok = {"udp": 0, "tcp": 0}
lock = threading.Lock()
def count(kind):
    with lock:
        ok[kind] += 1
def udp(start):
    s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
    s.settimeout(2)
    for i in range(start, start + n):
        for _ in range(2):
            s.sendto(query(i), (server, 53))
            try:
                if good(s.recv(4096), i):
                    count("udp")
                    break
            except socket.timeout:
                pass
def recv_exact(c, size):
    d = b""
    while len(d) < size:
        x = c.recv(size - len(d))
        if not x:
            break
        d += x
    return d
def tcp(start):
    for i in range(start, start + n // 4):
        try:
            c = socket.create_connection((server, 53), timeout=2)
            q = query(i)
            c.sendall(struct.pack("!H", len(q)) + q)
            size = struct.unpack("!H", recv_exact(c, 2))[0]
            if good(recv_exact(c, size), i):
                count("tcp")
            c.close()
        except (OSError, struct.error):
            pass
threads = [threading.Thread(target=udp, args=(k * n,)) for k in range(4)]
threads += [threading.Thread(target=tcp, args=(20000 + k * n,)) for k in range(2)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("udp", ok["udp"], "tcp", ok["tcp"])
"#;

#[test]
fn aaaa_lookups_over_ipv6_to_the_gateway_hold_under_load() {
    let env = TestEnv::new("dns6load");
    env.create_network("d6l", &["--ipv6"]);
    env.create_container("qa", &["--network", "d6l"]);
    env.create_container("qb", &["--network", "d6l"]);
    let (b6, _, gw6) = v6_of(&env, "qb", "d6l");
    let first = wait_for(Duration::from_secs(5), || {
        netns_exec("qa", &[python(), "-c", AAAA_QUERY, &gw6, "qb"])
            .stdout_str()
            .trim()
            == format!("answer 0 {b6}")
    });
    assert!(first, "no AAAA answer for qb from [{gw6}]:53");

    // 400 over UDP, 50 over TCP, six clients at once.
    let counts = netns_exec_ok("qa", &[python(), "-c", LOAD, &gw6, "qb", &b6, "100"]);
    assert_eq!(counts.trim(), "udp 400 tcp 50", "AAAA answers under load");
}
