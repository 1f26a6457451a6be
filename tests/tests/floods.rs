//! Floods do not break established flows: a container opening 150,000
//! flows and an outside host spraying 120,000 spoofed SYNs at a published
//! port leave an established published flow and an established
//! masqueraded flow working (the NAT tables never evict), and one
//! container cannot take every masquerade port towards one destination.
//! Floods stay on the test's links and addresses, bounded in count.

use std::time::Duration;

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// Whether a long-lived client still gets its echoes: after the flood, a
/// reply within 5 s, and neither a reset nor an error.
fn still_answers(client: &Recorder, what: &str) {
    let seen = client.drain();
    assert!(
        !seen
            .iter()
            .any(|l| l.starts_with("closed") || l.starts_with("error")),
        "{what} broke during the flood: {seen:?}"
    );
    let mut last = Vec::new();
    let answered = wait_for(Duration::from_secs(5), || {
        last.extend(client.drain());
        last.iter().any(|l| l.starts_with("reply"))
    });
    assert!(
        answered,
        "{what} no longer answers after the flood: {last:?}"
    );
}

#[test]
fn established_flows_survive_floods_from_a_container_and_from_outside() {
    let env = TestEnv::new("flood");
    env.create_container("fl1", &[]);
    env.create_container("fl2", &["-p", "8093:7000"]);
    env.create_container("flood", &[]);
    let out = env.outside_ns.clone();
    let _far = echo_server(&out, "far", 9000);
    let _server = echo_server("fl2", "fl2", 7000);
    // Established before the floods: fl1 -> outside (masqueraded), and
    // outside -> fl2's published port.
    let (masqueraded, _) = hold_client("fl1", &env.outside_ip, 9000);
    let (published, _) = hold_client(&out, &env.uplink_ip, 8093);

    let gateway_mac = mac_for_ip(
        env.inspect_network("bridge")["IPAM"]["Config"][0]["Gateway"]
            .as_str()
            .unwrap_or_default(),
    );
    let flooder_ip = env.ip_of("flood", "bridge");
    let flooder_mac = netns_mac("flood", "eth0");
    let from_container = Flood {
        ns: "flood",
        dev: "eth0",
        src_mac: &flooder_mac,
        dst_mac: &gateway_mac,
        src_ip: &flooder_ip,
        dst_ip: &env.outside_ip,
        port: 20000,
    };
    let before = map_entries(&env, "NAT_TCP");
    let sent = from_container.send("flows", 150_000);
    assert_eq!(sent, 150_000, "the container flood did not leave");
    // Each new flow holds two entries: far beyond the old 65,536-entry LRU
    // tables, which evicted the established flows here.
    let after = map_entries(&env, "NAT_TCP");
    assert!(
        after >= before + 200_000,
        "the flood made {} entries",
        after - before
    );
    still_answers(&masqueraded, "the masqueraded flow");
    still_answers(&published, "the published flow");

    let uplink_mac = host_mac(&env.uplink);
    let outside_mac = netns_mac(&out, "eth0");
    let spoofer = Flood {
        ns: &out,
        dev: "eth0",
        src_mac: &outside_mac,
        dst_mac: &uplink_mac,
        src_ip: &env.outside_ip,
        dst_ip: &env.uplink_ip,
        port: 8093,
    };
    assert_eq!(spoofer.send("spoof", 120_000), 120_000);
    still_answers(&masqueraded, "the masqueraded flow");
    still_answers(&published, "the published flow");
}

#[test]
fn one_container_cannot_take_every_masquerade_port_to_a_destination() {
    // 100 masquerade ports, at most 30 per container and destination.
    let env = TestEnv::with_daemon_args(
        "masqshare",
        &[
            "--masquerade-port-range",
            "61000-61099",
            "--masquerade-ports-per-destination",
            "30",
        ],
    );
    env.create_container("greedy", &[]);
    env.create_container("modest", &[]);
    let _dns = echo_server(&env.outside_ns, "dns", 5300);
    let before = drop_count(&env, "masquerade_quota");
    let greedy = many_clients("greedy", &env.outside_ip, 5300, "udp", 60);
    let answered = greedy.iter().filter(|r| r.is_ok()).count();
    // The share is taken by a compare-and-swap from below it, so CPUs
    // racing for the last port cannot both take it.
    if answered != 30 {
        // What the datapath holds, to tell a miscount from a flow that
        // did not go through masquerade.
        let flows = env.cli(&["flows"]).stdout_str();
        let stats = env.cli(&["stats"]).stdout_str();
        panic!(
            "greedy got {answered} flows to one destination (share 30): {greedy:?}\n\
             --- flows ---\n{flows}\n--- stats ---\n{stats}\n--- daemon log ---\n{}",
            env.daemon_log()
        );
    }
    assert!(drop_count(&env, "masquerade_quota") >= before + 30);
    // The others still get theirs.
    let modest = many_clients("modest", &env.outside_ip, 5300, "udp", 20);
    assert!(
        modest.iter().all(|r| r.is_ok()),
        "modest was starved: {modest:?}"
    );
    // Another destination port is another share.
    let _other = echo_server(&env.outside_ns, "other", 5301);
    assert!(request("greedy", &env.outside_ip, 5301, "udp").is_ok());
}
