//! IPv4 clients into IPv6-only containers (Docker's "proxy 4 to 6", done
//! by the datapath's translation): a plain `-p` on an IPv6-only network
//! publishes on IPv4 too; an outside IPv4 client reaches the container
//! over TCP (a line exchange and a bulk transfer both ways of full-size
//! segments at MTU 1500) and UDP, and the container sees the client's
//! address embedded in `64:ff9b:1::/96`; unpublished ports and one on
//! `127.0.0.1` (relayed for this host only, relay46.rs) stay shut; a
//! held connection survives a daemon restart; unpublish and `rm` leave no
//! mapping, flow or port mark behind.

use std::net::Ipv6Addr;
use std::time::Duration;

use ebpfnet_common::nat46;
use ebpfnet_tests::ipv6_publish::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// The address the container sees an IPv4 client at.
fn seen_as(ipv4: &str) -> String {
    let ip: std::net::Ipv4Addr = ipv4.parse().expect("an IPv4 address");
    Ipv6Addr::from(nat46::client6(ip.octets())).to_string()
}

/// `NAT46_PORTS`' byte for `port`.
fn port_mark(env: &TestEnv, port: u16) -> u64 {
    let [lo, hi] = port.to_le_bytes();
    let out = run(
        std::process::Command::new("bpftool")
            .args(["-j", "map", "lookup", "pinned"])
            .arg(env.pin_dir.join(nat46::NAT46_PORTS_MAP))
            .args(["key", &lo.to_string(), &hi.to_string(), "0", "0"]),
        None,
        Duration::from_secs(10),
    );
    assert!(out.status.success(), "bpftool lookup: {out:?}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("bpftool JSON");
    v["formatted"]["value"]
        .as_u64()
        .or_else(|| {
            v["value"][0]
                .as_str()
                .and_then(|h| u64::from_str_radix(h.trim_start_matches("0x"), 16).ok())
        })
        .unwrap_or_else(|| panic!("no value in {v}"))
}

#[test]
fn ipv4_clients_reach_an_ipv6_only_container_through_translation() {
    let mut env = TestEnv::new("pub46");
    env.create_network(
        "o46",
        &["--ipv6", "--ipv4=false", "--subnet", "fd00:e9:46::/64"],
    );
    env.create_container(
        "w46",
        &["--network", "o46", "-p", "8080:80", "-p", "8080:80/udp"],
    );
    let mut lines = port_lines(&env, "w46");
    lines.sort();
    assert_eq!(
        lines,
        [
            "80/tcp -> 0.0.0.0:8080",
            "80/tcp -> [::]:8080",
            "80/udp -> 0.0.0.0:8080",
            "80/udp -> [::]:8080"
        ]
    );
    // `port` tells, on stderr beside Docker's lines, how IPv4 clients
    // are served (translated, or relayed for this host's own: relay46.rs);
    // not for a container with IPv4 of its own.
    let out = env.cli(&["port", "w46"]);
    let note = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success()
            && note.contains("w46 is IPv6-only")
            && note.contains("64:ff9b:1::/96")
            && note.contains("127.0.0.1:8080) through the daemon's relay"),
        "port w46: {out:?}"
    );
    env.create_container("d46", &["-p", "8099:80"]);
    let out = env.cli(&["port", "d46"]);
    assert!(
        out.status.success() && out.stderr.is_empty(),
        "port d46: {out:?}"
    );
    env.ok(&["container", "rm", "d46"]);
    // Host-local IPv4 is relayed by the daemon, never translated: no
    // other host reaches it (checked below).
    env.ok(&["publish", "127.0.0.1:9090:80", "--container", "w46"]);
    // A mapping on one host IPv4 address, and one on the bulk port.
    env.ok(&[
        "publish",
        &format!("{}:8082:80", env.uplink_ip),
        "--container",
        "w46",
    ]);
    env.ok(&["publish", "0.0.0.0:8083:83", "--container", "w46"]);
    let _echo = echo_server6("w46", "w46", 80);
    let _bulk = record(Some("w46"), &[python(), "-c", BULK_SERVER, "83"], true);
    let out = env.outside_ns.clone();
    let me = seen_as(&env.outside_ip);

    // TCP and UDP over IPv4: the container sees the client's address.
    let tcp = answered_by(ask(&out, "tcp", &env.uplink_ip, 8080), "w46", "TCP");
    assert_eq!(peer_address(&tcp), me, "{tcp}");
    let udp = answered_by(ask(&out, "udp", &env.uplink_ip, 8080), "w46", "UDP");
    assert_eq!(peer_address(&udp), me, "{udp}");
    answered_by(
        ask(&out, "tcp", &env.uplink_ip, 8082),
        "w46",
        "on its address",
    );
    // Not published: shut.
    let shut = ask(&out, "tcp", &env.uplink_ip, 8081);
    assert!(shut.is_err(), "port 8081 answered: {shut:?}");
    let shut = ask(&out, "tcp", &env.uplink_ip, 9090);
    assert!(
        shut.is_err(),
        "127.0.0.1:9090 answered another host: {shut:?}"
    );

    // 4 MiB each way at MTU 1500: full-size segments fit once translated.
    let bulk = netns_exec(
        &out,
        &[
            python(),
            "-c",
            BULK_CLIENT,
            &env.uplink_ip,
            "8083",
            "4194304",
        ],
    );
    let text = String::from_utf8_lossy(&bulk.stdout).trim().to_string();
    let mss: u32 = text
        .strip_prefix(&format!("ok {me} "))
        .and_then(|m| m.parse().ok())
        .unwrap_or_else(|| panic!("bulk transfer: {bulk:?}"));
    // The container's MSS (its IPv6 MTU less 60) bounds the client's
    // segments: 20 bytes under IPv4's 1460, so they fit once translated.
    assert!((1200..=1440).contains(&mss), "client MSS {mss}");

    // `flows` shows the translated flows, `stats` counts them on the
    // IPv4 mapping.
    let rows = flows_rows(&env, "published-4to6");
    assert!(
        rows.iter().any(|r| r.contains(&format!("[{me}]"))),
        "no translated flow in flows:\n{}",
        env.ok(&["flows"])
    );
    let stats = env.json(&["stats"]);
    let mapping = stats["Mappings"]
        .as_array()
        .and_then(|m| {
            m.iter()
                .find(|m| m["Mapping"] == "0.0.0.0:8080/tcp -> w46:80")
        })
        .unwrap_or_else(|| panic!("stats has no 0.0.0.0:8080/tcp mapping: {stats:#}"));
    assert!(mapping["Flows"].as_u64() >= Some(1), "{mapping:#}");
    assert_eq!(port_mark(&env, 8080), 3, "TCP and UDP marked on 8080");

    // A connection held across a restart of the daemon goes on.
    let uplink_ip = env.uplink_ip.clone();
    let held = held_across_restart(&mut env, &out, (&uplink_ip, 8080), "w46");
    answered_by(
        ask(&out, "tcp", &env.uplink_ip, 8080),
        "w46",
        "after restart",
    );
    drop(held);

    // Unpublishing the IPv4 side cuts it (and its flows); IPv6 stays
    // published, UDP too.
    env.ok(&["unpublish", "0.0.0.0:8080:80", "--container", "w46"]);
    let gone = ask(&out, "tcp", &env.uplink_ip, 8080);
    assert!(gone.is_err(), "8080 still answers over IPv4: {gone:?}");
    assert_eq!(port_mark(&env, 8080), 2, "only UDP left on 8080");
    answered_by(ask(&out, "udp", &env.uplink_ip, 8080), "w46", "UDP kept");
    let left: Vec<String> = flows_rows(&env, "published-4to6")
        .into_iter()
        .filter(|r| r.starts_with("tcp") && r.contains(":8080"))
        .collect();
    assert!(
        left.is_empty(),
        "flows of the unpublished mapping: {left:?}"
    );

    // `rm` takes the rest: no mapping, flow or port mark left.
    env.ok(&["container", "rm", "w46"]);
    assert_eq!(map_entries(&env, "PUBLISHED6"), 0);
    assert_eq!(map_entries(&env, "NAT6_TCP"), 0);
    assert_eq!(map_entries(&env, "NAT6_OTHER"), 0);
    for port in [8080, 8082, 8083] {
        assert_eq!(port_mark(&env, port), 0, "port {port} still marked");
    }
}
