//! The dump against the bind probe itself, on real loopback sockets of
//! the host's namespace (ports the kernel picks, so nothing else's).

use std::{
    io::Read as _,
    net::{SocketAddr, TcpListener, TcpStream, UdpSocket},
    time::Duration,
};

use socket2::{Domain, Socket, Type};

use super::*;
use crate::host::{Probe, bound::Verdict};

const PROBES: [&str; 5] = ["0.0.0.0", "127.0.0.1", "127.0.0.2", "::", "::1"];

fn v6_socket(kind: Type, v6only: bool, addr: &str) -> (Socket, u16) {
    let socket = Socket::new(Domain::IPV6, kind, None).expect("IPv6 socket");
    socket.set_only_v6(v6only).expect("IPV6_V6ONLY");
    let addr: SocketAddr = addr.parse().expect("address");
    socket.bind(&addr.into()).expect("bind");
    if kind == Type::STREAM {
        socket.listen(8).expect("listen");
    }
    let port = socket
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("local address")
        .port();
    (socket, port)
}

fn port_of(addr: std::io::Result<SocketAddr>) -> u16 {
    addr.expect("local address").port()
}

/// Every probe address on every port: where the dump is sure, it says
/// what a bind says.
fn agrees(protocol: Protocol, ports: &[u16]) -> Vec<((String, u16), Verdict)> {
    let bound = bound_sockets(protocol).expect("dump");
    let mut out = Vec::new();
    for &port in ports {
        for ip in PROBES {
            let addr = SocketAddr::new(ip.parse().expect("ip"), port);
            let verdict = bound.verdict(addr);
            let real = super::super::probe_port(protocol, addr);
            let expect = match real {
                Probe::Free => Verdict::Free,
                Probe::InUse => Verdict::InUse,
                other => panic!("probe {addr}/{protocol}: {other:?}"),
            };
            assert!(
                verdict == Verdict::Unsure || verdict == expect,
                "{addr}/{protocol}: the dump says {verdict:?}, bind says {expect:?}"
            );
            out.push(((ip.to_string(), port), verdict));
        }
    }
    out
}

fn verdict_of(all: &[((String, u16), Verdict)], ip: &str, port: u16) -> Verdict {
    all.iter()
        .find(|((i, p), _)| i == ip && *p == port)
        .map(|(_, v)| *v)
        .expect("probed")
}

#[test]
fn tcp_dump_agrees_with_bind() {
    let l4 = TcpListener::bind("127.0.0.1:0").expect("listener");
    let p_l4 = port_of(l4.local_addr());
    let (_dual, p_dual) = v6_socket(Type::STREAM, false, "[::]:0");
    let (_only, p_only) = v6_socket(Type::STREAM, true, "[::]:0");
    let l6 = TcpListener::bind("[::1]:0").expect("IPv6 loopback listener");
    let p_l6 = port_of(l6.local_addr());
    // Bound, neither listening nor connected.
    let bound = Socket::new(Domain::IPV4, Type::STREAM, None).expect("socket");
    bound
        .bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())
        .expect("bind");
    let p_bound = bound
        .local_addr()
        .ok()
        .and_then(|a| a.as_socket())
        .expect("addr")
        .port();
    // A connection the client closes first: its port in TIME_WAIT.
    let client = TcpStream::connect(("127.0.0.1", p_l4)).expect("connect");
    let p_tw = port_of(client.local_addr());
    let (mut server, _) = l4.accept().expect("accept");
    drop(client);
    let mut rest = Vec::new();
    server.read_to_end(&mut rest).expect("read to EOF");
    drop(server);
    std::thread::sleep(Duration::from_millis(100));
    // An IPv6 connection (the client not IPv6-only).
    let c6 = TcpStream::connect(("::1", p_l6)).expect("connect over IPv6");
    let p_c6 = port_of(c6.local_addr());

    let ports = [p_l4, p_dual, p_only, p_l6, p_bound, p_tw, p_c6];
    let all = agrees(Protocol::Tcp, &ports);
    use Verdict::{Free, InUse};
    let sure = [
        ("0.0.0.0", p_l4, InUse),
        ("127.0.0.2", p_l4, Free),
        ("::", p_l4, Free),
        ("127.0.0.1", p_dual, InUse),
        ("::1", p_dual, InUse),
        ("127.0.0.1", p_only, Free),
        ("::1", p_only, InUse),
        // The listener is IPv6-only, its connection from c6 does not say
        // (the kernel reports V6ONLY of listening and unbound sockets).
        ("0.0.0.0", p_l6, Verdict::Unsure),
        ("::", p_l6, InUse),
        ("127.0.0.1", p_bound, InUse),
        ("127.0.0.1", p_tw, InUse),
        ("::1", p_tw, Free),
        ("::1", p_c6, InUse),
        ("127.0.0.1", p_c6, Free),
    ];
    for (ip, port, want) in sure {
        assert_eq!(verdict_of(&all, ip, port), want, "{ip}:{port}");
    }
    drop((l6, c6, bound));
}

#[test]
fn udp_dump_agrees_with_bind() {
    let u4 = UdpSocket::bind("127.0.0.1:0").expect("socket");
    let p_u4 = port_of(u4.local_addr());
    let (_dual, p_dual) = v6_socket(Type::DGRAM, false, "[::]:0");
    let (_only, p_only) = v6_socket(Type::DGRAM, true, "[::]:0");
    let u6 = UdpSocket::bind("[::1]:0").expect("IPv6 loopback socket");
    let p_u6 = port_of(u6.local_addr());
    let connected = UdpSocket::bind("127.0.0.1:0").expect("socket");
    connected.connect(("127.0.0.1", p_u4)).expect("connect");
    let p_conn = port_of(connected.local_addr());

    let all = agrees(Protocol::Udp, &[p_u4, p_dual, p_only, p_u6, p_conn]);
    use Verdict::{Free, InUse, Unsure};
    let sure = [
        ("127.0.0.1", p_u4, InUse),
        ("127.0.0.2", p_u4, Free),
        ("::", p_u4, Free),
        ("0.0.0.0", p_u4, Unsure),
        ("127.0.0.2", p_dual, InUse),
        ("0.0.0.0", p_dual, InUse),
        ("127.0.0.1", p_only, Free),
        ("::1", p_only, InUse),
        ("::1", p_u6, InUse),
        ("127.0.0.1", p_u6, Free),
        ("127.0.0.1", p_conn, InUse),
    ];
    for (ip, port, want) in sure {
        assert_eq!(verdict_of(&all, ip, port), want, "{ip}:{port}");
    }
    drop((u4, u6, connected));
}
