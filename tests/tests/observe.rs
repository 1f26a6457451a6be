//! Observability (`flows`, `stats`, the pinned maps through bpftool) and
//! "only eBPF": no iptables/nftables rule of ours, and everything working
//! with Docker's FORWARD DROP policy and bridge-nf-call-iptables on.

use std::collections::BTreeSet;
use std::process::Command;
use std::time::Duration;

use ebpfnet_common::counters::DropReason;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;
use serde_json::Value;

/// The `stats --format json` mapping whose `Mapping` starts with `prefix`.
fn mapping_stats(env: &TestEnv, host: &str) -> Value {
    let st = env.json(&["stats"]);
    st["Mappings"]
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|m| m["Mapping"].as_str().is_some_and(|s| s.starts_with(host)))
        })
        .cloned()
        .unwrap_or_else(|| panic!("stats has no mapping {host}: {st:#}"))
}

fn num(v: &Value, k: &str) -> u64 {
    v[k].as_u64()
        .unwrap_or_else(|| panic!("no number {k} in {v:#}"))
}

#[test]
fn flows_stats_and_pinned_maps_show_a_published_flow() {
    let env = TestEnv::new("obs");
    let (up, out_ip, out) = (
        env.uplink_ip.clone(),
        env.outside_ip.clone(),
        env.outside_ns.clone(),
    );
    env.create_container("ob", &["-p", "8080:80"]);
    let _srv = echo_server("ob", "ob", 80);
    let _so = echo_server(&out, "outside", 9000);
    let cip = env.ip_of("ob", "bridge");
    let (client, cp) = hold_client(&out, &up, 8080);
    assert!(wait_for(Duration::from_secs(3), || client.lines().len() >= 2));
    assert!(
        request("ob", &out_ip, 9000, "udp").is_ok(),
        "masquerade UDP"
    );

    // Table.
    let orig = format!("{out_ip}:{cp} -> {up}:8080");
    let trans = format!("{out_ip}:{cp} -> {cip}:80");
    let table = env.ok(&["flows"]);
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header,
        [
            "PROTO",
            "ORIGINAL",
            "TRANSLATED",
            "KIND",
            "STATE",
            "AGE",
            "IDLE"
        ],
        "{table}"
    );
    let row = table
        .lines()
        .find(|l| l.contains(&orig))
        .unwrap_or_else(|| panic!("flows lists no {orig}:\n{table}"));
    let cols: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cols.len(), 11, "{row}");
    assert_eq!(cols[0], "tcp", "{row}");
    assert_eq!(cols[4..7].join(" "), trans, "{row}");
    assert_eq!(cols[7], "published", "{row}");
    assert_eq!(cols[8], "established,replied", "{row}");
    assert!(cols[9].ends_with('s') && cols[10].ends_with('s'), "{row}");
    assert!(
        table.lines().any(|l| l.starts_with("udp")
            && l.contains(&format!("{cip}:"))
            && l.contains(&format!("-> {out_ip}:9000"))
            && l.contains("masquerade")),
        "flows lists no masqueraded UDP flow from {cip}:\n{table}"
    );

    // JSON.
    let flows = env.json(&["flows"]);
    let f = flows
        .as_array()
        .and_then(|a| a.iter().find(|f| f["Original"] == orig.as_str()))
        .unwrap_or_else(|| panic!("flows json has no {orig}: {flows:#}"));
    assert_eq!(f["Protocol"], "tcp", "{f:#}");
    assert_eq!(f["Translated"], trans.as_str(), "{f:#}");
    assert_eq!(f["Kind"], "published", "{f:#}");
    assert_eq!(f["State"], "established,replied", "{f:#}");
    for k in ["AgeMs", "IdleMs", "Packets", "Bytes"] {
        num(f, k);
    }
    assert!(num(f, "Packets") >= 4 && num(f, "Bytes") > 0, "{f:#}");
    let entries = f["Entries"].as_array().unwrap_or_else(|| panic!("{f:#}"));
    assert_eq!(entries.len(), 2, "both directions: {f:#}");
    for e in entries {
        for k in [
            "Table",
            "SrcIp",
            "SrcPort",
            "DstIp",
            "DstPort",
            "Protocol",
            "NewSrcIp",
            "NewSrcPort",
            "NewDstIp",
            "NewDstPort",
            "Kind",
            "Forward",
            "Ifindex",
            "TcpFlags",
            "DstMac",
            "CreatedNs",
            "LastSeenNs",
            "Packets",
            "Bytes",
        ] {
            assert!(e.get(k).is_some(), "flow entry lacks {k}: {e:#}");
        }
    }
    assert!(
        entries.iter().any(|e| e["SrcIp"] == out_ip.as_str()
            && num(e, "SrcPort") == u64::from(cp)
            && e["DstIp"] == up.as_str()
            && num(e, "DstPort") == 8080
            && e["NewDstIp"] == cip.as_str()
            && num(e, "NewDstPort") == 80),
        "no request entry {orig} => {cip}:80: {f:#}"
    );

    // stats: the mapping's counters grow with the held flow's traffic.
    let m0 = mapping_stats(&env, "0.0.0.0:8080/tcp");
    assert_eq!(m0["HostIp"], "0.0.0.0", "{m0:#}");
    assert_eq!(num(&m0, "HostPort"), 8080, "{m0:#}");
    assert_eq!(m0["Protocol"], "tcp", "{m0:#}");
    assert_eq!(m0["Container"], "ob", "{m0:#}");
    assert_eq!(num(&m0, "ContainerPort"), 80, "{m0:#}");
    let grown = |m: &Value| num(m, "Packets") >= num(&m0, "Packets") + 3;
    assert!(
        wait_for(Duration::from_secs(5), || grown(&mapping_stats(
            &env,
            "0.0.0.0:8080/tcp"
        ))),
        "the mapping's packets did not grow from {m0:#}"
    );
    let m1 = mapping_stats(&env, "0.0.0.0:8080/tcp");
    assert!(num(&m1, "Bytes") > num(&m0, "Bytes"), "{m0:#} -> {m1:#}");
    assert_eq!(num(&m1, "Flows"), num(&m0, "Flows"), "no new flow: {m1:#}");
    for _ in 0..3 {
        assert!(request(&out, &up, 8080, "tcp").is_ok());
    }
    let m2 = mapping_stats(&env, "0.0.0.0:8080/tcp");
    assert_eq!(num(&m2, "Flows"), num(&m1, "Flows") + 3, "{m1:#} -> {m2:#}");
    let text = env.ok(&["stats"]);
    let line = text
        .lines()
        .find(|l| l.contains("0.0.0.0:8080/tcp -> ob:80"))
        .unwrap_or_else(|| panic!("stats text has no mapping line:\n{text}"));
    assert!(
        line.contains(" packets, ") && line.contains(" bytes, ") && line.contains(" flows"),
        "{line}"
    );
    let drops: BTreeSet<String> = env.json(&["stats"])["Drops"]
        .as_array()
        .expect("Drops")
        .iter()
        .map(|d| d["Reason"].as_str().unwrap_or("").to_string())
        .collect();
    for r in DropReason::ALL {
        assert!(
            drops.contains(r.name()),
            "stats json lacks drop reason {}",
            r.name()
        );
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(r.name())),
            "stats text lacks drop reason {}:\n{text}",
            r.name()
        );
    }

    // bpftool: PUBLISHED and NAT_TCP with BTF field names.
    let octets = |ip: &str| {
        Value::from(
            parse_ipv4(ip)
                .iter()
                .map(|&b| u64::from(b))
                .collect::<Vec<_>>(),
        )
    };
    let published = bpftool_dump(&env.pin_dir.join("PUBLISHED"));
    let p = published
        .as_array()
        .and_then(|a| {
            a.iter()
                .find(|e| e["formatted"]["key"]["host_port"] == 8080)
        })
        .unwrap_or_else(|| panic!("PUBLISHED has no formatted host_port 8080: {published:#}"));
    let (k, v) = (&p["formatted"]["key"], &p["formatted"]["value"]);
    assert_eq!(k["host_ip"], octets("0.0.0.0"), "{p:#}");
    assert_eq!(k["protocol"], 6, "{p:#}");
    assert_eq!(v["container_ip"], octets(&cip), "{p:#}");
    assert_eq!(v["container_port"], 80, "{p:#}");
    let nat = bpftool_dump(&env.pin_dir.join("NAT_TCP"));
    let e = nat
        .as_array()
        .and_then(|a| {
            a.iter().find(|e| {
                let k = &e["formatted"]["key"];
                k["src_ip"] == octets(&out_ip)
                    && k["src_port"] == u64::from(cp)
                    && k["dst_port"] == 8080
            })
        })
        .unwrap_or_else(|| panic!("NAT_TCP has no formatted entry for {orig}: {nat:#}"));
    let v = &e["formatted"]["value"];
    assert_eq!(e["formatted"]["key"]["dst_ip"], octets(&up), "{e:#}");
    assert_eq!(v["new_dst_ip"], octets(&cip), "{e:#}");
    assert_eq!(v["new_dst_port"], 80, "{e:#}");
    for f in [
        "new_src_ip",
        "new_src_port",
        "kind",
        "created_ns",
        "last_seen_ns",
        "packets",
    ] {
        assert!(v.get(f).is_some(), "NAT_TCP value lacks {f}: {e:#}");
    }
}

#[test]
fn per_mapping_counters_count_hairpin_traffic() {
    let env = TestEnv::new("obsh");
    env.create_container("oh", &["-p", "8080:80"]);
    env.create_container("oc", &[]);
    let _srv = echo_server("oh", "oh", 80);
    let (client, _) = hold_client("oc", &env.uplink_ip, 8080);
    assert!(wait_for(Duration::from_secs(3), || client.lines().len() >= 2));
    let m0 = mapping_stats(&env, "0.0.0.0:8080/tcp");
    let replies = || {
        client
            .lines()
            .iter()
            .filter(|l| l.starts_with("reply oh"))
            .count()
    };
    assert!(
        wait_for(Duration::from_secs(5), || replies() >= 5
            && num(&mapping_stats(&env, "0.0.0.0:8080/tcp"), "Packets")
                >= num(&m0, "Packets") + 3),
        "the hairpin flow gets no answers, or they are not counted: {:?}",
        client.lines()
    );
    let m1 = mapping_stats(&env, "0.0.0.0:8080/tcp");
    assert_eq!(num(&m1, "Flows"), 1, "{m1:#}");
    assert!(
        num(&m1, "Packets") >= num(&m0, "Packets") + 3,
        "a hairpin flow's packets (a line every 200 ms) are not counted: {m0:#} -> {m1:#}"
    );
}

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
