//! Self-test of the traffic helpers on a hand-made veth pair (no daemon):
//! they must report success when traffic flows and failure when it cannot.

use ebpfnet_tests::*;

struct Pair {
    a: String,
    b: String,
}

impl Drop for Pair {
    fn drop(&mut self) {
        delete_netns(&self.a);
        delete_netns(&self.b);
    }
}

#[test]
fn helpers_detect_success_and_failure() {
    let _serial = serial();
    require_root();
    let pid = std::process::id();
    let pair = Pair {
        a: format!("ebnh-a-{pid}"),
        b: format!("ebnh-b-{pid}"),
    };
    let (a, b) = (pair.a.as_str(), pair.b.as_str());
    delete_netns(a);
    delete_netns(b);
    ip_ok(&["netns", "add", a]);
    ip_ok(&["netns", "add", b]);
    netns_exec_ok(
        a,
        &[
            "ip", "link", "add", "eth0", "type", "veth", "peer", "name", "eth0", "netns", b,
        ],
    );
    for (ns, addr) in [(a, "192.0.2.1/24"), (b, "192.0.2.2/24")] {
        netns_exec_ok(ns, &["ip", "addr", "add", addr, "dev", "eth0"]);
        netns_exec_ok(ns, &["ip", "link", "set", "eth0", "up"]);
        netns_exec_ok(ns, &["ip", "link", "set", "lo", "up"]);
    }
    assert!(netns_exists(a) && netns_list().contains(b));
    assert_eq!(ipv4_addrs(Some(a), "eth0"), ["192.0.2.1/24"]);
    assert!(netns_link_exists(a, "eth0") && !netns_link_exists(a, "eth9"));
    assert_eq!(netns_default_route(a), None);

    assert!(ping(a, "192.0.2.2"), "ping over a plain veth failed");
    assert!(!ping(a, "192.0.2.3"), "ping to an absent address succeeded");

    assert_eq!(tcp_request(a, "192.0.2.2", 8080), "", "no server yet");
    let srv = tcp_server(b, "192.0.2.2", 8080);
    assert_eq!(
        tcp_request(a, "192.0.2.2", 8080).trim(),
        format!("hello from {b} peer=192.0.2.1 data=ping")
    );
    drop(srv);
    assert_eq!(
        tcp_request(a, "192.0.2.2", 8080),
        "",
        "server killed on drop"
    );

    assert_eq!(
        udp_request(a, "192.0.2.2", 9999, "x"),
        "",
        "no UDP server yet"
    );
    let _udp = udp_echo_server(b, 9999);
    assert_eq!(udp_request(a, "192.0.2.2", 9999, "hello-udp"), "hello-udp");

    // Blocked by the peer going down: the helpers fail within their timeouts.
    netns_exec_ok(b, &["ip", "link", "set", "eth0", "down"]);
    let t = std::time::Instant::now();
    assert!(!ping(a, "192.0.2.2"));
    assert_eq!(udp_request(a, "192.0.2.2", 9999, "y"), "");
    assert_eq!(tcp_request(a, "192.0.2.2", 8080), "");
    assert!(
        t.elapsed().as_secs() < 15,
        "helpers too slow: {:?}",
        t.elapsed()
    );

    assert_eq!(mac_for_ip("10.214.0.2"), "02:42:0a:d6:00:02");
    assert!(cidrs_overlap("10.231.0.0/24", "10.231.0.0/16"));
    assert!(!cidrs_overlap("10.231.0.0/24", "10.232.0.0/24"));
    assert!(ip_in_cidr("10.214.3.4", "10.214.0.0/16"));
}
