//! `ebpfnet publish` / `unpublish` / `port` end to end: every SPEC form,
//! what `port` and `container inspect` show, reachability with real servers,
//! refusals that change nothing, and unpublish cutting new and established
//! flows.

use std::collections::BTreeSet;
use std::net::{TcpListener, UdpSocket};
use std::time::Duration;

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// The host's ephemeral port range (`net.ipv4.ip_local_port_range`).
fn ephemeral_range() -> (u16, u16) {
    let r = sysctl("net.ipv4.ip_local_port_range").expect("ip_local_port_range");
    let mut it = r.split_whitespace().map(|x| x.parse::<u16>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

/// `publish SPEC --container C`, asserting it prints one line matching
/// `80/tcp -> IP:` + a port; returns the port.
#[track_caller]
fn publish_one(env: &TestEnv, spec: &str, container: &str, prefix: &str) -> u16 {
    let out = env.ok(&["publish", spec, "--container", container]);
    let line = out.trim_end();
    assert_eq!(line.lines().count(), 1, "publish {spec} printed {out:?}");
    line.strip_prefix(prefix)
        .and_then(|p| p.parse::<u16>().ok())
        .unwrap_or_else(|| panic!("publish {spec} printed {line:?}, expected {prefix}PORT"))
}

#[track_caller]
fn assert_answers(reply: Result<String, String>, name: &str, what: &str) -> String {
    let r = reply.unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(r.starts_with(&format!("{name} peer=")), "{what}: got {r:?}");
    r
}

/// A TCP request from the outside namespace.
fn outside_tcp(env: &TestEnv, ip: &str, port: u16) -> Result<String, String> {
    request(&env.outside_ns, ip, port, "tcp")
}

fn outside_udp(env: &TestEnv, ip: &str, port: u16) -> Result<String, String> {
    request(&env.outside_ns, ip, port, "udp")
}

#[test]
fn publish_spec_forms_port_and_inspect() {
    let env = TestEnv::new("pubf");
    env.create_container("pf1", &[]);
    let _srv = echo_server("pf1", "pf1", 80);
    let (up, out_ip) = (env.uplink_ip.clone(), env.outside_ip.clone());
    let (lo, hi) = ephemeral_range();

    for (spec, printed) in [
        ("8080:80", "80/tcp -> 0.0.0.0:8080\n"),
        ("8080:80/udp", "80/udp -> 0.0.0.0:8080\n"),
        ("127.0.0.1:8081:80", "80/tcp -> 127.0.0.1:8081\n"),
    ] {
        let out = env.ok(&["publish", spec, "--container", "pf1"]);
        assert_eq!(out, printed, "publish {spec}");
    }
    let p_up = publish_one(
        &env,
        &format!("{up}::80"),
        "pf1",
        &format!("80/tcp -> {up}:"),
    );
    let p_any = publish_one(&env, "80", "pf1", "80/tcp -> 0.0.0.0:");
    for p in [p_up, p_any] {
        assert!(
            (lo..=hi).contains(&p),
            "auto-picked host port {p} is outside the ephemeral range {lo}-{hi}"
        );
    }
    assert_ne!(p_up, p_any, "two auto-picked ports are the same");

    // `port` prints exactly docker's lines.
    let want: BTreeSet<String> = [
        "80/tcp -> 0.0.0.0:8080".to_string(),
        "80/udp -> 0.0.0.0:8080".to_string(),
        "80/tcp -> 127.0.0.1:8081".to_string(),
        format!("80/tcp -> {up}:{p_up}"),
        format!("80/tcp -> 0.0.0.0:{p_any}"),
    ]
    .into();
    let got = port_lines(&env, "pf1");
    assert_eq!(got.len(), want.len(), "port pf1: {got:#?}");
    assert_eq!(got.iter().cloned().collect::<BTreeSet<_>>(), want);
    // With a port, only the host side, as `docker port web 80/udp`.
    assert_eq!(env.ok(&["port", "pf1", "80/udp"]), "0.0.0.0:8080\n");
    let tcp_only: BTreeSet<String> = env
        .ok(&["port", "pf1", "80/tcp"])
        .lines()
        .map(str::to_string)
        .collect();
    let want_host: BTreeSet<String> = [
        "0.0.0.0:8080".to_string(),
        "127.0.0.1:8081".to_string(),
        format!("{up}:{p_up}"),
        format!("0.0.0.0:{p_any}"),
    ]
    .into();
    assert_eq!(tcp_only, want_host, "port pf1 80/tcp");

    // inspect shows every binding.
    let c = env.inspect_container("pf1");
    let ports = &c["NetworkSettings"]["Ports"];
    let bindings = |key: &str| -> BTreeSet<String> {
        ports[key]
            .as_array()
            .unwrap_or_else(|| panic!("inspect Ports has no {key}: {c:#}"))
            .iter()
            .map(|b| {
                format!(
                    "{}:{}",
                    b["HostIp"].as_str().unwrap_or("?"),
                    b["HostPort"].as_str().unwrap_or("?")
                )
            })
            .collect()
    };
    let want_tcp: BTreeSet<String> = [
        "0.0.0.0:8080".to_string(),
        "127.0.0.1:8081".to_string(),
        format!("{up}:{p_up}"),
        format!("0.0.0.0:{p_any}"),
    ]
    .into();
    assert_eq!(bindings("80/tcp"), want_tcp, "{c:#}");
    assert_eq!(bindings("80/udp"), ["0.0.0.0:8080".to_string()].into());

    // Every mapping answers, from where it may be reached; the client's
    // source address is preserved.
    let r = assert_answers(
        outside_tcp(&env, &up, 8080),
        "pf1",
        "outside -> up:8080/tcp",
    );
    assert_eq!(peer_of(&r).map(|p| p.0), Some(out_ip.clone()), "{r}");
    let r = assert_answers(
        outside_udp(&env, &up, 8080),
        "pf1",
        "outside -> up:8080/udp",
    );
    assert_eq!(peer_of(&r).map(|p| p.0), Some(out_ip.clone()), "{r}");
    assert_answers(outside_tcp(&env, &up, p_up), "pf1", "outside -> up:auto");
    assert_answers(
        outside_tcp(&env, &up, p_any),
        "pf1",
        "outside -> 0.0.0.0 auto",
    );
    assert_answers(host_tcp(&up, p_any, "h"), "pf1", "host -> up:auto");
    assert_answers(
        host_tcp("127.0.0.1", 8081, "h"),
        "pf1",
        "host -> 127.0.0.1:8081",
    );
    assert!(
        outside_tcp(&env, &up, 8081).is_err(),
        "a 127.0.0.1 mapping answered on the uplink address"
    );

    // JSON form of publish.
    let v = env.json(&["publish", "9090:80", "--container", "pf1"]);
    let arr = v
        .as_array()
        .unwrap_or_else(|| panic!("not an array: {v:#}"));
    assert_eq!(arr.len(), 1, "{v:#}");
    let m = &arr[0];
    assert_eq!(m["host_ip"], "0.0.0.0", "{v:#}");
    assert_eq!(m["protocol"], "tcp", "{v:#}");
    let num = |x: &serde_json::Value| {
        x.as_u64()
            .or_else(|| x.as_str().and_then(|s| s.parse().ok()))
    };
    assert_eq!(num(&m["host_port"]), Some(9090), "{v:#}");
    assert_eq!(num(&m["container_port"]), Some(80), "{v:#}");
    assert_answers(outside_tcp(&env, &up, 9090), "pf1", "outside -> up:9090");
}

#[test]
fn publish_range_maps_one_to_one() {
    let env = TestEnv::new("pubr");
    env.create_container("pr1", &[]);
    let _s: Vec<Recorder> = (80..=82)
        .map(|p| echo_server("pr1", &format!("srv{p}"), p))
        .collect();
    let out = env.ok(&["publish", "8000-8002:80-82", "--container", "pr1"]);
    let lines: BTreeSet<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "80/tcp -> 0.0.0.0:8000",
            "81/tcp -> 0.0.0.0:8001",
            "82/tcp -> 0.0.0.0:8002"
        ]
        .into(),
        "publish printed {out:?}"
    );
    assert_eq!(
        port_lines(&env, "pr1"),
        [
            "80/tcp -> 0.0.0.0:8000",
            "81/tcp -> 0.0.0.0:8001",
            "82/tcp -> 0.0.0.0:8002"
        ],
        "port must list the mappings sorted by container port"
    );
    for (host, cport) in [(8000, 80), (8001, 81), (8002, 82)] {
        assert_answers(
            outside_tcp(&env, &env.uplink_ip, host),
            &format!("srv{cport}"),
            &format!("outside -> {host}"),
        );
    }
    assert!(outside_tcp(&env, &env.uplink_ip, 8003).is_err());
}

#[test]
fn refused_publishes_change_nothing() {
    let env = TestEnv::new("pubx");
    env.create_container("ra", &["-p", "8080:80"]);
    env.create_container("rb", &[]);
    env.create_network("rint", &["--internal", "--subnet", "10.238.0.0/24"]);
    env.create_container("ri", &["--network", "rint"]);
    let _srv = echo_server("ra", "ra", 80);
    let _srv_b = echo_server("rb", "rb", 80);
    let up = env.uplink_ip.clone();
    let ra_before = port_lines(&env, "ra");
    assert_eq!(ra_before, ["80/tcp -> 0.0.0.0:8080"]);

    // A host port another container already publishes.
    env.fails_with(
        &["publish", "8080:80", "--container", "rb"],
        &["0.0.0.0:8080/tcp", "already published", "ra"],
    );
    // All or nothing: the first, valid, SPEC is not published either.
    env.fails_with(
        &["publish", "9001:80", "8080:80", "--container", "rb"],
        &["8080"],
    );
    assert_eq!(port_lines(&env, "rb"), Vec::<String>::new());
    assert!(outside_tcp(&env, &up, 9001).is_err(), "9001 half-published");

    // Ports held by host processes (TCP and UDP).
    let tl = TcpListener::bind("0.0.0.0:0").expect("host listener");
    let tport = tl.local_addr().unwrap().port();
    env.fails_with(
        &["publish", &format!("{tport}:80"), "--container", "rb"],
        &[&format!("{tport}/tcp"), "in use"],
    );
    let us = UdpSocket::bind("0.0.0.0:0").expect("host udp socket");
    let uport = us.local_addr().unwrap().port();
    env.fails_with(
        &["publish", &format!("{uport}:80/udp"), "--container", "rb"],
        &[&format!("{uport}/udp"), "in use"],
    );
    assert_eq!(port_lines(&env, "rb"), Vec::<String>::new());

    // Unpublish of a mapping that does not exist.
    env.fails_with(
        &["unpublish", "9999:80", "--container", "ra"],
        &["ra", "9999:80/tcp"],
    );
    env.fails_with(
        &["unpublish", "8080:81", "--container", "ra"],
        &["ra", "8080:81/tcp"],
    );
    // A container on an --internal network.
    env.fails_with(
        &["publish", "8082:80", "--container", "ri"],
        &["rint", "internal"],
    );
    assert_eq!(port_lines(&env, "ri"), Vec::<String>::new());
    // A host IP that is not local.
    env.fails_with(
        &["publish", "192.0.2.77:8083:80", "--container", "rb"],
        &["192.0.2.77", "not an address of this host"],
    );
    assert_eq!(port_lines(&env, "rb"), Vec::<String>::new());

    assert_eq!(port_lines(&env, "ra"), ra_before, "a refusal changed ra");
    assert_answers(outside_tcp(&env, &up, 8080), "ra", "ra still published");
    drop((tl, us));
}

#[test]
fn unpublish_cuts_new_and_established_flows() {
    let env = TestEnv::new("unpub");
    env.create_container("ua", &[]);
    let _srv = echo_server("ua", "ua", 80);
    let up = env.uplink_ip.clone();
    assert_eq!(
        env.ok(&["publish", "8080:80", "--container", "ua"]),
        "80/tcp -> 0.0.0.0:8080\n"
    );
    let (client, _local) = hold_client(&env.outside_ns, &up, 8080);
    assert!(
        wait_for(Duration::from_secs(3), || client
            .lines()
            .iter()
            .filter(|l| l.starts_with("reply ua peer="))
            .count()
            >= 3),
        "the long-lived client gets no answers: {:?}",
        client.lines()
    );
    assert_answers(outside_tcp(&env, &up, 8080), "ua", "new connection");
    // Still answered right before the unpublish.
    client.drain();
    assert!(
        client
            .next_line(Duration::from_secs(1))
            .is_some_and(|l| l.starts_with("reply ua peer=")),
        "the long-lived client stopped getting answers before the unpublish"
    );

    assert_eq!(
        env.ok(&["unpublish", "8080:80", "--container", "ua"]),
        "80/tcp -> 0.0.0.0:8080\n"
    );
    assert_eq!(port_lines(&env, "ua"), Vec::<String>::new());
    // New connections fail at once.
    let r = outside_tcp(&env, &up, 8080);
    assert!(r.is_err(), "new connection after unpublish answered: {r:?}");
    assert!(host_tcp("127.0.0.1", 8080, "x").is_err());
    // The established connection is cut: after replies in flight at most,
    // a tick gets a reset (the client stops) or no answer, and no later
    // tick is answered. Waits on the client's ticks (one line each).
    let cut = |lines: &[String]| lines.iter().position(|l| !l.starts_with("reply ua"));
    assert!(
        wait_for(Duration::from_secs(5), || {
            let lines = client.lines();
            cut(&lines).is_some_and(|i| {
                lines[i].starts_with("error") || lines[i] == "closed" || lines.len() >= i + 3
            })
        }),
        "the established flow was not cut by the unpublish: {:?}",
        client.lines()
    );
    let lines = client.lines();
    let after = &lines[cut(&lines).unwrap_or_default()..];
    assert!(
        !after.iter().any(|l| l.starts_with("reply ua")),
        "the established flow still gets answers after unpublish: {lines:?}"
    );
    // The port can be published again and works.
    env.ok(&["publish", "8080:80", "--container", "ua"]);
    assert_answers(outside_tcp(&env, &up, 8080), "ua", "republished");
}
