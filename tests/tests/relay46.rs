//! This host's own IPv4 clients of an IPv6-only container (the daemon's
//! relay, relay46): TCP and UDP from the host to `127.0.0.1:P` and to the
//! host's IPv4 address reach the container (seen as the network's IPv6
//! gateway), a bulk transfer with half-close arrives whole both ways,
//! other hosts' clients stay translated with their address kept, a
//! restart of the daemon brings the relay back, and `unpublish` and `rm`
//! shut it (connection refused).

use std::net::{SocketAddr, TcpListener};

use ebpfnet_tests::ipv6_publish::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const GATEWAY: &str = "fd00:e9:47::1";

#[track_caller]
fn from_host_tcp(ip: &str, port: u16, what: &str) -> String {
    let reply = host_tcp(ip, port, "hi").unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(reply.starts_with("r46 peer="), "{what}: {reply}");
    reply
}

#[track_caller]
fn from_host_udp(ip: &str, port: u16, what: &str) {
    let (reply, from) = host_udp(ip, port, "hi").unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(reply.starts_with("r46 peer="), "{what}: {reply}");
    // The answer comes from the address asked, so clients accept it.
    let asked: SocketAddr = format!("{ip}:{port}").parse().expect("address");
    assert_eq!(from, asked, "{what}");
}

#[track_caller]
fn refused_tcp(ip: &str, port: u16, what: &str) {
    let err = host_tcp(ip, port, "hi").expect_err(what);
    assert!(err.contains("refused"), "{what}: {err}");
}

#[test]
fn this_hosts_ipv4_clients_reach_an_ipv6_only_container_through_the_relay() {
    let mut env = TestEnv::new("rly46");
    env.create_network(
        "r46net",
        &["--ipv6", "--ipv4=false", "--subnet", "fd00:e9:47::/64"],
    );
    let on_host_ip = format!("{}:8072:80", env.uplink_ip);
    env.create_container(
        "r46",
        &[
            "--network",
            "r46net",
            "-p",
            "8070:80",
            "-p",
            "8070:80/udp",
            "-p",
            "127.0.0.1:8071:80",
            "-p",
            "127.0.0.1:8071:80/udp",
            "-p",
            &on_host_ip,
            "-p",
            "127.0.0.1:8073:83",
        ],
    );
    let _echo = echo_server6("r46", "r46", 80);
    let _drain = record(Some("r46"), &[python(), "-c", BULK_SERVER, "83"], true);
    let host_ip = env.uplink_ip.clone();

    // `port` says how the host's own IPv4 clients are served.
    let out = env.cli(&["port", "r46"]);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && note.contains("through the daemon's relay"),
        "port r46: {out:?}"
    );

    // TCP and UDP from the host, on loopback and on the host's address,
    // for every-address, loopback and one-address mappings; the
    // container sees the network's gateway.
    let reply = from_host_tcp("127.0.0.1", 8070, "127.0.0.1:8070");
    assert_eq!(peer_address(&reply), GATEWAY, "{reply}");
    from_host_tcp(&host_ip, 8070, "host address:8070");
    from_host_tcp("127.0.0.1", 8071, "127.0.0.1:8071");
    from_host_tcp(&host_ip, 8072, "host address:8072");
    from_host_udp("127.0.0.1", 8070, "UDP 127.0.0.1:8070");
    from_host_udp(&host_ip, 8070, "UDP host address:8070");
    from_host_udp("127.0.0.1", 8071, "UDP 127.0.0.1:8071");
    // A mapping on 127.0.0.1 is the host's only; one on another address
    // is not served on loopback.
    let shut = ask(&env.outside_ns, "tcp", &host_ip, 8071);
    assert!(shut.is_err(), "8071 answered another host: {shut:?}");
    refused_tcp(
        "127.0.0.1",
        8072,
        "127.0.0.1:8072 (published on the host address only)",
    );

    // Other hosts' clients are still translated, their address kept.
    let outside = answered_by(
        ask(&env.outside_ns, "tcp", &host_ip, 8070),
        "r46",
        "another host",
    );
    assert!(
        peer_address(&outside).starts_with("64:ff9b:1::"),
        "{outside}"
    );

    // 2 MiB each way, answered only after the client's half-close.
    let bulk = run(
        std::process::Command::new(python()).args([
            "-c",
            BULK_CLIENT,
            "127.0.0.1",
            "8073",
            "2097152",
        ]),
        None,
        std::time::Duration::from_secs(60),
    );
    // The container sees the relay's connection from the gateway.
    assert!(
        String::from_utf8_lossy(&bulk.stdout).starts_with(&format!("ok {GATEWAY} ")),
        "bulk through the relay: {bulk:?}"
    );

    // A port a host process holds on 127.0.0.1 cannot be published there.
    let holder = TcpListener::bind("127.0.0.1:0").expect("a host listener");
    let held = holder.local_addr().expect("address").port();
    env.fails_with(
        &[
            "publish",
            &format!("127.0.0.1:{held}:80"),
            "--container",
            "r46",
        ],
        &[&format!("host port {held}/tcp is already in use")],
    );
    drop(holder);

    // The relay ends with the daemon and comes back with it.
    assert!(
        env.stop_daemon().success(),
        "the daemon did not stop cleanly"
    );
    refused_tcp("127.0.0.1", 8070, "with the daemon stopped");
    env.start_daemon();
    from_host_tcp("127.0.0.1", 8070, "after restart");
    from_host_udp("127.0.0.1", 8071, "UDP after restart");
    from_host_tcp(&host_ip, 8072, "host address after restart");

    // `unpublish` shuts it; the other protocol stays.
    env.ok(&["unpublish", "0.0.0.0:8070:80", "--container", "r46"]);
    refused_tcp("127.0.0.1", 8070, "unpublished");
    refused_tcp(&host_ip, 8070, "unpublished, host address");
    from_host_udp("127.0.0.1", 8070, "UDP kept");

    // `rm` shuts the rest.
    env.ok(&["container", "rm", "r46"]);
    refused_tcp("127.0.0.1", 8071, "removed");
    refused_tcp(&host_ip, 8072, "removed, host address");
    assert!(host_udp("127.0.0.1", 8070, "hi").is_err(), "UDP after rm");
}
