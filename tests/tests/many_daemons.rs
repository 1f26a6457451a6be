//! Two ebpfnet daemons on one machine, each in a network namespace of its
//! own ("hosts" A and B joined by an underlay bridge, `tests/src/hosts.rs`)
//! with its own socket, state dir and pin dir: the groundwork of the
//! many-host tests. Each host publishes the same port for its own
//! container; the socket programs both daemons attach to the machine's
//! root cgroup act for their own host's sockets only (`CONFIG`'s netns
//! cookie), the TC programs are per interface, so neither interferes with
//! the other. Container names are machine-wide (`/run/netns`), and a name
//! taken by one daemon is refused by the other.

use ebpfnet_tests::hosts::{Host, Underlay};
use ebpfnet_tests::*;

/// A TCP server on port 80 of `container` answering `hello from NAME`.
fn serve(container: &str) -> Spawned {
    tcp_server(container, "0.0.0.0", 80)
}

fn fetch(ns: &str, ip: &str, port: u16) -> String {
    tcp_request(ns, ip, port)
}

fn container(host: &Host, name: &str) {
    host.ok(&["container", "create", name, "-p", "8080:80"]);
}

#[test]
fn two_daemons_side_by_side_do_not_interfere() {
    let underlay = Underlay::create();
    let a = underlay.host('A', 1);
    let b = underlay.host('B', 2);
    for host in [&a, &b] {
        let status = host.ok(&["status"]);
        assert!(
            status.contains(&host.pin_dir.display().to_string())
                && status.contains(&host.state_dir.display().to_string()),
            "{status}"
        );
    }
    container(&a, "mdA1");
    container(&b, "mdB1");
    let (_sa, _sb) = (serve("mdA1"), serve("mdB1"));

    // Over the underlay, each host's published port leads to its container.
    let reply = fetch(&b.ns, &a.ip, 8080);
    assert!(reply.contains("hello from mdA1"), "B -> A:8080: {reply:?}");
    assert!(
        reply.contains(&format!("peer={} ", b.ip)),
        "source kept: {reply:?}"
    );
    let reply = fetch(&a.ns, &b.ip, 8080);
    assert!(reply.contains("hello from mdB1"), "A -> B:8080: {reply:?}");

    // The socket programs: both daemons' run on every socket of the
    // machine, each acts for its own host's only.
    for (host, name) in [(&a, "mdA1"), (&b, "mdB1")] {
        let reply = fetch(&host.ns, "127.0.0.1", 8080);
        assert!(
            reply.contains(&format!("hello from {name}")),
            "{}'s 127.0.0.1:8080: {reply:?}",
            host.ns
        );
    }
    let outside = std::process::Command::new(python())
        .args([
            "-c",
            "import socket; socket.create_connection(('127.0.0.1', 8080), 2)",
        ])
        .output()
        .expect("python3");
    let stdout = String::from_utf8_lossy(&outside.stdout);
    assert!(
        !stdout.contains("hello from md"),
        "the machine's own 127.0.0.1:8080 was sent to a host's container"
    );

    // Masquerade out of each host: the other sees the host's address.
    let _remote = tcp_server(&b.ns, "0.0.0.0", 9000);
    let reply = fetch("mdA1", &b.ip, 9000);
    assert!(
        reply.contains(&format!("peer={} ", a.ip)),
        "mdA1 -> B: {reply:?}"
    );

    // Container names are machine-wide namespaces: B cannot take A's.
    let out = b.cli(&["container", "create", "mdA1"]);
    assert!(!out.status.success(), "B took A's container name");
    assert!(
        out.stderr_str().contains("mdA1") && out.stderr_str().contains("already exists"),
        "{}",
        out.stderr_str()
    );
    let reply = fetch(&b.ns, &a.ip, 8080);
    assert!(
        reply.contains("hello from mdA1"),
        "A's container is intact: {reply:?}"
    );

    // One daemon's reset leaves the other's datapath forwarding.
    drop(a);
    let reply = fetch(&b.ns, "127.0.0.1", 8080);
    assert!(
        reply.contains("hello from mdB1"),
        "B after A's reset: {reply:?}"
    );
    assert!(!netns_exists("mdA1"), "A's reset left its container");
    b.ok(&["container", "rm", "mdB1"]);
}
