//! Publishing many ports in one command refuses the ports host sockets
//! hold as one port at a time does. Past its first 64 ports the daemon
//! reads the host's sockets once (sock_diag) instead of binding each
//! port, so the held port here is the 101st of the range.

use std::net::{SocketAddr, TcpListener, UdpSocket};

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;
use socket2::{Domain, Socket, Type};

const LEN: u16 = 120;
const HELD: u16 = 100;

/// Whether no host socket holds `port` now (TCP and UDP, both families).
fn unheld(port: u16) -> bool {
    TcpListener::bind(("::", port)).is_ok()
        && TcpListener::bind(("0.0.0.0", port)).is_ok()
        && UdpSocket::bind(("::", port)).is_ok()
        && UdpSocket::bind(("0.0.0.0", port)).is_ok()
}

/// The first of `LEN` ports below the ephemeral range that no host socket
/// holds.
fn free_block() -> u16 {
    (21000..31000)
        .step_by(usize::from(LEN))
        .find(|&start| (start..start + LEN).all(unheld))
        .expect("a block of free host ports")
}

/// `publish SPEC` into the test's container.
fn publish(spec: &str) -> [&str; 4] {
    ["publish", spec, "--container", "bk"]
}

/// A TCP listener on `[::]:port`, IPv6-only or dual-stack.
fn listen6(port: u16, v6only: bool) -> Socket {
    let socket = Socket::new(Domain::IPV6, Type::STREAM, None).expect("IPv6 socket");
    socket.set_only_v6(v6only).expect("IPV6_V6ONLY");
    socket
        .bind(&SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, port)).into())
        .expect("bind [::]");
    socket.listen(8).expect("listen");
    socket
}

#[test]
fn bulk_publishes_refuse_held_ports_as_single_ones() {
    let env = TestEnv::new("pbulk");
    env.create_container("bk", &[]);
    let start = free_block();
    let end = start + LEN - 1;
    let held = start + HELD;
    let up = env.uplink_ip.clone();
    let spec = |ip: &str, protocol: &str| format!("{ip}:{start}-{end}:{start}-{end}/{protocol}");
    let in_use = |protocol: &str| [format!("host port {held}/{protocol}"), "in use".into()];

    // An IPv4 listener on every address: refused on every address and on
    // the uplink's, nothing published.
    let listener = TcpListener::bind(("0.0.0.0", held)).expect("listener");
    for ip in ["0.0.0.0", up.as_str()] {
        let needles = in_use("tcp");
        env.fails_with(&publish(&spec(ip, "tcp")), &[&needles[0], &needles[1]]);
    }
    assert_eq!(port_lines(&env, "bk"), Vec::<String>::new());
    drop(listener);

    // An IPv6-only listener leaves the IPv4 port free.
    let only = listen6(held, true);
    let out = env.ok(&publish(&spec(&up, "tcp")));
    assert_eq!(out.lines().count(), usize::from(LEN), "{out}");
    env.ok(&["unpublish", &spec(&up, "tcp"), "--container", "bk"]);
    drop(only);

    // A dual-stack one holds it on every IPv4 address too.
    let dual = listen6(held, false);
    let needles = in_use("tcp");
    env.fails_with(&publish(&spec(&up, "tcp")), &[&needles[0], &needles[1]]);
    drop(dual);

    // UDP on loopback: the uplink's address is free, every address is not.
    let udp = UdpSocket::bind(("127.0.0.1", held)).expect("UDP socket");
    let out = env.ok(&publish(&spec(&up, "udp")));
    assert_eq!(out.lines().count(), usize::from(LEN), "{out}");
    env.ok(&["unpublish", &spec(&up, "udp"), "--container", "bk"]);
    let needles = in_use("udp");
    env.fails_with(
        &publish(&spec("0.0.0.0", "udp")),
        &[&needles[0], &needles[1]],
    );
    assert_eq!(port_lines(&env, "bk"), Vec::<String>::new());
    drop(udp);
}
