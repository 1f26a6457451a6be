//! Observability: `flows`, `stats` and the pinned maps through bpftool.
//! (No netfilter rule of ours: only_ebpf.rs.)

use std::collections::BTreeSet;
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
    // The header line, as a user reads it (columns apart by spaces).
    let header: Vec<&str> = table
        .lines()
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    assert_eq!(
        header.join(" "),
        "PROTO ORIGINAL TRANSLATED KIND STATE AGE IDLE",
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
