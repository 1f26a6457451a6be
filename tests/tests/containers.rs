//! Containers: traffic on one network, inspect vs. the real netns,
//! connect/disconnect, cleanup on rm, exec. (Address management: ipam.rs.)

use ebpfnet_tests::*;
use serde_json::Value;

/// Full same-network check between containers `a` and `b` on `net`.
fn check_pair(env: &TestEnv, net: &str, a: &str, b: &str) {
    let (ip_a, len) = check_endpoint(env, a, net, "eth0");
    let (ip_b, _) = check_endpoint(env, b, net, "eth0");
    let gw = env.endpoint(a, net)["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    for c in [a, b] {
        assert_eq!(
            netns_default_route(c),
            Some((gw.clone(), "eth0".to_string())),
            "default route in {c}"
        );
    }

    // network inspect lists both with ip/len and MAC.
    let n = env.inspect_network(net);
    let members = n["Containers"]
        .as_object()
        .unwrap_or_else(|| panic!("Containers: {n:#}"));
    for (name, ip) in [(a, &ip_a), (b, &ip_b)] {
        let id = env.inspect_container(name)["Id"]
            .as_str()
            .unwrap()
            .to_string();
        let m = members
            .get(&id)
            .unwrap_or_else(|| panic!("{name} ({id}) not in Containers of {net}: {n:#}"));
        assert_eq!(m["Name"], name, "{m:#}");
        assert_eq!(m["IPv4Address"], format!("{ip}/{len}").as_str(), "{m:#}");
        assert_eq!(m["MacAddress"], mac_for_ip(ip).as_str(), "{m:#}");
    }

    // container ls json.
    let ls = env.json(&["container", "ls"]);
    for (name, ip) in [(a, &ip_a), (b, &ip_b)] {
        let e = ls
            .as_array()
            .and_then(|l| l.iter().find(|e| e["Names"] == name))
            .unwrap_or_else(|| panic!("{name} not in container ls: {ls:#}"));
        assert_eq!(e["Networks"], net, "{e:#}");
        assert_eq!(env.ip_of(name, net), *ip);
    }

    // Traffic.
    assert!(ping(a, &ip_b), "{a} cannot ping {b} ({ip_b})");
    assert!(ping(b, &ip_a), "{b} cannot ping {a} ({ip_a})");
    assert!(ping(a, &gw), "{a} cannot ping its gateway {gw}");

    let _srv = tcp_server(b, &ip_b, 8080);
    let reply = tcp_request(a, &ip_b, 8080);
    assert_eq!(
        reply.trim(),
        format!("hello from {b} peer={ip_a} data=ping"),
        "TCP {a} -> {b}:8080"
    );
    let _udp = udp_echo_server(b, 9999);
    let payload = format!("udp-{a}-to-{b}");
    assert_eq!(udp_request(a, &ip_b, 9999, &payload), payload, "UDP echo");
    assert_eq!(tcp_request(a, &ip_b, 8081), "", "nothing listens on 8081");
}

#[test]
fn traffic_on_user_network() {
    let env = TestEnv::new("ctr1");
    env.create_network(
        "c1net",
        &["--subnet", "10.231.0.0/24", "--gateway", "10.231.0.1"],
    );
    env.create_container("c1a", &["--network", "c1net"]);
    env.create_container("c1b", &["--network", "c1net"]);
    assert_eq!(env.ip_of("c1a", "c1net"), "10.231.0.2");
    assert_eq!(env.ip_of("c1b", "c1net"), "10.231.0.3");
    check_pair(&env, "c1net", "c1a", "c1b");

    // container ls table.
    let table = env.ok(&["container", "ls"]);
    let header = table.lines().next().unwrap_or_default();
    for col in ["CONTAINER ID", "NAME", "NETWORKS", "IP ADDRESS", "PORTS"] {
        assert!(header.contains(col), "header lacks {col}: {table}");
    }
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("c1a"))
        .unwrap_or_else(|| panic!("c1a not in container ls:\n{table}"));
    assert!(row.contains("c1net") && row.contains("10.231.0.2"), "{row}");
}

#[test]
fn traffic_on_default_bridge() {
    let env = TestEnv::new("ctr2");
    env.create_container("c2a", &[]);
    env.create_container("c2b", &[]);
    assert_eq!(env.ip_of("c2a", "bridge"), "10.214.0.2");
    assert_eq!(env.ip_of("c2b", "bridge"), "10.214.0.3");
    check_pair(&env, "bridge", "c2a", "c2b");
}

#[test]
fn connect_and_disconnect() {
    let env = TestEnv::new("conn");
    env.create_network("cnA", &["--subnet", "10.233.0.0/24"]);
    env.create_network("cnB", &["--subnet", "10.234.0.0/24"]);
    env.create_container("cna", &["--network", "cnA"]);
    env.create_container("cnb", &["--network", "cnB"]);
    let ip_b = env.ip_of("cnb", "cnB");
    assert!(
        !ping("cna", &ip_b),
        "cna reaches cnb on another network before connect"
    );

    env.ok(&["network", "connect", "cnB", "cna"]);
    let (ip_a_b, _) = check_endpoint(&env, "cna", "cnB", "eth1");
    assert!(ip_in_cidr(&ip_a_b, "10.234.0.0/24"));
    // eth0 unchanged; default route unchanged.
    check_endpoint(&env, "cna", "cnA", "eth0");
    assert_eq!(
        netns_default_route("cna"),
        Some(("10.233.0.1".to_string(), "eth0".to_string()))
    );
    assert!(ping("cna", &ip_b), "cna cannot ping cnb after connect");
    assert!(ping("cnb", &ip_a_b), "cnb cannot ping cna's eth1");
    let _srv = tcp_server("cnb", &ip_b, 8080);
    assert_eq!(
        tcp_request("cna", &ip_b, 8080).trim(),
        format!("hello from cnb peer={ip_a_b} data=ping")
    );
    let n = env.inspect_network("cnB");
    assert_eq!(
        n["Containers"].as_object().map(|m| m.len()),
        Some(2),
        "cnB should list cna and cnb: {n:#}"
    );

    let veth = env.host_veth_of("cna", "cnB");
    env.ok(&["network", "disconnect", "cnB", "cna"]);
    assert!(
        !netns_link_exists("cna", "eth1"),
        "eth1 still in cna after disconnect"
    );
    assert!(
        !link_exists(&veth),
        "host veth {veth} left after disconnect"
    );
    let c = env.inspect_container("cna");
    assert!(
        c["NetworkSettings"]["Networks"]["cnB"].is_null(),
        "cnB still in inspect after disconnect: {c:#}"
    );
    assert!(
        !ping("cna", &ip_b),
        "cna still reaches cnb after disconnect"
    );
    assert_eq!(tcp_request("cna", &ip_b, 8080), "");
    // Still fine on its own network.
    assert!(ping("cna", "10.233.0.1"));

    // Connect with an explicit address.
    env.ok(&["network", "connect", "cnB", "cna", "--ip", "10.234.0.77"]);
    assert_eq!(env.ip_of("cna", "cnB"), "10.234.0.77");
    check_endpoint(&env, "cna", "cnB", "eth1");
    assert!(ping("cnb", "10.234.0.77"));
}

#[test]
fn rm_cleans_up() {
    let env = TestEnv::new("rm");
    env.create_network("rmnet", &["--subnet", "10.235.0.0/24"]);
    env.create_container("rma", &["--network", "rmnet"]);
    env.create_container("rmb", &["--network", "rmnet"]);
    let bridge = env.bridge_of("rmnet");
    let veth_a = env.host_veth_of("rma", "rmnet");
    assert!(link_exists(&bridge) && link_exists(&veth_a) && netns_exists("rma"));

    let err = env.fails_with(&["network", "rm", "rmnet"], &["rma", "rmb"]);
    assert!(link_exists(&bridge), "bridge gone after refused rm: {err}");
    assert!(
        ping("rma", &env.ip_of("rmb", "rmnet")),
        "traffic broken after refused rm"
    );

    assert_eq!(env.ok(&["container", "rm", "rma"]).trim(), "rma");
    assert!(
        !netns_exists("rma"),
        "/run/netns/rma left after container rm"
    );
    assert!(
        !link_exists(&veth_a),
        "host veth {veth_a} left after container rm"
    );
    env.fails(&["container", "inspect", "rma"]);
    let n = env.inspect_network("rmnet");
    assert_eq!(
        n["Containers"].as_object().map(|m| m.len()),
        Some(1),
        "{n:#}"
    );

    env.fails_with(&["network", "rm", "rmnet"], &["rmb"]);
    let veth_b = env.host_veth_of("rmb", "rmnet");
    assert_eq!(env.ok(&["container", "rm", "rmb"]).trim(), "rmb");
    assert!(!netns_exists("rmb") && !link_exists(&veth_b));

    assert_eq!(env.ok(&["network", "rm", "rmnet"]).trim(), "rmnet");
    assert!(
        !link_exists(&bridge),
        "bridge {bridge} left after network rm"
    );
    let ls = env.json(&["network", "ls"]);
    assert!(
        !ls.as_array().unwrap().iter().any(|n| n["Name"] == "rmnet"),
        "rmnet still listed: {ls:#}"
    );

    env.fails_with(&["network", "rm", "bridge"], &["bridge"]);
    assert!(link_exists("ebpfnet0"), "default bridge device removed");

    // Several names at once.
    env.create_container("rmc", &[]);
    env.create_container("rmd", &[]);
    let out = env.ok(&["container", "rm", "rmc", "rmd"]);
    let removed: Vec<&str> = out.lines().map(str::trim).collect();
    assert_eq!(removed, ["rmc", "rmd"]);
    assert!(!netns_exists("rmc") && !netns_exists("rmd"));
    let ls: Value = env.json(&["container", "ls"]);
    assert_eq!(ls.as_array().map(|a| a.len()), Some(0), "{ls:#}");
}

#[test]
fn exec_in_container() {
    let env = TestEnv::new("exec");
    env.create_container("exa", &[]);
    let ip = env.ip_of("exa", "bridge");

    let out = env.cli(&["exec", "exa", "--", "sh", "-c", "exit 7"]);
    assert_eq!(
        out.code(),
        Some(7),
        "{}",
        cli::describe("exec exit 7", &out)
    );

    let out = env.ok(&["exec", "exa", "--", "ip", "-j", "addr"]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let eth0 = v
        .as_array()
        .and_then(|l| l.iter().find(|l| l["ifname"] == "eth0"))
        .unwrap_or_else(|| panic!("no eth0 in exec output: {out}"));
    assert!(
        eth0["addr_info"]
            .as_array()
            .is_some_and(|a| a.iter().any(|a| a["local"] == ip.as_str())),
        "eth0 in exec output lacks {ip}: {eth0:#}"
    );
    assert!(
        !v.as_array()
            .unwrap()
            .iter()
            .any(|l| l["ifname"] == "ebpfnet0"),
        "exec did not enter the container's netns"
    );

    let out = env.cli_stdin(&["exec", "exa", "--", "cat"], b"hi\n");
    assert!(out.status.success(), "{}", cli::describe("exec cat", &out));
    assert_eq!(out.stdout_str(), "hi\n");

    let err = env.fails_with_status(125, &["exec", "nosuchctr", "--", "true"], &["nosuchctr"]);
    assert!(!err.is_empty());
}
