//! The eBPF datapath: programs attached, pinned counters moving, isolation
//! between networks, masquerade, published ports, unsolicited traffic.

use ebpfnet_tests::traffic::bpftool_dump;
use ebpfnet_tests::*;
use serde_json::Value;

/// Sum of every `"packets"` number below `v` (BTF-formatted dumps).
fn sum_packets(v: &Value) -> u64 {
    match v {
        Value::Object(m) => m
            .iter()
            .map(|(k, v)| {
                if k == "packets" {
                    v.as_u64().unwrap_or(0)
                } else {
                    sum_packets(v)
                }
            })
            .sum(),
        Value::Array(a) => a.iter().map(sum_packets).sum(),
        _ => 0,
    }
}

/// Little-endian integer from bpftool's raw hex byte strings.
fn raw_le(bytes: &Value, off: usize, len: usize) -> Option<u64> {
    let a = bytes.as_array()?;
    let mut x = 0u64;
    for i in (0..len).rev() {
        let s = a.get(off + i)?.as_str()?;
        x = (x << 8) | u64::from_str_radix(s.trim_start_matches("0x"), 16).ok()?;
    }
    Some(x)
}

/// Packets counted for one entry of a per-CPU map dump, whose value starts
/// with a `packets: u64` (TrafficCounter / IfaceCounters layout).
fn entry_packets(e: &Value) -> u64 {
    if let Some(f) = e.get("formatted") {
        return sum_packets(&f["values"]).max(sum_packets(&f["value"]));
    }
    let per_cpu = e["values"].as_array().cloned().unwrap_or_default();
    per_cpu
        .iter()
        .filter_map(|c| raw_le(&c["value"], 0, 8))
        .sum::<u64>()
        + raw_le(&e["value"], 0, 8).unwrap_or(0)
}

/// Packets an `IFACE_SLOTS` dump entry (BTF-formatted) counts for
/// `ifindex`: on the CPUs whose slot that interface holds.
fn slot_packets(e: &Value, ifindex: u64) -> u64 {
    e["formatted"]["values"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|cpu| &cpu["value"])
        .filter(|slot| slot["ifindex"].as_u64() == Some(ifindex))
        .map(|slot| sum_packets(&slot["ingress"]))
        .sum()
}

/// Key of a dump entry as a u32 (formatted or raw little-endian).
fn entry_key(e: &Value) -> Option<u64> {
    if let Some(k) = e.get("formatted").and_then(|f| f["key"].as_u64()) {
        return Some(k);
    }
    raw_le(&e["key"], 0, 4)
}

#[test]
fn programs_attached_and_counters_move() {
    let env = TestEnv::new("dp1");
    env.create_container("d1a", &[]);
    env.create_container("d1b", &[]);
    let ip_b = env.ip_of("d1b", "bridge");
    let veth_a = env.host_veth_of("d1a", "bridge");
    for _ in 0..3 {
        assert!(ping("d1a", &ip_b), "d1a cannot ping d1b");
    }
    assert!(ping("d1a", "10.214.0.1"));
    // Traffic arriving on the uplink from the outside namespace.
    assert!(
        ping(&env.outside_ns, &env.uplink_ip),
        "outside cannot ping the host"
    );

    let st = env.json(&["status"]);
    let progs = st["Programs"]
        .as_array()
        .unwrap_or_else(|| panic!("status has no Programs: {st:#}"));
    for (iface, what) in [(&env.uplink, "uplink"), (&veth_a, "container host veth")] {
        let p = progs
            .iter()
            .find(|p| p["Interface"] == iface.as_str())
            .unwrap_or_else(|| panic!("no program attached on the {what} {iface}: {st:#}"));
        assert_eq!(
            p["Ifindex"].as_u64(),
            Some(u64::from(link_ifindex(iface))),
            "{p:#}"
        );
        assert!(
            p["Program"].as_str().is_some_and(|s| !s.is_empty()),
            "{p:#}"
        );
    }
    let uplinks = st["Uplinks"].as_array().cloned().unwrap_or_default();
    assert!(
        uplinks.iter().any(|u| u["Name"] == env.uplink.as_str()),
        "status Uplinks lacks {}: {st:#}",
        env.uplink
    );
    assert_eq!(
        st["PinDir"],
        env.pin_dir.to_string_lossy().as_ref(),
        "{st:#}"
    );
    assert_eq!(
        st["StateDir"],
        env.state_dir.to_string_lossy().as_ref(),
        "{st:#}"
    );
    let maps = st["Maps"].as_array().cloned().unwrap_or_default();
    for m in ["PROG_STATS", "IFACE_SLOTS", "IFACE_STATS"] {
        assert!(
            maps.iter().any(|x| x["Name"] == m),
            "status Maps lacks {m}: {st:#}"
        );
    }

    // Per interface: what `status` reports (IFACE_SLOTS and IFACE_STATS
    // together), and the slot the pinned IFACE_SLOTS gives it, read with
    // bpftool (no other interface of this test shares it).
    let interfaces = st["Interfaces"].as_array().cloned().unwrap_or_default();
    let iface_slots = env.pin_dir.join("IFACE_SLOTS");
    let slots = bpftool_dump(&iface_slots);
    for (iface, what) in [(&veth_a, "container host veth"), (&env.uplink, "uplink")] {
        let ifindex = u64::from(link_ifindex(iface));
        let counted = interfaces
            .iter()
            .find(|i| i["Ifindex"].as_u64() == Some(ifindex))
            .unwrap_or_else(|| panic!("status counts nothing for the {what} {iface}: {st:#}"));
        assert!(
            counted["Packets"].as_u64().is_some_and(|n| n > 0),
            "status counts no packets for {iface}: {counted:#}"
        );
        let slot = slots
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| entry_key(e) == Some(ifindex % 4096))
            .unwrap_or_else(|| panic!("IFACE_SLOTS has no slot {}: {slots:#}", ifindex % 4096));
        assert!(
            slot_packets(slot, ifindex) > 0,
            "IFACE_SLOTS counts no packets for the {what} {iface} in its slot: {slot:#}"
        );
    }

    // The pinned maps, read with bpftool.
    let prog_stats = env.pin_dir.join("PROG_STATS");
    assert!(prog_stats.exists(), "{} not pinned", prog_stats.display());

    let dump = bpftool_dump(&prog_stats);
    let entries = dump.as_array().cloned().unwrap_or_default();
    for (idx, what) in [(0u64, "uplink_ingress"), (1, "container_ingress")] {
        let e = entries
            .iter()
            .find(|e| entry_key(e) == Some(idx))
            .unwrap_or_else(|| panic!("PROG_STATS has no entry {idx}: {dump:#}"));
        assert!(
            entry_packets(e) > 0,
            "PROG_STATS counts no packets for {what}: {e:#}"
        );
    }

    // A removed container's veth leaves no counters: its slot is free on
    // every CPU, it has no IFACE_STATS entry, and status forgets it.
    let veth_ifindex = u64::from(link_ifindex(&veth_a));
    env.ok(&["container", "rm", "d1a"]);
    let slots = bpftool_dump(&iface_slots);
    let held: Vec<&Value> = slots
        .as_array()
        .into_iter()
        .flatten()
        .filter(|e| entry_key(e) == Some(veth_ifindex % 4096))
        .flat_map(|e| e["formatted"]["values"].as_array().into_iter().flatten())
        .filter(|cpu| cpu["value"]["ifindex"].as_u64() == Some(veth_ifindex))
        .collect();
    assert!(
        held.is_empty(),
        "IFACE_SLOTS still holds the removed {veth_a} (#{veth_ifindex}): {held:#?}"
    );
    let stats = bpftool_dump(&env.pin_dir.join("IFACE_STATS"));
    assert!(
        !stats
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| entry_key(e) == Some(veth_ifindex)),
        "IFACE_STATS still holds the removed {veth_a}: {stats:#}"
    );
    let st = env.json(&["status"]);
    let interfaces = st["Interfaces"].as_array().cloned().unwrap_or_default();
    assert!(
        !interfaces
            .iter()
            .any(|i| i["Ifindex"].as_u64() == Some(veth_ifindex)),
        "status still counts the removed {veth_a}: {st:#}"
    );
}

#[test]
fn networks_are_isolated() {
    let env = TestEnv::new("iso");
    env.create_network("isA", &["--subnet", "10.233.0.0/24"]);
    env.create_network("isB", &["--subnet", "10.234.0.0/24"]);
    env.create_container("isa1", &["--network", "isA"]);
    env.create_container("isa2", &["--network", "isA"]);
    env.create_container("isb1", &["--network", "isB"]);
    env.create_container("isd1", &[]);
    let a2 = env.ip_of("isa2", "isA");
    let b1 = env.ip_of("isb1", "isB");
    let d1 = env.ip_of("isd1", "bridge");
    assert!(ping("isa1", &a2), "same network must work");
    let _srv_b = tcp_server("isb1", "0.0.0.0", 8080);
    let _srv_d = tcp_server("isd1", "0.0.0.0", 8080);
    for (from, to) in [("isa1", &b1), ("isa1", &d1), ("isb1", &a2), ("isd1", &b1)] {
        assert!(
            !ping(from, to),
            "{from} reaches {to} on another network (ping)"
        );
    }
    assert_eq!(
        tcp_request("isa1", &b1, 8080),
        "",
        "isa1 -> isb1 TCP crossed networks"
    );
    assert_eq!(
        tcp_request("isa1", &d1, 8080),
        "",
        "isa1 -> isd1 TCP crossed networks"
    );
    // The other network's gateway is a host address, but not a path into it.
    assert_eq!(tcp_request("isa1", "10.234.0.1", 8080), "");
}

#[test]
fn outbound_traffic_is_masqueraded() {
    let env = TestEnv::new("masq");
    env.create_container("mqa", &[]);
    env.create_network("mqint", &["--internal", "--subnet", "10.237.0.0/24"]);
    env.create_container("mqi", &["--network", "mqint"]);
    let out = env.outside_ns.clone();
    let (up_ip, out_ip) = (env.uplink_ip.clone(), env.outside_ip.clone());
    let _srv = tcp_server(&out, "0.0.0.0", 9000);
    let _udp = udp_echo_server(&out, 9001);

    assert!(
        ping("mqa", &out_ip),
        "container cannot ping the outside host"
    );
    assert_eq!(
        tcp_request("mqa", &out_ip, 9000).trim(),
        format!("hello from {out} peer={up_ip} data=ping"),
        "outbound TCP should be masqueraded to the uplink address"
    );
    assert_eq!(udp_request("mqa", &out_ip, 9001, "masq-udp"), "masq-udp");
    // A second connection right after the first (new source port mapping).
    assert!(tcp_request("mqa", &out_ip, 9000).starts_with("hello"));

    // Internal networks do not reach the outside.
    assert!(
        !ping("mqi", &out_ip),
        "internal network reaches the outside"
    );
    assert_eq!(tcp_request("mqi", &out_ip, 9000), "");
}

#[test]
fn published_ports() {
    let env = TestEnv::new("pub");
    env.create_container("pba", &["-p", "8080:80", "-p", "5353:53/udp"]);
    env.create_container("pbb", &[]);
    let ip_a = env.ip_of("pba", "bridge");
    let c = env.inspect_container("pba");
    let ports = &c["NetworkSettings"]["Ports"];
    assert_eq!(ports["80/tcp"][0]["HostPort"], "8080", "{c:#}");
    assert_eq!(ports["80/tcp"][0]["HostIp"], "0.0.0.0", "{c:#}");
    assert_eq!(ports["53/udp"][0]["HostPort"], "5353", "{c:#}");

    let _srv = tcp_server("pba", "0.0.0.0", 80);
    let _udp = udp_echo_server("pba", 53);
    let out = env.outside_ns.clone();
    let (up_ip, out_ip) = (env.uplink_ip.clone(), env.outside_ip.clone());
    assert_eq!(
        tcp_request(&out, &up_ip, 8080).trim(),
        format!("hello from pba peer={out_ip} data=ping"),
        "published TCP port from outside (source IP must be preserved)"
    );
    assert_eq!(udp_request(&out, &up_ip, 5353, "pub-udp"), "pub-udp");
    assert_eq!(
        tcp_request(&out, &up_ip, 8081),
        "",
        "unpublished port answered"
    );

    // Unsolicited traffic from the uplink straight to the container IP is
    // dropped, even with a route pointing at the host.
    netns_exec_ok(
        &out,
        &["ip", "route", "add", "10.214.0.0/16", "via", &up_ip],
    );
    assert!(
        !ping(&out, &ip_a),
        "outside reaches a container IP directly"
    );
    assert_eq!(
        tcp_request(&out, &ip_a, 80),
        "",
        "outside reaches container port 80 directly"
    );
    // The published port keeps working.
    assert!(tcp_request(&out, &up_ip, 8080).starts_with("hello from pba"));
    // Another container reaches it by its own address on the shared network.
    assert!(tcp_request("pbb", &ip_a, 80).starts_with("hello from pba"));
}
