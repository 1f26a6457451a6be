//! Networks: create / ls / inspect / bridge devices, auto subnets, --internal.

use ebpfnet_tests::*;
use serde_json::Value;

fn find_by_name<'a>(list: &'a Value, name: &str) -> &'a Value {
    list.as_array()
        .unwrap_or_else(|| panic!("expected a JSON array: {list:#}"))
        .iter()
        .find(|e| e["Name"] == name)
        .unwrap_or_else(|| panic!("{name} not listed: {list:#}"))
}

fn subnet_gateway(n: &Value) -> (String, String) {
    let cfg = &n["IPAM"]["Config"][0];
    (
        cfg["Subnet"]
            .as_str()
            .unwrap_or_else(|| panic!("no IPAM.Config[0].Subnet: {n:#}"))
            .to_string(),
        cfg["Gateway"]
            .as_str()
            .unwrap_or_else(|| panic!("no IPAM.Config[0].Gateway: {n:#}"))
            .to_string(),
    )
}

/// The bridge device exists and carries `gateway/len` of the subnet.
fn assert_bridge_has(bridge: &str, gateway: &str, subnet: &str) {
    assert!(link_exists(bridge), "bridge device {bridge} does not exist");
    let len = parse_cidr(subnet).1;
    let want = format!("{gateway}/{len}");
    let addrs = ipv4_addrs(None, bridge);
    assert!(
        addrs.contains(&want),
        "bridge {bridge} should carry {want}, has {addrs:?}"
    );
    assert!(
        std::path::Path::new("/sys/class/net")
            .join(bridge)
            .join("bridge")
            .exists(),
        "{bridge} is not a bridge device"
    );
}

#[test]
fn create_ls_inspect_with_explicit_subnet() {
    let env = TestEnv::new("net1");
    let id = env.create_network(
        "n1a",
        &["--subnet", "10.231.0.0/24", "--gateway", "10.231.0.1"],
    );

    // Table output.
    let table = env.ok(&["network", "ls"]);
    let header = table.lines().next().unwrap_or_default();
    for col in ["NETWORK ID", "NAME", "DRIVER", "SCOPE"] {
        assert!(header.contains(col), "header lacks {col}: {table}");
    }
    let row = table
        .lines()
        .find(|l| l.split_whitespace().nth(1) == Some("n1a"))
        .unwrap_or_else(|| panic!("n1a not in network ls:\n{table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols, [&id[..12], "n1a", "bridge", "local"], "row: {row}");
    assert!(
        table
            .lines()
            .any(|l| l.split_whitespace().nth(1) == Some("bridge")),
        "default network `bridge` not in network ls:\n{table}"
    );

    // JSON ls.
    let ls = env.json(&["network", "ls"]);
    let n1 = find_by_name(&ls, "n1a");
    assert_eq!(n1["ID"], &id[..12], "{n1:#}");
    assert_eq!(n1["Driver"], "bridge", "{n1:#}");
    assert_eq!(n1["Scope"], "local", "{n1:#}");
    assert_eq!(n1["Internal"], "false", "{n1:#}");
    let n1 = env.inspect_network("n1a");
    assert_eq!(n1["IPAM"]["Config"][0]["Subnet"], "10.231.0.0/24", "{n1:#}");
    assert_eq!(n1["IPAM"]["Config"][0]["Gateway"], "10.231.0.1", "{n1:#}");
    let want_bridge = format!("ebr-{}", &id[..11]);
    let bridge = &n1["Options"]["com.docker.network.bridge.name"];
    assert_eq!(*bridge, want_bridge.as_str(), "{n1:#}");
    let def = env.inspect_network("bridge");
    assert_eq!(
        def["IPAM"]["Config"][0]["Subnet"], "10.214.0.0/16",
        "{def:#}"
    );
    assert_eq!(def["IPAM"]["Config"][0]["Gateway"], "10.214.0.1", "{def:#}");
    let bridge = &def["Options"]["com.docker.network.bridge.name"];
    assert_eq!(*bridge, "ebpfnet0", "{def:#}");

    // Inspect.
    let n = env.inspect_network("n1a");
    assert_eq!(n["Name"], "n1a", "{n:#}");
    assert_eq!(n["Id"], id.as_str(), "{n:#}");
    assert_eq!(n["Driver"], "bridge", "{n:#}");
    assert_eq!(n["Scope"], "local", "{n:#}");
    assert_eq!(n["Internal"], false, "{n:#}");
    assert_eq!(n["IPAM"]["Driver"], "default", "{n:#}");
    assert_eq!(
        subnet_gateway(&n),
        ("10.231.0.0/24".into(), "10.231.0.1".into())
    );
    assert!(
        n["Containers"].as_object().is_some_and(|m| m.is_empty()),
        "fresh network should have an empty Containers object: {n:#}"
    );
    assert_eq!(
        n["Options"]["com.docker.network.bridge.name"],
        want_bridge.as_str(),
        "{n:#}"
    );
    assert_bridge_has(&want_bridge, "10.231.0.1", "10.231.0.0/24");

    // The default network and its bridge.
    let d = env.inspect_network("bridge");
    assert_eq!(
        subnet_gateway(&d),
        ("10.214.0.0/16".into(), "10.214.0.1".into())
    );
    assert_eq!(d["Options"]["com.docker.network.bridge.name"], "ebpfnet0");
    assert_bridge_has("ebpfnet0", "10.214.0.1", "10.214.0.0/16");

    // Inspect of several names returns them in order.
    let both = env.json(&["network", "inspect", "n1a", "bridge"]);
    let names: Vec<&str> = both
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {both:#}"))
        .iter()
        .map(|n| n["Name"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(names, ["n1a", "bridge"]);
}

#[test]
fn auto_subnets_do_not_overlap() {
    let env = TestEnv::new("net2");
    env.create_network(
        "n2fixed",
        &["--subnet", "10.215.7.0/24", "--gateway", "10.215.7.1"],
    );
    let mut seen = vec!["10.214.0.0/16".to_string(), "10.215.7.0/24".to_string()];
    for name in ["n2auto1", "n2auto2", "n2auto3"] {
        let id = env.create_network(name, &[]);
        let n = env.inspect_network(name);
        let (subnet, gateway) = subnet_gateway(&n);
        let (net, len) = parse_cidr(&subnet);
        assert_eq!(len, 16, "auto subnets are /16: {subnet}");
        let o = net.to_be_bytes();
        assert!(
            o[0] == 10 && o[1] >= 215 && o[2] == 0 && o[3] == 0,
            "auto subnet {subnet} should be 10.X.0.0/16 with X >= 215"
        );
        for other in &seen {
            assert!(
                !cidrs_overlap(&subnet, other),
                "auto subnet {subnet} of {name} overlaps {other}"
            );
        }
        let first = std::net::Ipv4Addr::from(net + 1).to_string();
        assert_eq!(gateway, first, "gateway defaults to the first address");
        let bridge = format!("ebr-{}", &id[..11]);
        assert_eq!(
            n["Options"]["com.docker.network.bridge.name"],
            bridge.as_str()
        );
        assert_bridge_has(&bridge, &gateway, &subnet);
        seen.push(subnet);
    }
    // 10.215.0.0/16 is taken by n2fixed's /24, so the first auto subnet skips it.
    assert_ne!(seen[2], "10.215.0.0/16");
}

#[test]
fn internal_network() {
    let env = TestEnv::new("net3");
    env.create_network("n3int", &["--internal", "--subnet", "10.237.0.0/24"]);
    env.create_network("n3ext", &["--subnet", "10.238.0.0/24"]);
    let n = env.inspect_network("n3int");
    assert_eq!(n["Internal"], true, "{n:#}");
    assert_eq!(
        subnet_gateway(&n),
        ("10.237.0.0/24".into(), "10.237.0.1".into())
    );
    assert_eq!(env.inspect_network("n3ext")["Internal"], false);
    let ls = env.json(&["network", "ls"]);
    assert_eq!(find_by_name(&ls, "n3int")["Internal"], "true");
    assert_eq!(find_by_name(&ls, "n3ext")["Internal"], "false");
    let bridge = env.bridge_of("n3int");
    assert_bridge_has(&bridge, "10.237.0.1", "10.237.0.0/24");

    // Containers on an internal network talk to each other and the gateway.
    env.create_container("n3a", &["--network", "n3int"]);
    env.create_container("n3b", &["--network", "n3int"]);
    let b = env.ip_of("n3b", "n3int");
    assert!(
        ping("n3a", &b),
        "n3a cannot ping {b} on the internal network"
    );
    assert!(ping("n3a", "10.237.0.1"), "n3a cannot ping its gateway");
}
