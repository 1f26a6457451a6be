//! Daemon restart keeps everything (and traffic flows while it is down);
//! `system reset` removes everything.

use std::time::Duration;

use ebpfnet_tests::*;
use serde_json::Value;

/// `NAME ID` of each network (`Name`) or container (`Names`) listed.
fn names_and_ids(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {list:#}"))
        .iter()
        .map(|e| {
            let name = e.get("Name").unwrap_or(&e["Names"]);
            format!("{name} {}", e["ID"])
        })
        .collect();
    v.sort();
    v
}

#[test]
fn restart_keeps_state_and_traffic() {
    let mut env = TestEnv::new("rst");
    env.create_network(
        "r1net",
        &["--subnet", "10.231.0.0/24", "--gateway", "10.231.0.1"],
    );
    env.create_container("r1a", &["--network", "r1net"]);
    env.create_container("r1b", &["--network", "r1net"]);
    env.create_container("r1c", &[]);
    let ip_a = env.ip_of("r1a", "r1net");
    let ip_b = env.ip_of("r1b", "r1net");
    assert!(ping("r1a", &ip_b));
    let nets = names_and_ids(&env.json(&["network", "ls"]));
    let ctrs = names_and_ids(&env.json(&["container", "ls"]));
    let inspect_a = env.inspect_container("r1a");

    let status = env.stop_daemon();
    assert!(
        status.success(),
        "daemon should exit 0 on SIGTERM, got {status}"
    );
    assert!(
        netns_exists("r1a") && netns_exists("r1b"),
        "SIGTERM removed namespaces"
    );
    let err = env.fails(&["network", "ls"]);
    assert!(err.contains("cannot reach"), "{err}");

    // Traffic while the daemon is down.
    assert!(
        ping("r1a", &ip_b),
        "r1a cannot ping r1b while the daemon is down"
    );
    assert!(
        ping("r1b", "10.231.0.1"),
        "gateway unreachable while the daemon is down"
    );
    let srv = tcp_server("r1b", &ip_b, 8080);
    assert_eq!(
        tcp_request("r1a", &ip_b, 8080).trim(),
        format!("hello from r1b peer={ip_a} data=ping"),
        "TCP while the daemon is down"
    );

    env.start_daemon();
    assert_eq!(names_and_ids(&env.json(&["network", "ls"])), nets);
    assert_eq!(names_and_ids(&env.json(&["container", "ls"])), ctrs);
    let again = env.inspect_container("r1a");
    assert_eq!(again["Id"], inspect_a["Id"]);
    assert_eq!(again["NetworkSettings"], inspect_a["NetworkSettings"]);
    assert!(ping("r1a", &ip_b), "r1a cannot ping r1b after restart");
    assert_eq!(
        tcp_request("r1a", &ip_b, 8080).trim(),
        format!("hello from r1b peer={ip_a} data=ping"),
        "TCP after restart"
    );
    drop(srv);

    env.create_container("r1d", &["--network", "r1net"]);
    assert_eq!(
        env.ip_of("r1d", "r1net"),
        "10.231.0.4",
        "after restart the next free address is handed out"
    );
    env.create_container("r1e", &[]);
    assert_eq!(env.ip_of("r1e", "bridge"), "10.214.0.3");
    assert!(ping("r1d", &ip_a), "new container cannot ping r1a");
    env.fails_with(&["container", "create", "r1a"], &["r1a"]);

    // A second restart with no change in between is also lossless.
    let status = env.stop_daemon();
    assert!(status.success());
    env.start_daemon();
    assert!(ping("r1d", &ip_b));
    assert_eq!(
        env.json(&["container", "ls"]).as_array().map(|a| a.len()),
        Some(5)
    );
}

#[test]
fn system_reset_removes_everything() {
    let mut env = TestEnv::new("reset");
    env.create_network("s1net", &["--subnet", "10.231.0.0/24"]);
    env.create_network("s1int", &["--internal"]);
    env.create_container("s1a", &["--network", "s1net"]);
    env.create_container("s1b", &[]);
    env.ok(&["network", "connect", "s1int", "s1b"]);
    let bridges = [
        env.bridge_of("s1net"),
        env.bridge_of("s1int"),
        "ebpfnet0".to_string(),
    ];
    let veths = [
        env.host_veth_of("s1a", "s1net"),
        env.host_veth_of("s1b", "bridge"),
        env.host_veth_of("s1b", "s1int"),
    ];
    for l in bridges.iter().chain(&veths) {
        assert!(link_exists(l), "{l} missing before reset");
    }
    let pins = std::fs::read_dir(&env.pin_dir)
        .map(|d| d.count())
        .unwrap_or(0);
    assert!(
        pins > 0,
        "nothing pinned under {} before reset",
        env.pin_dir.display()
    );

    let out = env.reset().expect("system reset");
    assert!(
        out.status.success(),
        "{}",
        cli::describe("system reset", &out)
    );
    let status = env.wait_daemon_exit(Duration::from_secs(10));
    assert!(
        status.is_some(),
        "daemon still running 10 s after system reset"
    );

    for l in bridges.iter().chain(&veths) {
        assert!(!link_exists(l), "{l} left after reset");
    }
    for ns in ["s1a", "s1b"] {
        assert!(!netns_exists(ns), "netns {ns} left after reset");
    }
    let left: Vec<String> = std::fs::read_dir(&env.pin_dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(left.is_empty(), "pins left after reset: {left:?}");
    let state: Vec<String> = std::fs::read_dir(&env.state_dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    assert!(state.is_empty(), "state left after reset: {state:?}");
    let stray: Vec<String> = host_links()
        .into_iter()
        .filter(|l| l.starts_with("ebr-") || l == "ebpfnet0")
        .collect();
    assert!(
        stray.is_empty(),
        "ebpfnet links left after reset: {stray:?}"
    );

    // Idempotent, and works without a daemon (directly from the state dir).
    let out = env.reset().expect("second system reset");
    assert!(
        out.status.success(),
        "{}",
        cli::describe("second system reset", &out)
    );

    // A fresh daemon on the same dirs starts from scratch.
    env.start_daemon();
    let ls = env.json(&["network", "ls"]);
    let names: Vec<&str> = ls
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["Name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        names,
        ["bridge", "host", "none"],
        "only the default network (and the modes) after reset"
    );
    env.create_container("s1c", &[]);
    assert_eq!(env.ip_of("s1c", "bridge"), "10.214.0.2");
}
