//! The CNI plugin driven as a runtime drives it, against a real daemon and
//! namespaces the tests make (`ip netns add`): ADD gives the namespace the
//! interface, address, route and traffic its result lists; CHECK follows
//! it; DEL removes everything, also twice and after the namespace is gone.

mod resolve;

use ebpfnet_tests::cni::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;
use resolve::*;
use serde_json::{Value, json};

const SUBNET: &str = "10.231.70.0/24";
const GATEWAY: &str = "10.231.70.1";

/// The published port and the address, MAC and interface name the runtime
/// asks for.
fn runtime_config() -> Value {
    json!({
        "portMappings": [{"hostPort": 8080, "containerPort": 80, "protocol": "tcp", "hostIP": ""}],
        "ips": ["10.231.70.50/24"],
        "mac": "02:00:00:c0:ff:ee",
    })
}

#[test]
fn add_attaches_the_namespace_traffic_flows_and_del_removes_it() {
    let env = TestEnv::new("cni-add");
    env.create_network("cninet", &["--subnet", SUBNET]);
    env.create_container("cweb", &["--network", "cninet"]);
    let own = OwnNetns::new(&format!("ebnt-cni-{}", std::process::id()));
    let id = format!("cni-add-{}", std::process::id());
    let vars = CniVars::attachment(&id, &own.0, "net1");
    let conf = netconf(&env, "cninet-conf", "cninet", runtime_config());

    let result = cni("ADD", &vars, &conf).result();
    // The result: both ends of the veth, the address on the sandbox one,
    // the default route and the network's name server.
    assert_eq!(result["cniVersion"], "1.1.0", "{result:#}");
    let sandbox = &result["interfaces"][1];
    assert_eq!(sandbox["name"], "net1", "{result:#}");
    assert_eq!(sandbox["mac"], "02:00:00:c0:ff:ee", "{result:#}");
    assert_eq!(
        sandbox["sandbox"],
        format!("/run/netns/{}", own.0),
        "{result:#}"
    );
    let host_veth = result["interfaces"][0]["name"].as_str().unwrap_or_default();
    assert!(
        link_exists(host_veth),
        "host veth {host_veth:?}: {result:#}"
    );
    assert_eq!(
        result["ips"],
        json!([{"address": "10.231.70.50/24", "gateway": GATEWAY, "interface": 1}]),
        "{result:#}"
    );
    assert_eq!(
        result["routes"],
        json!([{"dst": "0.0.0.0/0", "gw": GATEWAY}]),
        "{result:#}"
    );
    assert_eq!(result["dns"]["nameservers"], json!([GATEWAY]), "{result:#}");

    // The namespace has exactly that.
    assert_eq!(
        ipv4_addrs(Some(&own.0), "net1"),
        vec!["10.231.70.50/24".to_string()]
    );
    assert_eq!(netns_mac(&own.0, "net1"), "02:00:00:c0:ff:ee");
    assert_eq!(
        netns_default_route(&own.0),
        Some((GATEWAY.to_string(), "net1".to_string()))
    );
    assert!(!netns_link_exists(&own.0, "eth0"), "an eth0 was made too");

    // The published port answers the outside, which keeps its address.
    let server = echo_server(&own.0, "cnibox", 80);
    let reply = request(&env.outside_ns, &env.uplink_ip, 8080, "tcp")
        .unwrap_or_else(|e| panic!("published port 8080: {e}"));
    assert!(reply.starts_with("cnibox peer="), "{reply:?}");
    assert_eq!(
        peer_of(&reply).map(|(ip, _)| ip),
        Some(env.outside_ip.clone()),
        "the client address was not kept: {reply:?}"
    );
    drop(server);

    // The network's name server resolves an ebpfnet container by name,
    // and the namespace reaches it.
    let cweb = env.ip_of("cweb", "cninet");
    assert_eq!(
        dns_query(&own.0, GATEWAY, "cweb", "udp"),
        Some(format!("answer 0 {cweb}"))
    );
    let _cweb_server = tcp_server("cweb", "0.0.0.0", 9000);
    let answer = tcp_request(&own.0, &cweb, 9000);
    assert!(answer.starts_with("hello from cweb"), "{answer:?}");

    // CHECK passes while it all holds.
    let check_conf = with_prev_result(&conf, &result);
    cni("CHECK", &vars, &check_conf).assert_silent_success();

    // DEL removes the container, its veth and its published port.
    cni("DEL", &vars, &conf).assert_silent_success();
    assert!(!container_names(&env).contains(&id), "container {id} left");
    assert!(!link_exists(host_veth), "host veth {host_veth} left");
    assert!(
        !netns_link_exists(&own.0, "net1"),
        "net1 left in the namespace"
    );
    assert!(
        container_names(&env).contains(&"cweb".to_string()),
        "DEL took cweb"
    );
    assert!(
        request(&env.outside_ns, &env.uplink_ip, 8080, "tcp").is_err(),
        "port 8080 still answers after DEL"
    );
    // Again: nothing to do, still a success.
    cni("DEL", &vars, &conf).assert_silent_success();
    assert!(netns_exists(&own.0), "DEL removed the runtime's namespace");
}

#[test]
fn check_fails_once_the_interface_is_deleted_by_hand() {
    let env = TestEnv::new("cni-check");
    env.create_network("cninet", &["--subnet", SUBNET]);
    let own = OwnNetns::new(&format!("ebnt-cnichk-{}", std::process::id()));
    let id = format!("cni-check-{}", std::process::id());
    let vars = CniVars::attachment(&id, &own.0, "eth0");
    let conf = netconf(&env, "cninet-conf", "cninet", json!({}));
    let result = cni("ADD", &vars, &conf).result();
    let check_conf = with_prev_result(&conf, &result);
    cni("CHECK", &vars, &check_conf).assert_silent_success();

    // CHECK without prevResult is a configuration error.
    cni("CHECK", &vars, &conf).assert_error(4);

    netns_exec_ok(&own.0, &["ip", "link", "del", "eth0"]);
    let error = cni("CHECK", &vars, &check_conf).assert_error(100);
    assert!(
        error["details"]
            .as_str()
            .unwrap_or_default()
            .contains("eth0"),
        "{error:#}"
    );
    cni("DEL", &vars, &conf).assert_silent_success();
    assert!(!container_names(&env).contains(&id), "container {id} left");
}

#[test]
fn del_succeeds_after_the_namespace_is_gone() {
    let env = TestEnv::new("cni-gone");
    env.create_network("cninet", &["--subnet", SUBNET]);
    let own = OwnNetns::new(&format!("ebnt-cnigone-{}", std::process::id()));
    let id = format!("cni-gone-{}", std::process::id());
    let vars = CniVars::attachment(&id, &own.0, "eth0");
    let conf = netconf(
        &env,
        "cninet-conf",
        "cninet",
        json!({"portMappings": [{"hostPort": 8081, "containerPort": 80, "protocol": "udp"}]}),
    );
    let result = cni("ADD", &vars, &conf).result();
    let host_veth = result["interfaces"][0]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(port_lines(&env, &id).contains(&"80/udp -> 0.0.0.0:8081".to_string()));

    delete_netns(&own.0);
    cni("DEL", &vars, &conf).assert_silent_success();
    assert!(!container_names(&env).contains(&id), "container {id} left");
    assert!(!link_exists(&host_veth), "host veth {host_veth} left");
    // The port is free again: another attachment may publish it.
    let again = OwnNetns::new(&own.0);
    let vars2 = CniVars::attachment(&format!("{id}-2"), &again.0, "eth0");
    cni("ADD", &vars2, &conf).result();
    // A runtime may send DEL without CNI_NETNS (the namespace is gone).
    let no_netns = CniVars {
        netns: None,
        ..vars2.clone()
    };
    cni("DEL", &no_netns, &conf).assert_silent_success();
    assert!(
        !container_names(&env).contains(&format!("{id}-2")),
        "DEL without CNI_NETNS"
    );
    // A DEL for an attachment the daemon never had also succeeds.
    cni("DEL", &vars, &conf).assert_silent_success();
}
