//! ipvlan networks (`network create -d ipvlan -o parent=IFACE
//! [-o ipvlan_mode=l2|l3]`) on a test-made LAN segment: l2 containers are
//! hosts of the parent's LAN with its MAC; l3 containers are routed by the
//! host (the LAN routes their subnet to the parent's address). No NAT, no
//! published ports, nothing left after `rm`.
//!
//! A kernel without ipvlan (no CONFIG_IPVLAN, as some VM kernels) refuses
//! the LAN's own ipvlan link; there ebpfnet must refuse the network with
//! a clear error and make nothing, and that is what these tests check.

use ebpfnet_tests::lan::{LanSegment, assert_unlisted, create_args, link_kind, routes};
use ebpfnet_tests::*;
use serde_json::Value;

const LAN: &str = "192.0.2";
/// ipvlan l3: the LAN (host `.1` on the parent, the LAN host `.2`) and the
/// containers' subnet, routed to the host by the LAN.
const L3_LAN: &str = "198.18.90";
const L3_SUBNET: &str = "10.77.0.0/24";

/// Whether the kernel makes ipvlan links: tried on the LAN's side.
fn kernel_has_ipvlan(lan: &LanSegment) -> bool {
    let out = netns_exec(
        &lan.ns,
        &[
            "ip", "link", "add", "link", "eth0", "name", "ipvprobe", "type", "ipvlan",
        ],
    );
    if out.status.success() {
        lan.ip(&["link", "del", "ipvprobe"]);
        return true;
    }
    assert!(
        out.stderr_str().contains("Unknown device type"),
        "ipvlan probe: {}",
        out.stderr_str()
    );
    false
}

/// On a kernel without ipvlan: a clear refusal, and nothing made.
fn check_refused(env: &TestEnv, create: &[&str]) {
    let (links, namespaces) = (host_links(), netns_list());
    env.fails_with(create, &["this kernel cannot make ipvlan interfaces"]);
    assert_eq!(host_links(), links, "a refused create made a link");
    assert_eq!(
        netns_list(),
        namespaces,
        "a refused create left a namespace"
    );
    assert_unlisted(env, create[2]);
}

#[test]
fn ipvlan_l2_containers_are_hosts_of_the_lan_with_the_parents_mac() {
    let env = TestEnv::new("ivl2");
    let lan = LanSegment::new(&format!("{LAN}.1/24"), None);
    let opt = format!("parent={}", lan.parent);
    let subnet = format!("{LAN}.0/24");
    let create = create_args("ivnet", "ipvlan", &["-o", &opt, "--subnet", &subnet]);
    if !kernel_has_ipvlan(&lan) {
        return check_refused(&env, &create);
    }
    env.ok(&create);
    let n = env.inspect_network("ivnet");
    assert_eq!(n["Driver"], "ipvlan", "{n:#}");
    assert_eq!(n["Options"]["ipvlan_mode"], "l2", "{n:#}");
    assert_eq!(n["Options"]["parent"], lan.parent.as_str(), "{n:#}");

    env.create_container("ivA", &["--network", "ivnet"]);
    env.create_container("ivB", &["--network", "ivnet"]);
    let (a, b) = (env.ip_of("ivA", "ivnet"), env.ip_of("ivB", "ivnet"));
    let parent_mac = {
        let text = ip_ok(&["-j", "link", "show", "dev", &lan.parent]);
        let v: Value = serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"));
        v[0]["address"].as_str().unwrap_or_default().to_string()
    };
    for (name, ip) in [("ivA", &a), ("ivB", &b)] {
        assert_eq!(link_kind(Some(name), "eth0"), "ipvlan");
        assert_eq!(ipv4_addrs(Some(name), "eth0"), vec![format!("{ip}/24")]);
        assert_eq!(
            netns_mac(name, "eth0"),
            parent_mac,
            "{name}: the parent's MAC"
        );
        assert_eq!(
            netns_default_route(name),
            Some((format!("{LAN}.1"), "eth0".into())),
            "{}",
            routes(name)
        );
        assert_eq!(env.endpoint(name, "ivnet")["MacAddress"], "");
    }
    let router = format!("{LAN}.1");
    assert!(ping("ivA", &router), "ivA -> LAN");
    assert!(ping(&lan.ns, &b), "LAN -> ivB");
    assert!(ping("ivA", &b), "ivA -> ivB");
    let _outside = tcp_server(&lan.ns, "0.0.0.0", 7010);
    let _srv = tcp_server("ivB", "0.0.0.0", 7011);
    let reply = tcp_request("ivA", &router, 7010);
    assert!(reply.contains(&format!("peer={a} ")), "no NAT: {reply:?}");
    let reply = tcp_request(&lan.ns, &b, 7011);
    assert!(reply.contains(&format!("peer={router} ")), "{reply:?}");

    env.fails_with(
        &[
            "container",
            "create",
            "ivP",
            "--network",
            "ivnet",
            "-p",
            "80",
        ],
        &["ipvlan", "publish"],
    );
    env.ok(&["container", "rm", "ivA", "ivB"]);
    assert!(!ping(&lan.ns, &b), "{b} answers after rm");
    env.ok(&["network", "rm", "ivnet"]);
    assert!(link_exists(&lan.parent), "the user's parent must stay");
}

#[test]
fn ipvlan_l3_containers_are_routed_by_the_host() {
    let env = TestEnv::new("ivl3");
    let host_cidr = format!("{L3_LAN}.1/24");
    let lan = LanSegment::new(&format!("{L3_LAN}.2/24"), Some(&host_cidr));
    let opt = format!("parent={}", lan.parent);
    let l3 = ["-o", &opt, "-o", "ipvlan_mode=l3", "--subnet", L3_SUBNET];
    let create = create_args("ivl3", "ipvlan", &l3);
    if !kernel_has_ipvlan(&lan) {
        return check_refused(&env, &create);
    }
    lan.ip(&["route", "add", L3_SUBNET, "via", &format!("{L3_LAN}.1")]);
    env.ok(&create);
    assert_eq!(env.inspect_network("ivl3")["Options"]["ipvlan_mode"], "l3");
    env.create_container("ivC", &["--network", "ivl3"]);
    env.create_container("ivD", &["--network", "ivl3"]);
    let (c, d) = (env.ip_of("ivC", "ivl3"), env.ip_of("ivD", "ivl3"));
    let table = routes("ivC");
    assert!(
        table
            .lines()
            .any(|l| l.trim() == "default dev eth0 scope link"),
        "l3: a device default route: {table}"
    );
    let lan_host = format!("{L3_LAN}.2");
    assert!(ping("ivC", &lan_host), "ivC -> LAN host");
    assert!(ping("ivC", &d), "ivC -> ivD");
    let _outside = tcp_server(&lan.ns, "0.0.0.0", 7012);
    let _srv = tcp_server("ivD", "0.0.0.0", 7013);
    let reply = tcp_request("ivC", &lan_host, 7012);
    assert!(reply.contains(&format!("peer={c} ")), "no NAT: {reply:?}");
    let reply = tcp_request(&lan.ns, &d, 7013);
    assert!(reply.contains(&format!("peer={lan_host} ")), "{reply:?}");
    env.ok(&["container", "rm", "ivC", "ivD"]);
    env.ok(&["network", "rm", "ivl3"]);
}

#[test]
fn ipvlan_options_are_checked_before_anything_is_made() {
    let env = TestEnv::new("ivbad");
    let lan = LanSegment::new(&format!("{LAN}.1/24"), None);
    let opt = format!("parent={}", lan.parent);
    let links = host_links();
    let refused = |opts: &[&str], needles: &[&str]| {
        env.fails_with(&create_args("ivx", "ipvlan", opts), needles);
    };
    refused(
        &["-o", &opt, "-o", "ipvlan_mode=l4"],
        &["ipvlan_mode", "l2, l3, l3s"],
    );
    refused(
        &["-o", &opt, "-o", "macvlan_mode=bridge"],
        &["macvlan_mode"],
    );
    refused(
        &["-o", "parent=nosuch1"],
        &["parent interface nosuch1 not found"],
    );
    assert_eq!(host_links(), links, "a refused create made a link");
}
