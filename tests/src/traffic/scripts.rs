//! The python3 programs the traffic helpers run inside namespaces.

use crate::py_socket::py_socket_fns;

/// TCP and UDP server on `0.0.0.0:PORT` (`NAME PORT`), or on `[::]:PORT`
/// for both families (`NAME PORT 6`). TCP: answers every line with
/// `NAME peer=IP:PORT got=LINE` and keeps the connection; UDP: answers each
/// datagram the same way (IP as the socket sees the client:
/// `::ffff:a.b.c.d` for an IPv4 one on `[::]`). Prints `tcp IP:PORT` /
/// `udp IP:PORT DATA` on stdout.
pub(crate) const ECHO_SERVER: &str = r#"
import socket, sys, threading
name, port = sys.argv[1], int(sys.argv[2])
six = sys.argv[3:] == ["6"]
family, any_ip = (socket.AF_INET6, "::") if six else (socket.AF_INET, "0.0.0.0")
out = threading.Lock()
def log(s):
    with out:
        sys.stdout.write(s + "\n"); sys.stdout.flush()
def conn(c, a):
    log("tcp %s:%d" % a[:2])
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
s = socket.socket(family, socket.SOCK_STREAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
u = socket.socket(family, socket.SOCK_DGRAM)
if six:
    for x in (s, u):
        x.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
s.bind((any_ip, port)); s.listen(256)
u.bind((any_ip, port))
threading.Thread(target=tcp, args=(s,), daemon=True).start()
log("ready")
udp(u)
"#;

/// `IP PORT PROTO N [SRC]`: N concurrent clients (threads). Each prints
/// `OK LOCALPORT REPLY` or `ERR I WHAT`. TCP clients hold their connection
/// until all have their reply, so the N flows are live at the same time.
pub(super) const MANY_CLIENTS: &str = concat!(
    r#"
import socket, sys, threading
"#,
    py_socket_fns!(),
    r#"
ip, port, proto, n = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4])
res = [None] * n
# Every socket stays open until all clients are done: a port one client
# closed could otherwise be handed to the next, whose flow would then be
# the first one's (same tuple) rather than a flow of its own.
barrier = threading.Barrier(n, timeout=10)
def all_done():
    try:
        barrier.wait()
    except threading.BrokenBarrierError:
        pass
def one(i):
    s = None
    try:
        if proto == "tcp":
            s = socket.create_connection((ip, port), timeout=3)
            s.settimeout(3)
            lp = s.getsockname()[1]
            s.sendall(b"client-%d\n" % i)
            d = recv_until(s, b"\n")
        else:
            s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            s.bind(("0.0.0.0", 0)); s.settimeout(1.2)
            lp = s.getsockname()[1]
            d = udp_ask(s, b"client-%d" % i, (ip, port))
        res[i] = "OK %d %s" % (lp, d.decode(errors="replace").strip()) if d else "ERR %d no reply" % i
    except Exception as e:
        res[i] = "ERR %d %s" % (i, e)
    all_done()
    if s is not None:
        s.close()
ts = [threading.Thread(target=one, args=(i,)) for i in range(n)]
for t in ts: t.start()
for t in ts: t.join()
sys.stdout.write("\n".join(res) + "\n")
"#
);

/// `IP PORT N`: N UDP flows one after another, each from a new socket;
/// prints each reply (or `ERR`).
pub(super) const SEQ_UDP: &str = concat!(
    r#"
import socket, sys
"#,
    py_socket_fns!(),
    r#"
ip, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
family = socket.AF_INET6 if ":" in ip else socket.AF_INET
for i in range(n):
    s = socket.socket(family, socket.SOCK_DGRAM); s.settimeout(1.2)
    d = udp_ask(s, b"flow-%d" % i, (ip, port))
    print(d.decode(errors="replace") if d else "ERR flow-%d" % i, flush=True)
    s.close()
"#
);

/// `IP PORT`: one TCP connection, a line every 200 ms; prints `local PORT`,
/// then `reply ...` / `timeout` / `closed` / `error ...` lines (30 s at most).
pub(super) const HOLD_CLIENT: &str = r#"
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
pub(super) const RAW_SEND: &str = r#"
import socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
for _ in range(int(sys.argv[3])):
    s.send(bytes.fromhex(sys.argv[2])); time.sleep(0.05)
"#;

/// `DEV`: prints every incoming IPv4 TCP/UDP frame on DEV as
/// `PROTO SRC:SPORT -> DST:DPORT`.
pub(super) const SNIFF: &str = r#"
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
