//! Publishing on IPv6 end to end: an outside client over IPv6 reaches a
//! published port with its own address kept (TCP and UDP), a plain `-p`
//! publishes on both families, a mapping on one host address answers only
//! there, `port`/`flows`/`stats`/bpftool show it, a hop limit of 1 is
//! answered "time exceeded"; unpublishing and `rm`
//! leave nothing behind; an IPv6-only network publishes, and its flows
//! survive a daemon restart; a container of another network reaches the
//! container only through the published port (its address kept), and a
//! container its own published port.

use std::time::Duration;

use ebpfnet_tests::ipv6_publish::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const UP6: &str = "fd00:e8:ff::1";
const UP6_B: &str = "fd00:e8:ff::3";
const OUTSIDE6: &str = "fd00:e8:ff::2";

/// The daemon follows new uplink addresses through netlink: waits until
/// `[ip]:port` answers from the outside.
#[track_caller]
fn wait_reachable(env: &TestEnv, ip: &str, port: u16) {
    let reached = wait_for(Duration::from_secs(10), || {
        ask(&env.outside_ns, "tcp", ip, port).is_ok()
    });
    assert!(reached, "[{ip}]:{port} never answered the outside");
}

#[test]
fn outside_ipv6_clients_reach_published_ports_with_their_address_kept() {
    let env = TestEnv::new("pub6");
    env.create_network("p6", &["--ipv6"]);
    let _uplink6 = Uplink6::with(&env, &[UP6, UP6_B], OUTSIDE6);
    env.create_container(
        "w6",
        &[
            "--network",
            "p6",
            "-p",
            "8080:80",
            "-p",
            "8080:80/udp",
            "-p",
            &format!("[{UP6_B}]:8081:80"),
        ],
    );
    let _server = echo_server6("w6", "w6", 80);
    let out = env.outside_ns.clone();

    // `port` shows both families of the plain mappings, Docker's way.
    let mut lines = port_lines(&env, "w6");
    lines.sort();
    let mut want = [
        format!("80/tcp -> [{UP6_B}]:8081"),
        "80/tcp -> 0.0.0.0:8080".to_string(),
        "80/tcp -> [::]:8080".to_string(),
        "80/udp -> 0.0.0.0:8080".to_string(),
        "80/udp -> [::]:8080".to_string(),
    ];
    want.sort();
    assert_eq!(lines, want);
    // inspect shows the IPv6 bindings as Docker does.
    let inspect = env.inspect_container("w6");
    let bindings: Vec<String> = inspect["NetworkSettings"]["Ports"]["80/tcp"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|b| format!("{} {}", b["HostIp"].as_str().unwrap_or("?"), b["HostPort"]))
        .collect();
    assert!(
        bindings.contains(&":: \"8080\"".to_string()),
        "{bindings:?}"
    );

    // Over IPv6 from outside, TCP and UDP, the client's address kept.
    wait_reachable(&env, UP6, 8080);
    let tcp = answered_by(ask(&out, "tcp", UP6, 8080), "w6", "TCP [UP6]:8080");
    assert_eq!(peer_address(&tcp), OUTSIDE6, "{tcp}");
    let udp = answered_by(ask(&out, "udp", UP6, 8080), "w6", "UDP [UP6]:8080");
    assert_eq!(peer_address(&udp), OUTSIDE6, "{udp}");
    // The same port on the other host address, and on IPv4.
    answered_by(ask(&out, "tcp", UP6_B, 8080), "w6", "TCP [UP6_B]:8080");
    let v4 = answered_by(
        ask(&out, "tcp", &env.uplink_ip, 8080),
        "w6",
        "TCP over IPv4",
    );
    assert_eq!(
        peer_address(&v4),
        format!("::ffff:{}", env.outside_ip),
        "{v4}"
    );

    // A mapping on one address answers only on that address.
    answered_by(ask(&out, "tcp", UP6_B, 8081), "w6", "TCP [UP6_B]:8081");
    let other = ask(&out, "tcp", UP6, 8081);
    assert!(other.is_err(), "[UP6]:8081 answered: {other:?}");

    // `flows` shows the published flow as IPv6, `stats` counts it, and
    // bpftool reads PUBLISHED6 with field names.
    let rows = flows_rows(&env, &format!("[{OUTSIDE6}]:"));
    assert!(
        rows.iter()
            .any(|r| r.contains("published") && r.contains(&format!("[{UP6}]:8080"))),
        "no published IPv6 flow in flows:\n{}",
        rows.join("\n")
    );
    let stats = env.json(&["stats"]);
    let mapping = stats["Mappings"]
        .as_array()
        .and_then(|m| m.iter().find(|m| m["Mapping"] == "[::]:8080/tcp -> w6:80"))
        .unwrap_or_else(|| panic!("stats has no [::]:8080/tcp mapping: {stats:#}"));
    assert!(mapping["Flows"].as_u64() >= Some(2), "{mapping:#}");
    assert_eq!(mapping["HostIp"], "::", "{mapping:#}");
    let dump = bpftool_dump(&env.pin_dir.join("PUBLISHED6"));
    let entries = dump.as_array().map_or(0, Vec::len);
    assert_eq!(entries, 3, "PUBLISHED6: {dump:#}");
    assert!(
        dump.as_array().into_iter().flatten().any(|e| {
            e["formatted"]["key"]["host_port"] == 8081
                && e["formatted"]["value"]["container_port"] == 80
        }),
        "{dump:#}"
    );

    // A hop limit of 1 to a published port ends at this hop, as at a
    // router: "time exceeded" from the published address to an outside
    // client, from the gateway to a container; no flow starts.
    let udp_flows = flows_rows(&env, "udp").len();
    assert_eq!(
        hop1_probe(&out, UP6, 8080),
        format!("icmp6 from {UP6} type 3 code 0")
    );
    let gateway6 = ebpfnet_tests::ipv6::v6_of(&env, "w6", "p6").2;
    assert_eq!(
        hop1_probe("w6", UP6, 8080),
        format!("icmp6 from {gateway6} type 3 code 0")
    );
    assert_eq!(
        flows_rows(&env, "udp").len(),
        udp_flows,
        "a flow at hop limit 1"
    );

    // Unpublishing IPv6 cuts it and its flows; IPv4 stays.
    env.ok(&["unpublish", "[::]::80", "--container", "w6"]);
    let gone = ask(&out, "tcp", UP6, 8080);
    assert!(gone.is_err(), "[UP6]:8080 still answers: {gone:?}");
    answered_by(ask(&out, "tcp", &env.uplink_ip, 8080), "w6", "IPv4 kept");
    let left: Vec<String> = flows_rows(&env, &format!("[{UP6}]:8080"))
        .into_iter()
        .filter(|r| r.starts_with("tcp"))
        .collect();
    assert!(
        left.is_empty(),
        "flows of the unpublished mapping are left: {left:?}"
    );
    // The UDP mapping and its flow stay.
    assert!(
        flows_rows(&env, &format!("[{UP6}]:8080"))
            .iter()
            .any(|r| r.starts_with("udp")),
        "the UDP flow went with the TCP mapping"
    );
    // `rm` takes the rest.
    env.ok(&["container", "rm", "w6"]);
    assert_eq!(map_entries(&env, "PUBLISHED6"), 0);
    assert_eq!(map_entries(&env, "NAT6_TCP"), 0);
    assert_eq!(map_entries(&env, "NAT6_OTHER"), 0);
    assert!(
        flows_rows(&env, &format!("[{OUTSIDE6}]:")).is_empty(),
        "flows left after rm"
    );
}

#[test]
fn host_processes_reach_ipv6_mappings_at_the_container_address() {
    let env = TestEnv::new("hpub6");
    env.create_network("h6", &["--ipv6"]);
    env.create_container(
        "hw",
        &[
            "--network",
            "h6",
            "-p",
            "8090:80",
            "-p",
            "8090:80/udp",
            "-p",
            "[::1]:8091:80",
        ],
    );
    env.create_container("h4", &["-p", "8092:80"]);
    let _hw = echo_server6("hw", "hw", 80);
    let _h4 = echo_server("h4", "h4", 80);
    let _uplink6 = Uplink6::with(&env, &[UP6], OUTSIDE6);
    let gateway = env.endpoint("hw", "h6")["IPv6Gateway"]
        .as_str()
        .unwrap_or_default()
        .to_string();

    // `[::1]` goes natively over IPv6 (the container sees the host's
    // address on its network, not a v4-mapped one), no proxy, no NAT.
    let reply = host_tcp("::1", 8090, "a").unwrap_or_else(|e| panic!("[::1]:8090: {e}"));
    assert!(reply.starts_with("hw peer="), "{reply}");
    assert_eq!(peer_address(&reply), gateway, "{reply}");
    let reply = host_tcp("::1", 8091, "b").unwrap_or_else(|e| panic!("[::1]:8091: {e}"));
    assert!(reply.starts_with("hw peer="), "{reply}");
    // A host IPv6 address, once the daemon has followed it.
    assert!(
        wait_for(Duration::from_secs(10), || host_tcp(UP6, 8090, "c").is_ok()),
        "[UP6]:8090 never answered the host"
    );
    // The mapping on ::1 only answers there.
    let err = host_tcp(UP6, 8091, "d").expect_err("only on ::1");
    assert!(err.contains("os error 111"), "{err}");
    // Unconnected and connected UDP: the reply shows the address asked for.
    for (what, result) in [
        ("unconnected", host_udp("::1", 8090, "u1")),
        ("connected", host_udp_connected("::1", 8090, "u2")),
    ] {
        let (reply, from) = result.unwrap_or_else(|e| panic!("UDP {what} [::1]:8090: {e}"));
        assert!(reply.starts_with("hw peer="), "{what}: {reply}");
        assert_eq!(
            from.to_string(),
            "[::1]:8090",
            "{what}: reply came from {from}"
        );
    }
    // An IPv4-only container keeps its v4-mapped way in.
    let reply = host_tcp("::1", 8092, "e").unwrap_or_else(|e| panic!("[::1]:8092: {e}"));
    assert!(reply.starts_with("h4 peer="), "{reply}");
}

#[test]
fn an_ipv6_only_network_publishes_and_its_flows_survive_a_restart() {
    let mut env = TestEnv::new("only6pub");
    env.create_network(
        "o6",
        &["--ipv6", "--ipv4=false", "--subnet", "fd00:e9:1::/64"],
    );
    env.create_container("ow", &["--network", "o6", "-p", "8080:80"]);
    // IPv4 too, translated (publish46.rs tries it; this host's own IPv4
    // clients, 127.0.0.1 included, are relayed: relay46.rs).
    let both = ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"];
    assert_eq!(port_lines(&env, "ow"), both);
    // A bad SPEC is a usage error, as clap reports them (exit 2).
    env.fails_with_status(
        2,
        &["publish", "[fe80::1]:9090:80", "--container", "ow"],
        &["link-local"],
    );
    let _server = echo_server6("ow", "ow", 80);
    let _uplink6 = Uplink6::with(&env, &[UP6], OUTSIDE6);
    wait_reachable(&env, UP6, 8080);
    let reply = answered_by(ask(&env.outside_ns, "tcp", UP6, 8080), "ow", "TCP");
    assert_eq!(peer_address(&reply), OUTSIDE6, "{reply}");
    let reply = host_tcp("::1", 8080, "x").unwrap_or_else(|e| panic!("[::1]:8080: {e}"));
    assert!(reply.starts_with("ow peer="), "{reply}");

    // A connection held across a restart of the daemon goes on.
    let outside = env.outside_ns.clone();
    let _held = held_across_restart(&mut env, &outside, (UP6, 8080), "ow");
    assert_eq!(port_lines(&env, "ow"), both);
    answered_by(
        ask(&env.outside_ns, "tcp", UP6, 8080),
        "ow",
        "after restart",
    );
}

#[test]
fn other_networks_reach_a_container_only_through_its_published_port() {
    let env = TestEnv::new("iso6pub");
    env.create_network("a6", &["--ipv6"]);
    env.create_network("b6", &["--ipv6"]);
    env.create_container("srv", &["--network", "a6", "-p", "8080:80"]);
    env.create_container("cli", &["--network", "b6"]);
    let _s80 = echo_server6("srv", "srv", 80);
    let _s81 = echo_server6("srv", "srv", 81);
    let _uplink6 = Uplink6::with(&env, &[UP6], OUTSIDE6);
    let text = |c: &str, n: &str, k: &str| {
        env.endpoint(c, n)[k]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    let srv6 = text("srv", "a6", "GlobalIPv6Address");
    let cli6 = text("cli", "b6", "GlobalIPv6Address");
    let gateway_a = text("srv", "a6", "IPv6Gateway");

    // Straight to its address: isolated, whatever the port.
    for port in [80, 81] {
        let direct = ask("cli", "tcp", &srv6, port);
        assert!(direct.is_err(), "cli reached [{srv6}]:{port}: {direct:?}");
    }
    // Through the published port of a host address: in, its address kept.
    assert!(
        wait_for(Duration::from_secs(10), || ask("cli", "tcp", UP6, 8080)
            .is_ok()),
        "cli never reached [UP6]:8080"
    );
    let reply = answered_by(ask("cli", "tcp", UP6, 8080), "srv", "cli -> published");
    assert_eq!(peer_address(&reply), cli6, "{reply}");
    // Only that port: 81 is not published.
    let unpublished = ask("cli", "tcp", UP6, 81);
    assert!(unpublished.is_err(), "cli reached port 81: {unpublished:?}");
    // The container reaches its own published port, from its gateway.
    let reply = answered_by(ask("srv", "tcp", UP6, 8080), "srv", "srv -> own port");
    assert_eq!(peer_address(&reply), gateway_a, "{reply}");
    // An `--internal` network's container reaches no host published port
    // (as Docker's internal-network rules drop it; internal_published.rs
    // has both families), and nothing beyond.
    env.create_network("i6", &["--ipv6", "--internal"]);
    env.create_container("ic", &["--network", "i6"]);
    let internal = ask("ic", "tcp", UP6, 8080);
    assert!(internal.is_err(), "internal -> published: {internal:?}");
    assert!(
        !ebpfnet_tests::ipv6::ping6("ic", OUTSIDE6),
        "an internal container reached the outside"
    );
    assert!(
        ebpfnet_tests::ipv6::ping6("cli", OUTSIDE6),
        "the check above proves nothing: cli cannot reach the outside either"
    );
}
