//! Host interfaces that are not uplinks (moby#49325): a packet the host
//! forwards to a container address from such an interface is dropped at the
//! container's veth (TC egress, `forwarded_from_host_interface`) by
//! default; `--guard-interfaces uplinks` lets routed traffic through. The
//! "other interface" is a test-made veth to a namespace of its own, with
//! forwarding on for that veth only.

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

const DROP_REASON: &str = "forwarded_from_host_interface";
/// Benchmarking space (RFC 2544), unused by the harness: host side `.1`,
/// the side namespace `.2`.
const SIDE_NET: &str = "198.18.77";

/// A namespace routed to the host by a veth that is not an uplink, as a
/// second NIC or a VPN would be. The host forwards between it and the
/// test daemon's bridge (forwarding on for those two only, as a host that
/// routes to its containers has it everywhere). Removed on drop; the
/// harness sweeps its names (`ebnt-side-PID`, `ebntsdPID`) after a crash.
struct SideNet {
    ns: String,
    link: String,
    ip: String,
    _forwarding: [SysctlGuard; 2],
}

impl SideNet {
    fn new() -> SideNet {
        let bridge = ebpfnet_tests::daemon::DEFAULT_BRIDGE;
        let pid = std::process::id();
        let (ns, link) = (format!("ebnt-side-{pid}"), format!("ebntsd{pid}"));
        let in_use = ip_ok(&["-4", "-o", "addr", "show"]);
        assert!(
            !in_use.contains(&format!(" {SIDE_NET}.")),
            "{SIDE_NET}.0/24 is already used on this host"
        );
        delete_netns(&ns);
        delete_link(&link);
        ip_ok(&["netns", "add", &ns]);
        let side = SideNet {
            _forwarding: {
                ip_ok(&[
                    "link", "add", &link, "type", "veth", "peer", "name", "eth0", "netns", &ns,
                ]);
                [link.as_str(), bridge]
                    .map(|dev| SysctlGuard::set(&format!("net.ipv4.conf.{dev}.forwarding"), "1"))
            },
            ip: format!("{SIDE_NET}.2"),
            ns,
            link,
        };
        ip_ok(&[
            "addr",
            "add",
            &format!("{SIDE_NET}.1/24"),
            "dev",
            &side.link,
        ]);
        ip_ok(&["link", "set", &side.link, "up"]);
        let ns = side.ns.as_str();
        netns_exec_ok(ns, &["ip", "link", "set", "lo", "up"]);
        netns_exec_ok(
            ns,
            &[
                "ip",
                "addr",
                "add",
                &format!("{}/24", side.ip),
                "dev",
                "eth0",
            ],
        );
        netns_exec_ok(ns, &["ip", "link", "set", "eth0", "up"]);
        netns_exec_ok(
            ns,
            &[
                "ip",
                "route",
                "add",
                "default",
                "via",
                &format!("{SIDE_NET}.1"),
            ],
        );
        side
    }
}

impl Drop for SideNet {
    fn drop(&mut self) {
        delete_netns(&self.ns);
        delete_link(&self.link);
    }
}

#[test]
fn routed_from_a_non_uplink_interface_is_refused_and_other_paths_still_work() {
    let env = TestEnv::new("gall");
    let (up, out, out_ip) = (
        env.uplink_ip.clone(),
        env.outside_ns.clone(),
        env.outside_ip.clone(),
    );
    env.create_container("ga", &["-p", "8080:80"]);
    env.create_container("gb", &[]);
    let _srv = echo_server("ga", "ga", 80);
    let _remote = echo_server(&out, "remote", 9000);
    let a_ip = env.ip_of("ga", "bridge");
    let side = SideNet::new();

    let before = drop_count(&env, DROP_REASON);
    assert!(
        request(&side.ns, &a_ip, 80, "tcp").is_err(),
        "a packet routed from {} reached {a_ip}",
        side.link
    );
    let refused = drop_count(&env, DROP_REASON);
    assert!(
        refused > before,
        "{DROP_REASON} drops went {before} -> {refused}"
    );

    // Every legitimate path into a container still works and is not
    // counted: the host's own packets (ingress_ifindex 0), frames bridged
    // from another container (its veth), and what is handed in with
    // bpf_redirect_peer (published ports, masquerade replies).
    let r = host_tcp(&a_ip, 80, "host").unwrap_or_else(|e| panic!("host -> {a_ip}: {e}"));
    assert!(r.starts_with("ga peer="), "{r}");
    netns_exec_ok("gb", &["ip", "neigh", "flush", "all"]);
    netns_exec_ok("ga", &["ip", "neigh", "flush", "all"]);
    assert!(ping("gb", &a_ip), "gb cannot ping ga (ARP over the bridge)");
    let r = request("gb", &a_ip, 80, "tcp").unwrap_or_else(|e| panic!("gb -> ga: {e}"));
    assert!(r.starts_with("ga peer="), "{r}");
    let r = request(&out, &up, 8080, "tcp").unwrap_or_else(|e| panic!("published: {e}"));
    assert!(r.starts_with("ga peer="), "{r}");
    let r = request("ga", &out_ip, 9000, "tcp").unwrap_or_else(|e| panic!("masquerade: {e}"));
    assert!(r.starts_with("remote peer="), "{r}");
    assert_eq!(
        drop_count(&env, DROP_REASON),
        refused,
        "legitimate traffic was counted as {DROP_REASON}"
    );
}

#[test]
fn guard_interfaces_uplinks_lets_routed_traffic_through() {
    let mut env = TestEnv::new("gupl");
    let out = env.outside_ns.clone();
    env.create_container("gu", &[]);
    let _srv = echo_server("gu", "gu", 80);
    let ip = env.ip_of("gu", "bridge");
    let side = SideNet::new();
    assert!(
        request(&side.ns, &ip, 80, "tcp").is_err(),
        "the default must refuse routed traffic"
    );

    // A daemon restarted with the option takes the guard off the veths
    // the previous one attached it to.
    env.stop_daemon();
    env.daemon_args = vec!["--guard-interfaces".into(), "uplinks".into()];
    env.start_daemon();
    let before = drop_count(&env, DROP_REASON);
    let r = request(&side.ns, &ip, 80, "tcp").unwrap_or_else(|e| {
        panic!(
            "routed {} -> {ip} with --guard-interfaces uplinks: {e}",
            side.ns
        )
    });
    assert_eq!(
        peer_of(&r).map(|p| p.0),
        Some(side.ip.clone()),
        "routed traffic keeps its source: {r}"
    );
    assert_eq!(drop_count(&env, DROP_REASON), before);
    // The uplink stays guarded by its own program.
    assert!(
        request(&out, &ip, 80, "tcp").is_err(),
        "the outside reached {ip} through the uplink"
    );
}
