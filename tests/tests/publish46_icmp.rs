//! ICMP errors of IPv4 clients' flows into IPv6-only containers, end to
//! end: a router beyond the uplink whose next link carries 1280 bytes
//! answers the container's translated segments with "fragmentation
//! needed" to the published address; only when the datapath hands it to
//! the container as "packet too big" (with 20 bytes more) does a download
//! from the container finish (IPv4 routers do not fragment DF packets,
//! and the far client's MSS does not see the small hop). And a UDP client
//! of a published port nothing listens on inside the container gets
//! "connection refused": the container's ICMPv6 "port unreachable",
//! translated to ICMPv4. Below 1280 bytes the container's IPv6 cannot
//! go: a 576-byte IPv4 hop is crossed only because translated packets of
//! up to 1260 bytes leave without DF (RFC 7915 §5.1) and the router
//! fragments them.

use ebpfnet_common::nat46;
use ebpfnet_tests::paths::*;
use ebpfnet_tests::*;

const MB: usize = 1 << 20;

fn ipv6_only(env: &TestEnv, name: &str, subnet: &str) {
    env.create_network(name, &["--ipv6", "--ipv4=false", "--subnet", subnet]);
}

#[test]
fn a_download_learns_the_path_mtu_through_a_smaller_ipv4_hop() {
    let env = TestEnv::new("p46mtu");
    let path = FarPath::new(&env, 1500, 1280);
    ipv6_only(&env, "o46m", "fd00:e9:47::/64");
    env.create_container("m46", &["--network", "o46m", "-p", "8080:9000"]);
    let _source = source6("m46", 9000, MB);
    let got =
        download(&path.far_ns, &env.uplink_ip, 8080).unwrap_or_else(|e| panic!("download: {e}"));
    assert_eq!(got, format!("got {MB}"), "download through a 1280-byte hop");
    // The container learnt the hop's MTU plus the 20 bytes IPv6 adds.
    let far6 = std::net::Ipv6Addr::from(nat46::client6(
        FAR_IP
            .parse::<std::net::Ipv4Addr>()
            .expect("FAR_IP")
            .octets(),
    ))
    .to_string();
    let route = netns_exec("m46", &["ip", "-6", "route", "get", &far6]);
    let text = route.stdout_str();
    assert!(
        text.contains("mtu 1300"),
        "path MTU the container holds for {far6}: {text}"
    );
}

#[test]
fn a_download_crosses_an_ipv4_hop_below_1280_in_fragments() {
    let env = TestEnv::new("p46frg");
    let path = FarPath::new(&env, 1500, 576);
    ipv6_only(&env, "o46f", "fd00:e9:49::/64");
    env.create_container("f46", &["--network", "o46f", "-p", "8081:9001"]);
    let size = 256 << 10;
    let _source = source6("f46", 9001, size);
    let got =
        download(&path.far_ns, &env.uplink_ip, 8081).unwrap_or_else(|e| panic!("download: {e}"));
    assert_eq!(
        got,
        format!("got {size}"),
        "download through a 576-byte hop"
    );
    // The router before the small hop fragmented what it carried: the
    // translated segments (1260 bytes once the container's path MTU is
    // 1280) had no DF.
    let fragmented = ip_counter(&env.outside_ns, "FragCreates");
    assert!(
        fragmented > 2 * (size as u64) / 1260,
        "fragments the router made: {fragmented}"
    );
}

/// An `Ip:` counter of `/proc/net/snmp` in `ns`.
fn ip_counter(ns: &str, name: &str) -> u64 {
    let out = netns_exec(ns, &["cat", "/proc/net/snmp"]);
    let text = out.stdout_str();
    let mut rows = text.lines().filter(|line| line.starts_with("Ip: "));
    let (Some(names), Some(values)) = (rows.next(), rows.next()) else {
        panic!("no Ip: rows in /proc/net/snmp of {ns}: {text}");
    };
    let at = names.split_whitespace().position(|n| n == name);
    at.and_then(|at| values.split_whitespace().nth(at))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("{name} in /proc/net/snmp of {ns}: {text}"))
}

#[test]
fn a_udp_client_of_a_closed_port_is_refused() {
    let env = TestEnv::new("p46unr");
    ipv6_only(&env, "o46u", "fd00:e9:48::/64");
    env.create_container("u46", &["--network", "o46u", "-p", "8090:90/udp"]);
    let out = udp_connected_outcome(&env.outside_ns, &env.uplink_ip, 8090);
    assert_eq!(
        out.stdout_str().trim(),
        "refused",
        "a UDP client of a port nothing serves: {out:?}"
    );
}
