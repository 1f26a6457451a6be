//! Path MTU end to end: a router on the path whose next link is smaller
//! than both ends' (ICMP "fragmentation needed" from it must reach the
//! container, through masquerade and through a published port), and an
//! uplink smaller than the container's link (the host itself must answer
//! "fragmentation needed"). Without either, the transfers below stall.

use std::time::Duration;

use ebpfnet_tests::paths::*;
use ebpfnet_tests::traffic::{bpftool_dump, wait_for};
use ebpfnet_tests::*;

const MB: usize = 1 << 20;

#[test]
fn pmtu_through_a_smaller_hop_beyond_the_uplink() {
    let env = TestEnv::new("pmtu1");
    let path = FarPath::new(&env, 1500, 1280);
    env.create_container("pm1", &["-p", "8080:9000"]);
    let _sink = sink(&path.far_ns, 9000);
    let _source = source("pm1", 9000, MB);

    // Upload through masquerade: the router's error about HOST:port must
    // become an error about the container's own socket.
    let got = upload("pm1", FAR_IP, 9000, MB).unwrap_or_else(|e| panic!("upload: {e}"));
    assert_eq!(got, format!("got {MB}"), "upload through masquerade");
    // Download from a published port: the error about HOST:8080 must
    // reach the container as one about its port 9000.
    let got =
        download(&path.far_ns, &env.uplink_ip, 8080).unwrap_or_else(|e| panic!("download: {e}"));
    assert_eq!(got, format!("got {MB}"), "download from a published port");
    // A UDP socket with DF learns the hop's MTU through masquerade too.
    let learnt = df_probe("pm1", FAR_IP, 9, 1400).unwrap_or_else(|e| panic!("probe: {e}"));
    assert_eq!(learnt, "mtu 1280", "path MTU a DF UDP socket learnt");
}

#[test]
fn pmtu_on_a_smaller_uplink() {
    let env = TestEnv::new("pmtu2");
    let path = FarPath::new(&env, 1280, 1500);
    env.create_container("pm2", &["-p", "8080:9000"]);
    let _sink = sink(&path.far_ns, 9000);
    let _source = source("pm2", 9000, MB);

    // A DF probe: the host answers "fragmentation needed" as a router does.
    let out = netns_exec(
        "pm2",
        &[
            "ping", "-n", "-M", "do", "-s", "1400", "-c", "3", "-i", "0.3", "-W", "1", FAR_IP,
        ],
    );
    let text = format!("{}{}", out.stdout_str(), out.stderr_str());
    assert!(
        text.contains("mtu = 1280") || text.contains("mtu=1280"),
        "ping -M do -s 1400 did not report the uplink's MTU:\n{text}"
    );
    let learnt = df_probe("pm2", FAR_IP, 9, 1400).unwrap_or_else(|e| panic!("probe: {e}"));
    assert_eq!(learnt, "mtu 1280", "path MTU a DF UDP socket learnt");
    // A bulk upload through masquerade completes (GSO packets too: they
    // are judged by their segments).
    let got = upload("pm2", FAR_IP, 9000, MB).unwrap_or_else(|e| panic!("upload: {e}"));
    assert_eq!(got, format!("got {MB}"), "upload over a 1280-byte uplink");
    // And a download from a published port: the container's answers are
    // the too-big ones there.
    let got =
        download(&path.far_ns, &env.uplink_ip, 8080).unwrap_or_else(|e| panic!("download: {e}"));
    assert_eq!(got, format!("got {MB}"), "download over a 1280-byte uplink");
    assert_eq!(
        traffic::drop_count(&env, "too_big"),
        0,
        "DF traffic counted as too big"
    );
    // 3000 bytes without DF to a host the container never sent to: its
    // 1500-byte fragments do not fit and the datapath cannot fragment, so
    // the first try is lost, but the container learns the MTU and its
    // retry leaves in fragments that fit.
    let _echo = udp_echo_server(&env.outside_ns, 9001);
    let got = udp_round_trip("pm2", &env.outside_ip, 9001, 3000, false);
    assert_eq!(
        got,
        Ok("echoed 3000".to_string()),
        "3000-byte datagram without DF"
    );
    assert!(
        traffic::drop_count(&env, "too_big") > 0,
        "the lost try was not counted"
    );
}

#[test]
fn published_port_on_a_container_with_a_smaller_mtu() {
    let env = TestEnv::new("pmtu3");
    env.create_container("pm3", &["-p", "5353:53/udp"]);
    // The container's link carries 1280 bytes, the uplink 1500.
    netns_exec_ok("pm3", &["ip", "link", "set", "eth0", "mtu", "1280"]);
    let veth = env.host_veth_of("pm3", "bridge");
    ip_ok(&["link", "set", &veth, "mtu", "1280"]);
    let _echo = udp_echo_server("pm3", 53);
    // A 1400-byte DF datagram is delivered (a receiver does not enforce
    // its MTU, and bpf_redirect_peer skips the veth's check); the answer
    // leaves the container in fragments, which follow their first.
    let got = udp_round_trip(&env.outside_ns, &env.uplink_ip, 5353, 1372, true);
    assert_eq!(
        got,
        Ok("echoed 1372".to_string()),
        "1400-byte DF datagram into a 1280 container"
    );
}

/// Established flows whose next hop is cached skip the MTU check while
/// their container's veth MTU is no larger than the uplink's
/// (`NH_MTU_FITS`, datapath `mtu.rs`). When the veth grows past the
/// uplink, the daemon moves the next-hop generation on and the flow's
/// next too-big packet is answered again: with the old judgement it would
/// leave by the uplink and be dropped by the peer without a word.
#[test]
fn pmtu_follows_an_mtu_change_on_an_established_flow() {
    let env = TestEnv::new("pmtu4");
    env.create_container("pm4", &[]);
    let _echo = udp_echo_server(&env.outside_ns, 9002);
    const SOURCE_PORT: u16 = 40123;
    // The flow's outbound entry caches the next hop under the current
    // generation, judged to fit (1500 on both links). (Retried: the
    // daemon may still be moving the generation on for the new veth.)
    let fits = wait_for(Duration::from_secs(5), || {
        let to = (env.outside_ip.as_str(), 9002);
        let got = udp_from_port("pm4", FromPort::RoundTrip, to, 100, SOURCE_PORT);
        assert_eq!(got, Ok("echoed 100".to_string()), "a small datagram");
        let generation = current_generation(&env);
        masquerade_entries(&env)
            .iter()
            .any(|&(nh_gen, flags)| nh_gen == generation && flags & NH_MTU_FITS != 0)
    });
    assert!(
        fits,
        "no masquerade entry judged to fit under generation {}: {:?}",
        current_generation(&env),
        masquerade_entries(&env)
    );

    // The container's link grows to 2000; the uplink stays at 1500.
    let veth = env.host_veth_of("pm4", "bridge");
    ip_ok(&["link", "set", &veth, "mtu", "2000"]);
    netns_exec_ok("pm4", &["ip", "link", "set", "eth0", "mtu", "2000"]);
    let to = (env.outside_ip.as_str(), 9002);
    let learnt = udp_from_port("pm4", FromPort::DfProbe, to, 1800, SOURCE_PORT)
        .unwrap_or_else(|e| panic!("probe: {e}"));
    assert_eq!(learnt, "mtu 1500", "path MTU the established flow learnt");
}

/// `NatEntry::tcp_flags` bit: the flow's packets fit the egress MTU.
const NH_MTU_FITS: u64 = 128;

/// (nh_gen, tcp_flags) of every masquerade request entry (`kind` 3) in
/// `NAT_OTHER`, from the pinned map.
fn masquerade_entries(env: &TestEnv) -> Vec<(u64, u64)> {
    let dump = bpftool_dump(&env.pin_dir.join("NAT_OTHER"));
    dump.as_array()
        .into_iter()
        .flatten()
        .map(|e| &e["formatted"]["value"])
        .filter(|value| value["kind"].as_u64() == Some(3))
        .map(|value| {
            (
                value["nh_gen"].as_u64().unwrap_or(0),
                value["tcp_flags"].as_u64().unwrap_or(0),
            )
        })
        .collect()
}

/// The pinned `NEXTHOP_GEN` value.
fn current_generation(env: &TestEnv) -> u64 {
    let dump = bpftool_dump(&env.pin_dir.join("NEXTHOP_GEN"));
    dump.as_array()
        .and_then(|entries| entries.first())
        .and_then(|e| e["formatted"]["value"].as_u64())
        .unwrap_or_else(|| panic!("NEXTHOP_GEN holds no value: {dump:#}"))
}
