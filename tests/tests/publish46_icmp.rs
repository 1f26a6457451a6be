//! ICMP errors of IPv4 clients' flows into IPv6-only containers, end to
//! end: a router beyond the uplink whose next link carries 1280 bytes
//! answers the container's translated segments with "fragmentation
//! needed" to the published address; only when the datapath hands it to
//! the container as "packet too big" (with 20 bytes more) does a download
//! from the container finish (IPv4 routers do not fragment DF packets,
//! and the far client's MSS does not see the small hop). And a UDP client
//! of a published port nothing listens on inside the container gets
//! "connection refused": the container's ICMPv6 "port unreachable",
//! translated to ICMPv4.

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
