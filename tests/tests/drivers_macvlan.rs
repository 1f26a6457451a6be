//! macvlan networks (`network create -d macvlan -o parent=IFACE`): the
//! containers are hosts of the parent's LAN, a test-made veth whose other
//! end is in an "outside" namespace on the same segment. Addresses from
//! ebpfnet's IPAM, no NAT (both ends see each other's own addresses), no
//! published ports, VLAN and dummy parents made and removed with the
//! network, nothing left after `rm`.

use ebpfnet_tests::lan::{
    LanSegment, assert_unlisted, create_args, link_kind, network_row, routes,
};
use ebpfnet_tests::*;
use serde_json::Value;

/// TEST-NET-1: the outside namespace is the LAN's router, `.1`.
const LAN: &str = "192.0.2";

#[test]
fn macvlan_containers_are_hosts_of_the_parents_lan() {
    let mut env = TestEnv::new("mvlan");
    let lan = LanSegment::new(&format!("{LAN}.1/24"), None);
    let parent = lan.parent.as_str();
    let id = env.create_network(
        "mvnet",
        &[
            "-d",
            "macvlan",
            "-o",
            &format!("parent={parent}"),
            "--subnet",
            &format!("{LAN}.0/24"),
            "--gateway",
            &format!("{LAN}.1"),
        ],
    );

    let n = env.inspect_network("mvnet");
    assert_eq!(n["Id"], id.as_str(), "{n:#}");
    assert_eq!(n["Driver"], "macvlan", "{n:#}");
    assert_eq!(n["Scope"], "local", "{n:#}");
    assert_eq!(n["Options"]["parent"], parent, "{n:#}");
    assert_eq!(n["Options"]["macvlan_mode"], "bridge", "{n:#}");
    assert_eq!(
        n["IPAM"]["Config"][0]["Subnet"],
        format!("{LAN}.0/24").as_str()
    );
    let ls = env.json(&["network", "ls"]);
    let row = network_row(&ls, "mvnet").unwrap_or_else(|| panic!("mvnet not listed: {ls:#}"));
    assert_eq!(row["Driver"], "macvlan", "{row:#}");
    let table = env.ok(&["network", "ls"]);
    assert!(
        table.lines().any(|l| {
            let cols: Vec<&str> = l.split_whitespace().collect();
            cols.get(1..3) == Some(&["mvnet", "macvlan"][..])
        }),
        "{table}"
    );

    let links_before = host_links();
    env.create_container("mvA", &["--network", "mvnet"]);
    env.create_container("mvB", &["--network", "mvnet"]);
    let (a, b) = (env.ip_of("mvA", "mvnet"), env.ip_of("mvB", "mvnet"));
    assert_eq!(
        (a.as_str(), b.as_str()),
        (&*format!("{LAN}.2"), &*format!("{LAN}.3"))
    );
    for (name, ip) in [("mvA", &a), ("mvB", &b)] {
        assert_eq!(link_kind(Some(name), "eth0"), "macvlan", "{name}'s eth0");
        assert_eq!(ipv4_addrs(Some(name), "eth0"), vec![format!("{ip}/24")]);
        assert_eq!(netns_mac(name, "eth0"), mac_for_ip(ip), "{name}'s MAC");
        assert_eq!(
            netns_default_route(name),
            Some((format!("{LAN}.1"), "eth0".into())),
            "{name}: {}",
            routes(name)
        );
        let ep = env.endpoint(name, "mvnet");
        assert_eq!(ep["HostInterface"], Value::Null, "no host side: {ep:#}");
        assert_eq!(ep["InterfaceName"], "eth0", "{ep:#}");
    }
    assert_eq!(
        host_links(),
        links_before,
        "a macvlan endpoint has no host side"
    );

    check_traffic(&env, &lan, &a, &b);

    // A restart brings the containers back as they were (no second device).
    env.stop_daemon();
    env.start_daemon();
    assert_eq!(ipv4_addrs(Some("mvA"), "eth0"), vec![format!("{a}/24")]);
    assert!(ping("mvA", &format!("{LAN}.1")), "mvA -> LAN after restart");
    assert!(ping(&lan.ns, &b), "LAN -> mvB after restart");

    // A second container on a bridge network too: disconnecting it from
    // the LAN removes its macvlan device and leaves its veth.
    env.create_network("mvbr", &["--subnet", "10.236.0.0/24"]);
    env.ok(&["network", "connect", "mvbr", "mvB"]);
    env.ok(&["network", "disconnect", "mvnet", "mvB"]);
    assert!(!netns_link_exists("mvB", "eth0"), "eth0 left in mvB");
    assert!(netns_link_exists("mvB", "eth1"), "mvB lost its bridge veth");
    assert!(!ping(&lan.ns, &b), "{b} still answers after disconnect");

    env.fails_with(&["network", "rm", "mvnet"], &["mvA"]);
    env.ok(&["container", "rm", "mvA", "mvB"]);
    assert!(!netns_exists("mvA") && !netns_exists("mvB"));
    assert!(!ping(&lan.ns, &a), "{a} still answers after rm");
    env.ok(&["network", "rm", "mvnet", "mvbr"]);
    assert!(link_exists(parent), "the user's parent must stay");
    assert_unlisted(&env, "mvnet");
}

/// Outside ⇄ containers and container ⇄ container: ping and TCP, each
/// side seeing the other's own address.
fn check_traffic(env: &TestEnv, lan: &LanSegment, a: &str, b: &str) {
    let router = format!("{LAN}.1");
    assert!(ping("mvA", &router), "mvA -> LAN router");
    assert!(ping(&lan.ns, a), "LAN -> mvA");
    assert!(ping("mvA", b), "mvA -> mvB");
    let _outside = tcp_server(&lan.ns, "0.0.0.0", 7000);
    let _srv_b = tcp_server("mvB", "0.0.0.0", 7001);
    let reply = tcp_request("mvA", &router, 7000);
    assert!(
        reply.contains(&format!("peer={a} ")),
        "the LAN sees mvA's own address (no NAT): {reply:?}"
    );
    let reply = tcp_request(&lan.ns, b, 7001);
    assert!(
        reply.contains(&format!("peer={router} ")),
        "mvB sees the LAN host's address: {reply:?}\n{}",
        env.daemon_log()
    );
    let reply = tcp_request("mvA", b, 7001);
    assert!(
        reply.contains(&format!("peer={a} ")),
        "mvA -> mvB: {reply:?}"
    );
}

#[test]
fn macvlan_refuses_what_docker_refuses_and_leaves_nothing() {
    let env = TestEnv::new("mvbad");
    let lan = LanSegment::new(&format!("{LAN}.1/24"), None);
    let parent = lan.parent.as_str();
    let opt = format!("parent={parent}");
    let links_before = host_links();
    let refused = |opts: &[&str], needles: &[&str]| {
        env.fails_with(&create_args("mvx", "macvlan", opts), needles);
    };

    refused(
        &["-o", "parent=nosuch0"],
        &["parent interface nosuch0 not found"],
    );
    // The kernel's own refusal (a loopback parent), asked at create time
    // in a throwaway namespace: nothing made, no probe namespace left.
    let namespaces = netns_list();
    refused(
        &["-o", "parent=lo"],
        &["cannot make a macvlan interface on lo"],
    );
    assert_eq!(netns_list(), namespaces, "the probe namespace was left");
    refused(&["-o", "parent=nosuch0.7"], &["nosuch0.7", "nosuch0"]);
    refused(
        &["-o", &opt, "-o", "macvlan_mode=l3"],
        &["macvlan_mode", "bridge, private, vepa, passthru"],
    );
    refused(&["-o", &opt, "-o", "mtu=9000"], &["mtu"]);
    env.fails_with(&["network", "create", "mvx", "-d", "weave"], &["weave"]);
    assert_unlisted(&env, "mvx");
    assert_eq!(host_links(), links_before, "a refused create made a link");

    let subnet = format!("{LAN}.0/24");
    env.create_network("mvok", &["-d", "macvlan", "-o", &opt, "--subnet", &subnet]);
    let second = ["-o", &opt, "--subnet", "192.0.3.0/24"];
    env.fails_with(
        &create_args("mvtwo", "macvlan", &second),
        &["already using parent interface", parent],
    );
    // Published ports: the container's own address is on the LAN.
    env.fails_with(
        &[
            "container",
            "create",
            "mvp",
            "--network",
            "mvok",
            "-p",
            "8080:80",
        ],
        &["mvok", "macvlan", "publish"],
    );
    assert!(!netns_exists("mvp"), "a refused create left its namespace");
    env.create_container("mvq", &["--network", "mvok"]);
    env.fails_with(&["publish", "8081:80", "--container", "mvq"], &["macvlan"]);
    env.ok(&["container", "rm", "mvq"]);
    env.ok(&["network", "rm", "mvok"]);
    assert_eq!(host_links(), links_before, "rm left a link");
}

#[test]
fn a_vlan_parent_is_made_and_removed_with_the_network() {
    let env = TestEnv::new("mvvlan");
    let lan = LanSegment::new(&format!("{LAN}.1/24"), None);
    let vlan = format!("{}.10", lan.parent);
    let opt = format!("parent={vlan}");
    let create = create_args("mvv", "macvlan", &["-o", &opt, "--subnet", "192.0.3.0/24"]);
    // The LAN's end of VLAN 10; a kernel without 802.1Q support (no
    // CONFIG_VLAN_8021Q) refuses it, and must refuse ebpfnet's too.
    let tagged = netns_exec(
        &lan.ns,
        &[
            "ip", "link", "add", "link", "eth0", "name", "eth0.10", "type", "vlan", "id", "10",
        ],
    );
    if !tagged.status.success() {
        assert!(
            tagged.stderr_str().contains("Unknown device type"),
            "{}",
            tagged.stderr_str()
        );
        let links_before = host_links();
        env.fails_with(&create, &["no VLAN support", &vlan]);
        assert_eq!(host_links(), links_before, "a refused create made a link");
        assert_unlisted(&env, "mvv");
        return;
    }
    lan.ip(&["addr", "add", "192.0.3.1/24", "dev", "eth0.10"]);
    lan.ip(&["link", "set", "eth0.10", "up"]);
    env.ok(&create);
    assert_eq!(link_kind(None, &vlan), "vlan", "{vlan} made by the create");
    env.create_container("mvV", &["--network", "mvv"]);
    let ip = env.ip_of("mvV", "mvv");
    assert!(
        ping("mvV", "192.0.3.1"),
        "tagged traffic to the VLAN's router"
    );
    let reply = {
        let _srv = tcp_server(&lan.ns, "192.0.3.1", 7002);
        tcp_request("mvV", "192.0.3.1", 7002)
    };
    assert!(reply.contains(&format!("peer={ip} ")), "{reply:?}");
    env.ok(&["container", "rm", "mvV"]);
    env.ok(&["network", "rm", "mvv"]);
    assert!(
        !link_exists(&vlan),
        "{vlan} made by ebpfnet outlived its network"
    );
    assert!(link_exists(&lan.parent));
}

#[test]
fn an_internal_network_gets_a_closed_parent_of_its_own() {
    let mut env = TestEnv::new("mvint");
    let lan = LanSegment::new(&format!("{LAN}.1/24"), None);
    // --internal ignores the parent, as Docker: a dummy one (a veth pair
    // on kernels without dummy links), containers reach each other only,
    // and no default route.
    let opt = format!("parent={}", lan.parent);
    let id = env.create_network(
        "mvi",
        &[
            "-d",
            "macvlan",
            "-o",
            &opt,
            "--internal",
            "--subnet",
            "192.0.4.0/24",
        ],
    );
    let dummy = format!("dm-{}", &id[..12]);
    assert!(
        ["dummy", "veth"].contains(&link_kind(None, &dummy).as_str()),
        "{dummy}: {}",
        link_kind(None, &dummy)
    );
    let n = env.inspect_network("mvi");
    assert_eq!(n["Internal"], true, "{n:#}");
    assert_eq!(n["Options"]["parent"], dummy.as_str(), "{n:#}");
    env.create_container("mvI1", &["--network", "mvi"]);
    env.create_container("mvI2", &["--network", "mvi"]);
    let other = env.ip_of("mvI2", "mvi");
    assert!(ping("mvI1", &other), "containers of an internal network");
    // The parent ebpfnet made is gone at a restart (a reboot): made
    // again, and the containers' interfaces with it.
    env.stop_daemon();
    delete_link(&dummy);
    assert!(
        !netns_link_exists("mvI1", "eth0"),
        "eth0 outlived its parent"
    );
    env.start_daemon();
    assert!(link_exists(&dummy), "{dummy} not made again");
    assert!(ping("mvI1", &other), "after the parent came back");
    let reply = {
        let _srv = tcp_server("mvI2", "0.0.0.0", 7003);
        tcp_request("mvI1", &other, 7003)
    };
    assert!(reply.contains("hello from mvI2"), "{reply:?}");
    assert_eq!(netns_default_route("mvI1"), None, "{}", routes("mvI1"));
    // A LAN host in the network's subnet: the given parent is not used.
    lan.ip(&["addr", "add", "192.0.4.1/24", "dev", "eth0"]);
    assert!(
        !ping(&lan.ns, &other),
        "the parent's LAN reaches an internal network"
    );
    env.ok(&["container", "rm", "mvI1", "mvI2"]);
    env.ok(&["network", "rm", "mvi"]);
    assert!(!link_exists(&dummy), "{dummy} outlived its network");
    assert!(!link_exists(&format!("dp-{}", &id[..12])), "its peer too");
}
