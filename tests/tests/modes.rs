//! Network modes (`none`, `host`, `container:OTHER`) and adopting
//! namespaces ebpfnet did not make (`--netns PATH`, `--pid PID`).

mod resolve;

use std::path::Path;

use ebpfnet_tests::*;
use resolve::*;

#[test]
fn none_mode_has_loopback_only() {
    let env = TestEnv::new("modes-none");
    env.create_container("mn", &["--network", "none"]);
    let links = exec_ok(&env, "mn", &["ip", "-o", "link", "show"]);
    assert_eq!(links.lines().count(), 1, "only lo: {links}");
    assert!(links.contains(": lo:") && links.contains("UP"), "{links}");
    let routes = exec_ok(&env, "mn", &["ip", "-4", "route", "show"]);
    assert_eq!(routes.trim(), "", "none mode has routes: {routes}");
    // No route out: neither the outside nor a gateway.
    assert!(
        !ping("mn", &env.outside_ip),
        "none mode reached the outside"
    );
    assert!(
        !ping("mn", "10.214.0.1"),
        "none mode reached the bridge gateway"
    );
    // Loopback works.
    let _server = tcp_server("mn", "127.0.0.1", 9000);
    assert!(tcp_request("mn", "127.0.0.1", 9000).starts_with("hello from mn"));

    let c = env.inspect_container("mn");
    assert_eq!(c["HostConfig"]["NetworkMode"], "none", "{c:#}");
    let networks = c["NetworkSettings"]["Networks"].as_object().cloned();
    assert_eq!(
        networks.map(|n| n.keys().cloned().collect::<Vec<_>>()),
        Some(vec!["none".to_string()]),
        "{c:#}"
    );
    env.create_network("mnet", &[]);
    env.fails_with(
        &["network", "connect", "mnet", "mn"],
        &["mn", "network mode none"],
    );
    env.fails_with(
        &[
            "container",
            "create",
            "mn2",
            "--network",
            "none",
            "-p",
            "80",
        ],
        &["port publishing", "none"],
    );
    env.ok(&["container", "rm", "mn"]);
    assert!(!netns_exists("mn"), "/run/netns/mn left after rm");
}

#[test]
fn host_mode_runs_in_the_host_namespace() {
    let env = TestEnv::new("modes-host");
    env.create_container("mh", &["--network", "host"]);
    // exec sees the host's interfaces: the uplink is there.
    let links = exec_ok(&env, "mh", &["ip", "-o", "link", "show"]);
    assert!(
        links.contains(&env.uplink),
        "host interfaces not seen: {links}"
    );
    assert!(!netns_exists("mh"), "host mode made a namespace");
    let c = env.inspect_container("mh");
    assert_eq!(c["HostConfig"]["NetworkMode"], "host", "{c:#}");
    assert_eq!(c["NetworkSettings"]["SandboxKey"], "", "{c:#}");

    env.fails_with(
        &[
            "container",
            "create",
            "mh2",
            "--network",
            "host",
            "-p",
            "8080:80",
        ],
        &["port publishing", "host"],
    );
    env.fails_with(&["publish", "80", "--container", "mh"], &["mh"]);
    env.create_network("mhnet", &[]);
    env.fails_with(
        &["network", "connect", "mhnet", "mh"],
        &["mh", "network mode host"],
    );
    env.fails_with(&["network", "create", "host"], &["network mode"]);
    env.ok(&["container", "rm", "mh"]);
    assert!(
        link_exists(&env.uplink),
        "rm of a host-mode container took the uplink"
    );
    assert!(Path::new("/sys/class/net/lo").exists());
}

#[test]
fn container_mode_shares_addresses_and_ports() {
    let env = TestEnv::new("modes-shared");
    env.create_network("msnet", &[]);
    env.create_container("mo", &["--network", "msnet"]);
    env.create_container("ms", &["--network", "container:mo"]);
    let ip = env.ip_of("mo", "msnet");
    let addrs = exec_ok(
        &env,
        "ms",
        &["ip", "-4", "-o", "addr", "show", "dev", "eth0"],
    );
    assert!(
        addrs.contains(&format!(" {ip}/")),
        "ms does not have {ip}: {addrs}"
    );
    // A server bound to 127.0.0.1 in mo answers the sharer on 127.0.0.1.
    let _server = tcp_server("mo", "127.0.0.1", 9000);
    let reply = tcp_by_name(&env, "ms", "127.0.0.1", 9000);
    assert!(
        reply.starts_with("hello from mo"),
        "sharer on loopback: {reply:?}"
    );
    // Same names as mo, from mo's network.
    env.create_container("mp", &["--network", "msnet"]);
    let mp = env.ip_of("mp", "msnet");
    assert_eq!(py_lookup(&env, "ms", "mp").as_deref(), Some(mp.as_str()));
    let c = env.inspect_container("ms");
    assert_eq!(c["HostConfig"]["NetworkMode"], "container:mo", "{c:#}");
    assert_eq!(c["NetworkSettings"]["SandboxKey"], "/run/netns/mo", "{c:#}");

    env.fails_with(&["container", "rm", "mo"], &["mo", "ms"]);
    env.fails_with(
        &["network", "connect", "msnet", "ms"],
        &["ms", "container:mo"],
    );
    env.fails_with(
        &[
            "container",
            "create",
            "mx",
            "--network",
            "container:mo",
            "-p",
            "80",
        ],
        &["port publishing"],
    );
    env.fails_with(
        &["container", "create", "my", "--network", "container:nosuch"],
        &["nosuch"],
    );
    env.ok(&["container", "rm", "ms"]);
    assert!(
        netns_exists("mo"),
        "removing the sharer removed mo's namespace"
    );
    env.ok(&["container", "rm", "mo"]);
}

#[test]
fn adopted_netns_gets_networking_and_survives_rm() {
    let env = TestEnv::new("modes-adopt");
    let own = OwnNetns::new(&format!("ebnt-adopt-{}", std::process::id()));
    let path = format!("/run/netns/{}", own.0);
    env.create_network("manet", &[]);
    env.create_container(
        "ma",
        &["--network", "manet", "--netns", &path, "-p", "8080:80"],
    );
    env.create_container("mb", &["--network", "manet"]);
    let ip = env.ip_of("ma", "manet");
    assert_eq!(ipv4_addrs(Some(&own.0), "eth0"), vec![format!("{ip}/16")]);
    assert!(
        netns_default_route(&own.0).is_some(),
        "no default route in {}",
        own.0
    );
    // Traffic: out (masquerade), in (published port), by name.
    assert!(
        ping(&own.0, &env.outside_ip),
        "adopted namespace cannot reach the outside"
    );
    let _server = tcp_server(&own.0, "0.0.0.0", 80);
    let reply = tcp_request(&env.outside_ns, &env.uplink_ip, 8080);
    assert!(reply.starts_with("hello from"), "published port: {reply:?}");
    assert_eq!(py_lookup(&env, "mb", "ma").as_deref(), Some(ip.as_str()));
    assert_eq!(
        getent(&env, "ma", "mb").as_deref(),
        Some(env.ip_of("mb", "manet").as_str())
    );
    let c = env.inspect_container("ma");
    assert_eq!(c["NetworkSettings"]["SandboxKey"], path.as_str(), "{c:#}");

    env.fails_with(
        &[
            "container",
            "create",
            "ma2",
            "--network",
            "manet",
            "--netns",
            &path,
        ],
        &["already", "ma"],
    );
    env.fails_with(
        &["container", "create", "ma3", "--netns", "/tmp"],
        &["/tmp"],
    );
    env.ok(&["container", "rm", "ma"]);
    assert!(netns_exists(&own.0), "rm destroyed the adopted namespace");
    assert!(
        !netns_link_exists(&own.0, "eth0"),
        "eth0 left in the adopted namespace"
    );
    assert!(
        !Path::new("/etc/netns/ma").exists(),
        "/etc/netns/ma left after rm"
    );
}

#[test]
fn adopted_pid_namespace_goes_when_the_process_does() {
    let mut env = TestEnv::new("modes-pid");
    let mut process = OwnProcess::unshared();
    let pid = process.pid().to_string();
    env.create_container("mq", &["--pid", &pid]);
    let ip = env.ip_of("mq", "bridge");
    let addrs = exec_ok(
        &env,
        "mq",
        &["ip", "-4", "-o", "addr", "show", "dev", "eth0"],
    );
    assert!(addrs.contains(&format!(" {ip}/")), "{addrs}");
    let ping_out = exec(
        &env,
        "mq",
        &["ping", "-n", "-c", "1", "-W", "2", &env.outside_ip],
    );
    assert!(ping_out.status.success(), "adopted --pid cannot reach out");
    env.fails_with(
        &["container", "create", "mq2", "--pid", &pid],
        &["already", "mq"],
    );
    env.fails_with(
        &["container", "create", "mq3", "--pid", "999999999"],
        &["999999999"],
    );
    // The process exits while the daemon is down: at start the container goes.
    env.stop_daemon();
    process.kill();
    env.start_daemon();
    let list = env.json(&["container", "ls"]);
    assert!(
        !list.to_string().contains("\"mq\""),
        "container of a dead namespace survived a restart: {list}"
    );
    assert!(
        env.daemon_log().contains("is gone; removing mq"),
        "no log line about mq"
    );
}

#[test]
fn adopted_namespace_that_goes_is_noticed_within_seconds() {
    let env = TestEnv::new("modes-gone");
    let mut process = OwnProcess::unshared();
    let pid = process.pid().to_string();
    env.create_container("mg", &["--pid", &pid, "-p", "8086:80"]);
    let veth = env.host_veth_of("mg", "bridge");
    assert!(link_exists(&veth));
    // The process exits while the daemon runs: its namespace goes, with the
    // veth; the daemon drops the container without a restart.
    process.kill();
    let started = std::time::Instant::now();
    let gone = ebpfnet_tests::traffic::wait_for(std::time::Duration::from_secs(5), || {
        !env.json(&["container", "ls"])
            .to_string()
            .contains("\"mg\"")
    });
    assert!(
        gone,
        "container of a vanished namespace still listed after 5 s: {}",
        env.json(&["container", "ls"])
    );
    eprintln!("dropped after {:?}", started.elapsed());
    assert!(!link_exists(&veth), "{veth} left");
    let published = ebpfnet_tests::traffic::bpftool_dump(&env.pin_dir.join("PUBLISHED"));
    assert_eq!(published, serde_json::json!([]), "{published:#}");
    assert!(
        env.daemon_log().contains("is gone; removing mg"),
        "no log line about mg"
    );
}
