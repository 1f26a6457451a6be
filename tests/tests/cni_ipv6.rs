//! The CNI plugin on a dual-stack network: ADD reports and configures the
//! IPv6 address (the one the runtime asked for) and IPv6 default route
//! beside the IPv4 ones, CHECK follows it, traffic flows over IPv6, DEL
//! removes it; portMappings publish on IPv6 (a plain one on both families).

mod resolve;

use ebpfnet_tests::cli::CmdOutput;
use ebpfnet_tests::cni::*;
use ebpfnet_tests::*;
use resolve::*;
use serde_json::json;

#[test]
fn add_on_a_dual_stack_network_reports_and_sets_ipv6() {
    let env = TestEnv::new("cni-v6");
    env.create_network(
        "cni6",
        &[
            "--ipv6",
            "--subnet",
            "10.231.76.0/24",
            "--subnet",
            "fd00:e6:76::/64",
        ],
    );
    env.create_container("peer6", &["--network", "cni6"]);
    let own = OwnNetns::new(&format!("ebnt-cni6-{}", std::process::id()));
    let id = format!("cni-v6-{}", std::process::id());
    let vars = CniVars::attachment(&id, &own.0, "net1");
    let asked = json!({"ips": ["10.231.76.40/24", "fd00:e6:76::40/64"]});
    let conf = netconf(&env, "cni6-conf", "cni6", asked);

    let result = cni("ADD", &vars, &conf).result();
    assert_eq!(
        result["ips"],
        json!([
            {"address": "10.231.76.40/24", "gateway": "10.231.76.1", "interface": 1},
            {"address": "fd00:e6:76::40/64", "gateway": "fd00:e6:76::1", "interface": 1}
        ]),
        "{result:#}"
    );
    assert_eq!(
        result["routes"],
        json!([{"dst": "0.0.0.0/0", "gw": "10.231.76.1"}, {"dst": "::/0", "gw": "fd00:e6:76::1"}]),
        "{result:#}"
    );
    let addr = netns_exec_ok(&own.0, &["ip", "-6", "addr", "show", "dev", "net1"]);
    assert!(
        addr.contains("fd00:e6:76::40/64") && !addr.contains("tentative"),
        "{addr}"
    );
    let route = netns_exec_ok(&own.0, &["ip", "-6", "route", "show", "default"]);
    assert!(route.contains("via fd00:e6:76::1 dev net1"), "{route}");
    let peer = env.endpoint("peer6", "cni6")["GlobalIPv6Address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let ping = netns_exec(&own.0, &["ping", "-6", "-n", "-c", "1", "-W", "2", &peer]);
    assert!(ping.status.success(), "ping6 {peer}: {}", ping.stdout_str());

    let check_conf = with_prev_result(&conf, &result);
    cni("CHECK", &vars, &check_conf).assert_silent_success();

    // Two IPv6 addresses asked for: refused, nothing made.
    let twice = json!({"ips": ["fd00:e6:76::41", "fd00:e6:76::42"]});
    let other = CniVars::attachment(&format!("{id}-b"), &own.0, "net2");
    let reply = cni("ADD", &other, &netconf(&env, "cni6-conf", "cni6", twice));
    let error = reply.assert_error(4);
    assert!(
        error.to_string().contains("one IPv4 and one IPv6"),
        "{error}"
    );
    assert!(!netns_link_exists(&own.0, "net2"));

    cni("DEL", &vars, &conf).assert_silent_success();
    assert!(!netns_link_exists(&own.0, "net1"), "DEL left net1");
    let members = env.inspect_network("cni6")["Containers"].to_string();
    assert!(!members.contains("fd00:e6:76::40"), "{members}");
}

#[test]
fn add_on_an_ipv6_only_network_reports_only_ipv6() {
    let env = TestEnv::new("cni-v6only");
    env.create_network(
        "cni6o",
        &["--ipv6", "--ipv4=false", "--subnet", "fd00:e6:77::/64"],
    );
    env.create_container("peer6o", &["--network", "cni6o"]);
    let own = OwnNetns::new(&format!("ebnt-cni6o-{}", std::process::id()));
    let id = format!("cni-v6o-{}", std::process::id());
    let vars = CniVars::attachment(&id, &own.0, "net1");
    let conf = netconf(&env, "cni6o-conf", "cni6o", json!({}));

    let result = cni("ADD", &vars, &conf).result();
    assert_eq!(
        result["ips"],
        json!([{"address": "fd00:e6:77::3/64", "gateway": "fd00:e6:77::1", "interface": 1}]),
        "{result:#}"
    );
    assert_eq!(
        result["routes"],
        json!([{"dst": "::/0", "gw": "fd00:e6:77::1"}]),
        "{result:#}"
    );
    assert_eq!(
        result["dns"]["nameservers"],
        json!(["fd00:e6:77::1"]),
        "{result:#}"
    );
    let v4 = netns_exec_ok(&own.0, &["ip", "-4", "-o", "addr", "show", "dev", "net1"]);
    assert_eq!(v4, "", "IPv4 on an IPv6-only network");
    let ping = netns_exec(
        &own.0,
        &["ping", "-6", "-n", "-c", "1", "-W", "2", "fd00:e6:77::2"],
    );
    assert!(
        ping.status.success(),
        "ping6 the peer: {}",
        ping.stdout_str()
    );

    let check_conf = with_prev_result(&conf, &result);
    cni("CHECK", &vars, &check_conf).assert_silent_success();
    // CHECK sees the IPv6 address go.
    netns_exec_ok(
        &own.0,
        &["ip", "-6", "addr", "del", "fd00:e6:77::3/64", "dev", "net1"],
    );
    let error = cni("CHECK", &vars, &check_conf).assert_error(100);
    assert!(
        error.to_string().contains("does not have fd00:e6:77::3"),
        "{error}"
    );

    cni("DEL", &vars, &conf).assert_silent_success();
    assert!(!netns_link_exists(&own.0, "net1"), "DEL left net1");
}

#[test]
fn port_mappings_publish_on_ipv6_too() {
    use ebpfnet_tests::ipv6_publish::*;
    use ebpfnet_tests::traffic::{map_entries, wait_for};

    const UP6: &str = "fd00:e6:ff::1";
    const OUTSIDE6: &str = "fd00:e6:ff::2";
    let env = TestEnv::new("cni-v6pub");
    env.create_network("cni6p", &["--ipv6", "--subnet", "fd00:e6:78::/64"]);
    let _uplink6 = Uplink6::with(&env, &[UP6], OUTSIDE6);
    let own = OwnNetns::new(&format!("ebnt-cni6p-{}", std::process::id()));
    let id = format!("cni-v6p-{}", std::process::id());
    let vars = CniVars::attachment(&id, &own.0, "eth0");
    // No hostIP: both families, as the portmap plugin; `::`: IPv6 only.
    let ports = json!({"portMappings": [
        {"hostPort": 8086, "containerPort": 80, "protocol": "tcp"},
        {"hostPort": 8087, "containerPort": 80, "protocol": "tcp", "hostIP": "::"},
    ]});
    let conf = netconf(&env, "cni6p-conf", "cni6p", ports);
    cni("ADD", &vars, &conf).result();
    let _server = echo_server6(&own.0, "pod", 80);
    let out = env.outside_ns.clone();
    assert!(
        wait_for(std::time::Duration::from_secs(10), || ask(
            &out, "tcp", UP6, 8086
        )
        .is_ok()),
        "[UP6]:8086 never answered"
    );
    for port in [8086, 8087] {
        let reply = ask(&out, "tcp", UP6, port).unwrap_or_else(|e| panic!("[UP6]:{port}: {e}"));
        assert_eq!(peer_address(&reply), OUTSIDE6, "{reply}");
    }
    ask(&out, "tcp", &env.uplink_ip, 8086).expect("IPv4 on 8086");
    let v4 = ask(&out, "tcp", &env.uplink_ip, 8087);
    assert!(v4.is_err(), "8087 is IPv6 only, yet IPv4 answered: {v4:?}");
    assert_eq!(map_entries(&env, "PUBLISHED6"), 2);

    cni("DEL", &vars, &conf).assert_silent_success();
    assert_eq!(map_entries(&env, "PUBLISHED6"), 0);
    let gone = ask(&out, "tcp", UP6, 8086);
    assert!(gone.is_err(), "[UP6]:8086 answers after DEL: {gone:?}");
}
