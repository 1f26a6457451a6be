//! Host processes with IPv6 sockets reach published (IPv4) ports: `::1`
//! matches what `127.0.0.1` matches, `::ffff:IP` what `IP` matches; the
//! cgroup `connect6`/`recvmsg6` hooks send a dual-stack socket to the
//! v4-mapped container address, with no NAT and no proxy.

use std::process::Command;
use std::time::Duration;

use ebpfnet_tests::cli::{CmdOutput, describe};
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// Connection refused, as a host client sees it when nothing listens.
const REFUSED: &str = "os error 111";
/// `EPERM`: what the `sendmsg6` hook's refusal looks like.
const NOT_PERMITTED: &str = "os error 1)";

#[track_caller]
fn tcp_answered_by(ip: &str, port: u16, name: &str) {
    let line = format!("via-{ip}");
    let r = host_tcp(ip, port, &line).unwrap_or_else(|e| panic!("TCP [{ip}]:{port}: {e}"));
    assert!(
        r.starts_with(&format!("{name} peer=")) && r.ends_with(&format!("got={line}")),
        "TCP [{ip}]:{port} answered {r:?}, expected {name}"
    );
}

#[test]
fn ipv6_loopback_and_v4_mapped_reach_published_ports() {
    let env = TestEnv::new("hv6");
    let up = env.uplink_ip.clone();
    env.create_container("h6a", &PUBLISHED_TO_HOST);
    env.create_container("h6b", &["-p", &format!("{up}:8093:80")]);
    let _a = echo_server("h6a", "h6a", 80);
    let _b = echo_server("h6b", "h6b", 80);

    // TCP: ::1 and v4-mapped loopback reach 0.0.0.0 and 127.0.0.1 mappings;
    // the v4-mapped host address reaches the 0.0.0.0 one.
    for ip in ["::1", "::ffff:127.0.0.1"] {
        tcp_answered_by(ip, 8080, "h6a");
        tcp_answered_by(ip, 8081, "h6a");
    }
    tcp_answered_by(&format!("::ffff:{up}"), 8080, "h6a");

    // A mapping on one non-loopback address: reached through that address
    // (v4-mapped), never through ::1 (nothing listens there on the host).
    tcp_answered_by(&format!("::ffff:{up}"), 8093, "h6b");
    for ip in ["::1", "::ffff:127.0.0.1"] {
        match host_tcp(ip, 8093, "x") {
            Err(e) if e.contains(REFUSED) => {}
            other => panic!("{up}:8093 reached through [{ip}]: {other:?}"),
        }
    }

    // UDP, connected to ::1: the reply shows [::1]:8080.
    let (reply, from) = host_udp_connected("::1", 8080, "udp6-connected")
        .unwrap_or_else(|e| panic!("UDP connected [::1]:8080: {e}"));
    assert!(
        reply.starts_with("h6a peer=") && reply.ends_with("got=udp6-connected"),
        "{reply}"
    );
    assert_eq!(
        from.to_string(),
        "[::1]:8080",
        "reply must seem to come from [::1]:8080"
    );

    // UDP, unconnected sendto a v4-mapped address: the kernel takes the
    // IPv4 path (sendmsg4), and recvmsg6 shows the address sent to.
    for ip in ["::ffff:127.0.0.1".to_string(), format!("::ffff:{up}")] {
        let (reply, from) =
            host_udp(&ip, 8080, "udp6-mapped").unwrap_or_else(|e| panic!("UDP [{ip}]:8080: {e}"));
        assert!(reply.starts_with("h6a peer="), "{reply}");
        assert_eq!(from.to_string(), format!("[{ip}]:8080"));
    }

    // UDP, unconnected sendto ::1: the kernel cannot redirect a native IPv6
    // datagram to an IPv4 address, so it is refused at once, not lost.
    match host_udp("::1", 8080, "udp6-unconnected") {
        Err(e) if e.contains(NOT_PERMITTED) => {}
        other => panic!("unconnected sendto [::1]:8080 must fail with EPERM, got {other:?}"),
    }
    // Unpublished ports are left alone.
    match host_udp("::1", 8094, "nothing") {
        Err(e) if e.starts_with("no UDP reply") => {}
        other => panic!("sendto [::1]:8094 (not published): {other:?}"),
    }

    // An IPV6_V6ONLY socket is sent to ::ffff:CONTAINER too, which it may
    // not use: connect fails at once with ENETUNREACH (as documented).
    let script = "import socket,errno\n\
                  s=socket.socket(socket.AF_INET6,socket.SOCK_STREAM)\n\
                  s.setsockopt(socket.IPPROTO_IPV6,socket.IPV6_V6ONLY,1)\n\
                  s.settimeout(3)\n\
                  try:\n  s.connect(('::1',8080)); print('connected')\n\
                  except OSError as e: print(errno.errorcode.get(e.errno, e.errno))\n";
    let out = run(
        Command::new(python()).args(["-c", script]),
        None,
        Duration::from_secs(10),
    );
    assert_eq!(
        out.stdout_str().trim(),
        "ENETUNREACH",
        "IPV6_V6ONLY connect to [::1]:8080: {}",
        describe("python", &out)
    );
}
