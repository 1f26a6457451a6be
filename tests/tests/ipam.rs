//! Address management through the CLI: order, reuse, explicit addresses,
//! concurrent creation.

use ebpfnet_tests::*;

#[test]
fn ipam_order_and_reuse() {
    let env = TestEnv::new("ipam1");
    env.create_network(
        "i1net",
        &["--subnet", "10.232.0.0/24", "--gateway", "10.232.0.1"],
    );
    for (name, ip) in [
        ("i1a", "10.232.0.2"),
        ("i1b", "10.232.0.3"),
        ("i1c", "10.232.0.4"),
    ] {
        env.create_container(name, &["--network", "i1net"]);
        assert_eq!(env.ip_of(name, "i1net"), ip, "address of {name}");
    }
    assert_eq!(env.ok(&["container", "rm", "i1b"]).trim(), "i1b");
    env.create_container("i1d", &["--network", "i1net"]);
    assert_eq!(
        env.ip_of("i1d", "i1net"),
        "10.232.0.3",
        "the freed address is handed out again"
    );
    env.create_container("i1e", &["--network", "i1net"]);
    assert_eq!(env.ip_of("i1e", "i1net"), "10.232.0.5");
    assert!(
        ping("i1d", "10.232.0.2"),
        "i1d (reused address) cannot ping i1a"
    );
    assert!(
        ping("i1a", "10.232.0.3"),
        "i1a cannot ping i1d (reused address)"
    );

    // A gateway that is not the first address is skipped, not handed out.
    env.create_network(
        "i1gw",
        &["--subnet", "10.233.0.0/24", "--gateway", "10.233.0.2"],
    );
    env.create_container("i1f", &["--network", "i1gw"]);
    env.create_container("i1g", &["--network", "i1gw"]);
    let f = env.ip_of("i1f", "i1gw");
    let g = env.ip_of("i1g", "i1gw");
    for ip in [&f, &g] {
        assert!(
            ip != "10.233.0.0" && ip != "10.233.0.2" && ip != "10.233.0.255",
            "handed out network/gateway/broadcast address {ip}"
        );
    }
    assert_ne!(f, g);
}

#[test]
fn ipam_explicit_ip() {
    let env = TestEnv::new("ipam2");
    env.create_network(
        "i2net",
        &["--subnet", "10.232.0.0/24", "--gateway", "10.232.0.1"],
    );
    env.create_container("i2a", &["--network", "i2net", "--ip", "10.232.0.50"]);
    check_endpoint(&env, "i2a", "i2net", "eth0");
    assert_eq!(env.ip_of("i2a", "i2net"), "10.232.0.50");

    let links_before = host_links();
    env.fails_with(
        &[
            "container",
            "create",
            "i2b",
            "--network",
            "i2net",
            "--ip",
            "10.99.0.5",
        ],
        &["10.99.0.5"],
    );
    env.fails_with(
        &[
            "container",
            "create",
            "i2c",
            "--network",
            "i2net",
            "--ip",
            "10.232.0.50",
        ],
        &["10.232.0.50"],
    );
    env.fails_with(
        &[
            "container",
            "create",
            "i2d",
            "--network",
            "i2net",
            "--ip",
            "10.232.0.1",
        ],
        &["10.232.0.1"],
    );
    for refused in ["i2b", "i2c", "i2d"] {
        assert!(
            !netns_exists(refused),
            "refused container {refused} left a netns"
        );
        env.fails(&["container", "inspect", refused]);
    }
    assert_eq!(
        host_links(),
        links_before,
        "a refused create left links behind"
    );

    // Automatic allocation continues from the bottom and avoids .50.
    env.create_container("i2e", &["--network", "i2net"]);
    assert_eq!(env.ip_of("i2e", "i2net"), "10.232.0.2");
    assert!(ping("i2e", "10.232.0.50"));
}

#[test]
fn ipam_concurrent_creates() {
    let env = TestEnv::new("ipam3");
    env.create_network(
        "i3net",
        &["--subnet", "10.232.0.0/24", "--gateway", "10.232.0.1"],
    );
    let names: Vec<String> = (0..6).map(|i| format!("i3c{i}")).collect();
    let mut children = Vec::new();
    for name in &names {
        let mut cmd = env.command(&["container", "create", name, "--network", "i3net"]);
        cmd.stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped());
        children.push((name.clone(), cmd.spawn().expect("spawn ebpfnet")));
    }
    let mut failures = Vec::new();
    for (name, child) in children {
        let out = child.wait_with_output().expect("wait ebpfnet");
        if !out.status.success() || !is_hex_id(out.stdout_str().trim()) {
            failures.push(format!("{name}: {}", cli::describe("create", &out)));
        }
    }
    assert!(
        failures.is_empty(),
        "concurrent creates failed:\n{}",
        failures.join("\n")
    );
    let mut ips: Vec<String> = names.iter().map(|n| env.ip_of(n, "i3net")).collect();
    for n in &names {
        check_endpoint(&env, n, "i3net", "eth0");
    }
    ips.sort();
    ips.dedup();
    assert_eq!(ips.len(), 6, "addresses not distinct: {ips:?}");
    let mut want: Vec<String> = (2..8).map(|i| format!("10.232.0.{i}")).collect();
    want.sort();
    assert_eq!(ips, want, "6 creates should take .2-.7");
    assert!(ping("i3c0", &env.ip_of("i3c5", "i3net")));
}
