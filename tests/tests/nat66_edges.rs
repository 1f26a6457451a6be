//! NAT66 beyond the dual-stack basics (nat66.rs), end to end with real
//! ping6, TCP and UDP against the outside namespace, which has no route
//! back to the container subnets:
//! - masquerade from an IPv6-only network (`--ipv6 --ipv4=false`);
//! - a hop limit that runs out at this hop is answered "time exceeded",
//!   to a container (from its gateway, `ping -t 1`) and to an outside
//!   host (from the uplink address its reply was sent to);
//! - an ICMPv6 error a container sends about a masqueraded flow ("port
//!   unreachable" for a reply to a socket it closed) reaches the outside
//!   peer translated: from the uplink's address, quoting the flow as the
//!   peer sent it.

use std::time::Duration;

use ebpfnet_tests::ipv6::v6_of;
use ebpfnet_tests::outside6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// One datagram from `ns` to `[ip]:port`, its socket closed at once.
const SEND_AND_CLOSE: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.sendto(b"hello", (sys.argv[1], int(sys.argv[2])))
s.close()
"#;

#[test]
fn an_ipv6_only_network_masquerades_to_the_outside() {
    let env = TestEnv::new("nat66only");
    env.create_network("o66", &["--ipv6", "--ipv4=false"]);
    env.create_container("oc", &["--network", "o66"]);
    let (c6, _, _) = v6_of(&env, "oc", "o66");
    let _uplink6 = Uplink6::add(&env);
    let out = env.outside_ns.clone();
    let _server = record(Some(&out), &[python(), "-c", SERVER, "9000"], true);

    wait_echo6("oc", OUTSIDE6, Duration::from_secs(10));
    let (min, max) = masq_range(&env);
    for proto in ["tcp", "udp"] {
        let answer = ask("oc", proto, OUTSIDE6, 9000, proto, None);
        let (peer, port, _) = parse_answer(&answer);
        assert_eq!(peer, UPLINK6, "{answer}");
        assert!(
            (min..=max).contains(&port),
            "{proto} port {port} not in {min}-{max}"
        );
    }
    let table = env.ok(&["flows"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("tcp") && l.contains(&c6) && l.contains("masquerade")),
        "no masqueraded TCP flow of {c6}:\n{table}"
    );
}

#[test]
fn hop_limits_running_out_here_are_answered_time_exceeded() {
    let env = TestEnv::new("nat66hops");
    env.create_network("h66", &["--ipv6"]);
    env.create_container("hc", &["--network", "h66"]);
    let (_, _, gw6) = v6_of(&env, "hc", "h66");
    let _uplink6 = Uplink6::add(&env);
    let out = env.outside_ns.clone();
    wait_echo6("hc", OUTSIDE6, Duration::from_secs(10));

    // From a container: this hop is its gateway (as traceroute shows it).
    let expired = drop_count(&env, "ttl_exceeded");
    let ping = ping6_hops("hc", OUTSIDE6, 1);
    assert!(
        ping.contains(&format!("From {gw6}")) && ping.contains("Time exceeded"),
        "ping -t 1 got no time exceeded from {gw6}:\n{ping}"
    );
    assert!(drop_count(&env, "ttl_exceeded") > expired);
    // A hop limit of 2 passes this hop and arrives with 1.
    let _server = record(Some(&out), &[python(), "-c", SERVER, "9000"], true);
    let answer = ask("hc", "udp", OUTSIDE6, 9000, "two", Some(2));
    assert_eq!(parse_answer(&answer).2, 1, "{answer}");

    // From outside: a reply sent with hop limit 1 to the masquerade
    // address is answered from that address; the container gets nothing.
    let answerer = record(
        Some(&out),
        &[python(), "-c", ANSWERER, "hops1", "9100"],
        true,
    );
    let client = ask("hc", "udp", OUTSIDE6, 9100, "probe", None);
    assert!(
        client.starts_with("error"),
        "the reply reached the container: {client}"
    );
    let report = answerer
        .next_line(Duration::from_secs(5))
        .and_then(|_from| answerer.next_line(Duration::from_secs(5)))
        .unwrap_or_default();
    assert_eq!(
        report,
        format!("icmp6 from {UPLINK6} type 3 code 0"),
        "the outside peer got no time exceeded"
    );
}

#[test]
fn icmpv6_errors_from_containers_reach_the_outside_translated() {
    let env = TestEnv::new("nat66err");
    env.create_network("e66", &["--ipv6"]);
    env.create_container("ec", &["--network", "e66"]);
    let _uplink6 = Uplink6::add(&env);
    let out = env.outside_ns.clone();
    wait_echo6("ec", OUTSIDE6, Duration::from_secs(10));
    let answerer = record(
        Some(&out),
        &[python(), "-c", ANSWERER, "late", "9200"],
        true,
    );
    let untranslatable = drop_count(&env, "untranslatable");
    netns_exec_ok("ec", &[python(), "-c", SEND_AND_CLOSE, OUTSIDE6, "9200"]);
    let from = answerer
        .next_line(Duration::from_secs(5))
        .unwrap_or_default();
    assert!(
        from.starts_with(&format!("from {UPLINK6} ")),
        "the datagram did not arrive masqueraded: {from:?}"
    );
    // The late answer finds the socket closed: the container's "port
    // unreachable" comes out from the uplink's address and the peer's
    // kernel matches it to its socket by the quoted (translated) tuple.
    let report = answerer
        .next_line(Duration::from_secs(5))
        .unwrap_or_default();
    assert_eq!(
        report,
        format!("icmp6 from {UPLINK6} type 1 code 4"),
        "the container's port unreachable did not reach the peer translated"
    );
    assert_eq!(
        drop_count(&env, "untranslatable"),
        untranslatable,
        "an ICMPv6 error was dropped"
    );
}
