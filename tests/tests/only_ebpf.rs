//! "Only eBPF": no iptables/nftables rule of ours, and everything working
//! with Docker's FORWARD DROP policy and bridge-nf-call-iptables on.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// Lines of `cmd` output, comments and packet counters removed.
fn ruleset(cmd: &str, args: &[&str]) -> Option<BTreeSet<String>> {
    let out = run_timeout(Command::new(cmd).args(args), None, Duration::from_secs(20)).ok()?;
    if !out.status.success() {
        return None;
    }
    Some(
        out.stdout_str()
            .lines()
            .filter(|l| !l.starts_with('#'))
            .map(|l| match (l.find('['), l.find(']')) {
                (Some(a), Some(b)) if l.starts_with(':') && a < b => {
                    format!("{}{}", &l[..a], &l[b + 1..])
                }
                _ => l.to_string(),
            })
            .collect(),
    )
}

fn rulesets() -> Vec<(&'static str, BTreeSet<String>)> {
    let mut v = Vec::new();
    if let Some(r) = ruleset("nft", &["list", "ruleset"]) {
        v.push(("nft list ruleset", r));
    }
    if let Some(r) = ruleset("iptables-save", &[]) {
        v.push(("iptables-save", r));
    }
    assert!(
        !v.is_empty(),
        "neither nft nor iptables-save works (setup installs them)"
    );
    v
}

#[test]
fn only_ebpf_no_netfilter_rules_and_forward_drop_does_not_matter() {
    let before = rulesets();
    let env = TestEnv::new("onlybpf");
    let (up, out_ip, out) = (
        env.uplink_ip.clone(),
        env.outside_ip.clone(),
        env.outside_ns.clone(),
    );
    env.create_network("obB", &["--subnet", "10.245.0.0/24"]);
    env.create_container("oa", &["-p", "8080:80", "-p", "8080:80/udp"]);
    env.create_container("os", &[]);
    env.create_container("oo", &["--network", "obB"]);
    let _sa = echo_server("oa", "oa", 80);
    let _so = echo_server(&out, "outside", 9000);
    let a_ip = env.ip_of("oa", "bridge");
    let bridge_b = env.bridge_of("obB");

    let check = |phase: &str| {
        for proto in ["tcp", "udp"] {
            let r = request(&out, &up, 8080, proto);
            assert!(
                r.as_ref().is_ok_and(|r| r.starts_with("oa ")),
                "{phase}: outside -> published {proto}: {r:?}"
            );
            let r = request("oa", &out_ip, 9000, proto);
            let peer = r.as_ref().ok().and_then(|r| peer_of(r)).map(|p| p.0);
            assert_eq!(peer, Some(up.clone()), "{phase}: masquerade {proto}: {r:?}");
            let r = request("oo", &up, 8080, proto);
            assert!(
                r.as_ref().is_ok_and(|r| r.starts_with("oa ")),
                "{phase}: hairpin {proto}: {r:?}"
            );
        }
        assert!(ping("oa", &out_ip), "{phase}: masquerade ping");
        let r = request("os", &a_ip, 80, "tcp");
        assert!(
            r.as_ref().is_ok_and(|r| r.starts_with("oa ")),
            "{phase}: same network: {r:?}"
        );
        let r = host_tcp("127.0.0.1", 8080, "h");
        assert!(
            r.as_ref().is_ok_and(|r| r.starts_with("oa ")),
            "{phase}: host: {r:?}"
        );
    };
    check("default netfilter");

    let mut words: Vec<String> = ["ebpfnet", "ebr-", "10.214.", "10.245."]
        .map(String::from)
        .into();
    words.push(bridge_b.clone());
    for c in ["oa", "os"] {
        words.push(env.host_veth_of(c, "bridge"));
    }
    words.push(env.host_veth_of("oo", "obB"));
    for ((what, old), (_, new)) in before.iter().zip(rulesets()) {
        let added: Vec<&String> = new.difference(old).collect();
        let ours: Vec<&String> = new
            .iter()
            .filter(|l| words.iter().any(|w| l.contains(w.as_str())))
            .collect();
        assert!(
            ours.is_empty(),
            "{what} mentions ebpfnet objects: {ours:#?}"
        );
        assert!(
            added.is_empty(),
            "{what} gained lines while ebpfnet ran: {added:#?}"
        );
    }

    if sysctl("net.bridge.bridge-nf-call-iptables").is_none() {
        let out = run(
            Command::new("modprobe").arg("br_netfilter"),
            None,
            Duration::from_secs(20),
        );
        assert!(
            out.status.success(),
            "{}",
            cli::describe("modprobe br_netfilter", &out)
        );
    }
    let _nf = SysctlGuard::set("net.bridge.bridge-nf-call-iptables", "1");
    let _fwd = ForwardPolicyGuard::drop_policy();
    let policy = run(
        Command::new("iptables").args(["-S", "FORWARD"]),
        None,
        Duration::from_secs(10),
    );
    assert!(
        policy.stdout_str().contains("-P FORWARD DROP"),
        "{}",
        policy.stdout_str()
    );
    check("FORWARD DROP, bridge-nf-call-iptables=1");
}
