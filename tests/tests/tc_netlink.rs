//! The older kernels' attach path (`--tc-attach netlink`: cls_bpf filters in
//! a clsact qdisc, for Linux 5.15–6.5), forced on this kernel: the filters
//! are there once per hook, a restart replaces them in place (no second
//! filter, traffic meanwhile), switching to TCX and back moves them, and
//! cleanup removes ebpfnet's filters and the qdisc only when ebpfnet added
//! it and no one else's filter is in it. The rest of the suite runs on this
//! path with `EBPFNET_TEST_TC_ATTACH=netlink`.

use std::process::Command;
use std::time::Duration;

use ebpfnet_tests::*;
use serde_json::Value;

fn tc_json(args: &[&str]) -> Value {
    let out = Command::new("tc")
        .arg("-j")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("tc {args:?}: {e}"));
    assert!(out.status.success(), "{}", cli::describe("tc", &out));
    let text = String::from_utf8_lossy(&out.stdout);
    if text.trim().is_empty() {
        return Value::Array(Vec::new());
    }
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("tc {args:?}: {e}: {text}"))
}

fn tc_ok(args: &[&str]) {
    let out = Command::new("tc")
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("tc {args:?}: {e}"));
    assert!(out.status.success(), "{}", cli::describe("tc", &out));
}

/// The filters (not the per-priority headers) on `dev`'s `hook`.
fn filters(dev: &str, hook: &str) -> Vec<Value> {
    let list = tc_json(&["-s", "filter", "show", "dev", dev, hook]);
    list.as_array()
        .into_iter()
        .flatten()
        .filter(|f| f.get("options").is_some())
        .cloned()
        .collect()
}

/// (priority, program name, program id) of each of ebpfnet's filters (bpf,
/// named after their program) on the hook.
fn bpf_filters(dev: &str, hook: &str) -> Vec<(u64, String, u64)> {
    filters(dev, hook)
        .iter()
        .filter(|f| f["kind"] == "bpf" && f["options"]["bpf_name"].is_string())
        .map(|f| {
            let options = &f["options"];
            (
                f["pref"].as_u64().unwrap_or_default(),
                options["bpf_name"].as_str().unwrap_or_default().to_string(),
                options["prog"]["id"].as_u64().unwrap_or_default(),
            )
        })
        .collect()
}

/// The one ebpfnet filter on the hook, running `program` at priority 1.
#[track_caller]
fn one_filter(dev: &str, hook: &str, program: &str) -> u64 {
    let found = bpf_filters(dev, hook);
    match found.as_slice() {
        [(1, name, id)] if name == program => *id,
        _ => panic!("{dev} {hook}: expected one {program} filter at priority 1, found {found:?}"),
    }
}

/// A user's filter (classic BPF, direct action): drops IPv4 ICMP, hands
/// everything else on.
const DROP_ICMP: &str = "4,48 0 0 23,21 0 1 1,6 0 0 2,6 0 0 4294967295,";

fn add_user_filter(dev: &str, pref: &str) {
    tc_ok(&[
        "filter", "add", "dev", dev, "ingress", "pref", pref, "protocol", "ip", "bpf", "bytecode",
        DROP_ICMP, "da",
    ]);
}

fn user_filter_present(dev: &str, pref: u64) -> bool {
    filters(dev, "ingress")
        .iter()
        .any(|f| f["pref"] == pref && f["options"]["bytecode"].is_object())
}

fn has_clsact(dev: &str) -> bool {
    let list = tc_json(&["qdisc", "show", "dev", dev]);
    list.as_array()
        .into_iter()
        .flatten()
        .any(|q| q["kind"] == "clsact")
}

fn use_attach(env: &mut TestEnv, how: &str) {
    env.daemon_args = vec!["--tc-attach".into(), how.into()];
}

/// `system reset`, and the daemon's exit after it.
fn reset(env: &mut TestEnv) {
    let out = env.reset().expect("system reset runs");
    assert!(out.status.success(), "{}", cli::describe("reset", &out));
    assert!(env.wait_daemon_exit(Duration::from_secs(10)).is_some());
}

fn published_port_answers(env: &TestEnv, container: &str, port: u16) {
    let reply = tcp_request(&env.outside_ns, &env.uplink_ip, port);
    assert!(
        reply.contains(&format!("hello from {container}")),
        "outside -> {}:{port}: {reply:?}",
        env.uplink_ip
    );
}

#[test]
fn filters_are_replaced_on_restart_moved_by_a_switch_and_removed_with_their_qdisc() {
    let mut env = TestEnv::without_daemon("tcnl");
    use_attach(&mut env, "netlink");
    env.start_daemon();
    let status = env.ok(&["status"]);
    assert!(
        status.contains("netlink filters in clsact qdiscs"),
        "{status}"
    );
    assert!(
        env.daemon_log().contains("attach through netlink filters"),
        "the start says which path: {}",
        env.daemon_log()
    );
    env.create_container("tnl1", &["-p", "8080:80"]);
    let _server = tcp_server("tnl1", "0.0.0.0", 80);
    let veth = env.host_veth_of("tnl1", "bridge");
    published_port_answers(&env, "tnl1", 8080);
    let uplink_prog = one_filter(&env.uplink, "ingress", "uplink_ingress");
    one_filter(&veth, "ingress", "container_ingress");
    one_filter(&veth, "egress", "container_egress");
    assert!(has_clsact(&env.uplink));

    // The filters outlive the daemon; a new one replaces them in place.
    assert!(env.stop_daemon().success());
    assert_eq!(
        one_filter(&env.uplink, "ingress", "uplink_ingress"),
        uplink_prog
    );
    published_port_answers(&env, "tnl1", 8080);
    env.start_daemon();
    let replaced = one_filter(&env.uplink, "ingress", "uplink_ingress");
    assert_ne!(replaced, uplink_prog, "the new daemon's program runs");
    one_filter(&veth, "ingress", "container_ingress");
    one_filter(&veth, "egress", "container_egress");
    published_port_answers(&env, "tnl1", 8080);

    // To TCX: the filters go, and the qdisc ebpfnet added with them.
    assert!(env.stop_daemon().success());
    use_attach(&mut env, "tcx");
    env.start_daemon();
    assert!(env.ok(&["status"]).contains("TCX links"));
    for (dev, hook) in [
        (&env.uplink, "ingress"),
        (&veth, "ingress"),
        (&veth, "egress"),
    ] {
        assert_eq!(bpf_filters(dev, hook), [], "{dev} {hook} after the switch");
    }
    assert!(!has_clsact(&env.uplink), "the qdisc ebpfnet added stayed");
    published_port_answers(&env, "tnl1", 8080);

    // And back; `system reset` removes filters and qdisc.
    assert!(env.stop_daemon().success());
    use_attach(&mut env, "netlink");
    env.start_daemon();
    one_filter(&env.uplink, "ingress", "uplink_ingress");
    one_filter(&veth, "ingress", "container_ingress");
    published_port_answers(&env, "tnl1", 8080);
    reset(&mut env);
    assert_eq!(bpf_filters(&env.uplink, "ingress"), []);
    assert!(!has_clsact(&env.uplink), "reset left the clsact qdisc");
}

#[test]
fn a_users_qdisc_and_filter_stay_and_still_act() {
    let mut env = TestEnv::without_daemon("tcnu");
    tc_ok(&["qdisc", "add", "dev", &env.uplink, "clsact"]);
    add_user_filter(&env.uplink, "100");
    use_attach(&mut env, "netlink");
    env.start_daemon();
    one_filter(&env.uplink, "ingress", "uplink_ingress");
    env.create_container("tnu1", &["-p", "8081:80"]);
    let _server = tcp_server("tnu1", "0.0.0.0", 80);
    published_port_answers(&env, "tnu1", 8081);
    // ebpfnet's filter runs first and hands the host's own traffic on to
    // the user's, which drops pings.
    assert!(
        !ping(&env.outside_ns, &env.uplink_ip),
        "the user's filter was skipped"
    );

    reset(&mut env);
    assert_eq!(bpf_filters(&env.uplink, "ingress"), []);
    assert!(
        user_filter_present(&env.uplink, 100),
        "the user's filter went"
    );
    assert!(has_clsact(&env.uplink), "the user's qdisc went");
    // It was the user's filter that dropped the pings.
    tc_ok(&[
        "filter",
        "del",
        "dev",
        &env.uplink,
        "ingress",
        "pref",
        "100",
    ]);
    assert!(ping(&env.outside_ns, &env.uplink_ip));
}

#[test]
fn a_qdisc_ebpfnet_added_stays_while_another_filter_uses_it() {
    let mut env = TestEnv::without_daemon("tcna");
    assert!(!has_clsact(&env.uplink));
    use_attach(&mut env, "netlink");
    env.start_daemon();
    assert!(has_clsact(&env.uplink));
    add_user_filter(&env.uplink, "200");
    reset(&mut env);
    assert_eq!(bpf_filters(&env.uplink, "ingress"), []);
    assert!(
        user_filter_present(&env.uplink, 200),
        "removing the qdisc took the user's filter along"
    );
    assert!(has_clsact(&env.uplink));
}

#[test]
fn masquerade_and_isolation_hold_on_the_netlink_path() {
    let mut env = TestEnv::without_daemon("tcnm");
    use_attach(&mut env, "netlink");
    env.start_daemon();
    env.create_network("tnA", &["--subnet", "10.241.0.0/24"]);
    env.create_container("tnma", &["--network", "tnA"]);
    env.create_container("tnmb", &[]);
    let veth = env.host_veth_of("tnma", "tnA");
    one_filter(&veth, "ingress", "container_ingress");
    let out = env.outside_ns.clone();
    let _server = tcp_server(&out, "0.0.0.0", 9000);
    assert_eq!(
        tcp_request("tnma", &env.outside_ip, 9000).trim(),
        format!("hello from {out} peer={} data=ping", env.uplink_ip),
        "outbound TCP is masqueraded to the uplink's address"
    );
    // Across networks: dropped at tnma's veth, counted as such.
    let b = env.ip_of("tnmb", "bridge");
    let _server_b = tcp_server("tnmb", "0.0.0.0", 8080);
    let before = traffic::drop_count(&env, "isolation");
    assert_eq!(tcp_request("tnma", &b, 8080), "", "tnma reached {b}");
    assert!(
        traffic::drop_count(&env, "isolation") > before,
        "the SYN to another network was not dropped as isolation"
    );
}
