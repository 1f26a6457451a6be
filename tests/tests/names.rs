//! Names: the embedded name server of user-defined networks (names,
//! aliases, PTR, following create/rm/connect/disconnect, forwarding, no
//! answers across networks or to the uplink), and the default bridge
//! network's /etc/hosts (`--link`, `--add-host`, `--hostname`, `--dns`).

mod resolve;

use ebpfnet_tests::*;
use resolve::*;

fn gateway_of(env: &TestEnv, net: &str) -> String {
    env.inspect_network(net)["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap_or_else(|| panic!("network {net} has no gateway"))
        .to_string()
}

#[test]
fn user_networks_resolve_their_own_names_only() {
    let env = TestEnv::new("names-user");
    env.create_network("nmA", &[]);
    env.create_network("nmB", &[]);
    env.create_container("na1", &["--network", "nmA", "--alias", "web"]);
    env.create_container("na2", &["--network", "nmA"]);
    env.create_container("nb1", &["--network", "nmB"]);
    let a1 = env.ip_of("na1", "nmA");
    let b1 = env.ip_of("nb1", "nmB");

    // resolv.conf points at the network's gateway, seen by both exec paths.
    let gw = gateway_of(&env, "nmA");
    let resolv = exec_ok(&env, "na2", &["cat", "/etc/resolv.conf"]);
    assert!(resolv.contains(&format!("nameserver {gw}\n")), "{resolv}");
    assert!(resolv.contains("options ndots:0"), "{resolv}");
    let plain = netns_exec_ok("na2", &["cat", "/etc/resolv.conf"]);
    assert_eq!(plain, resolv, "ip netns exec sees the same resolv.conf");

    // Names and aliases, by getent, python and ping; PTR back to the name.
    assert_eq!(getent(&env, "na2", "na1").as_deref(), Some(a1.as_str()));
    assert_eq!(getent(&env, "na2", "web").as_deref(), Some(a1.as_str()));
    assert_eq!(py_lookup(&env, "na2", "na1").as_deref(), Some(a1.as_str()));
    let out = netns_exec_ok("na2", &["getent", "hosts", "na1"]);
    assert!(out.starts_with(&a1), "ip netns exec getent: {out}");
    exec_ok(&env, "na2", &["ping", "-n", "-c", "1", "-W", "2", "web"]);
    let ptr = exec_ok(&env, "na2", &["getent", "hosts", &a1]);
    assert!(ptr.contains("na1.nmA"), "PTR of {a1}: {ptr}");

    // Real traffic by name.
    let _server = tcp_server("na1", "0.0.0.0", 8080);
    let reply = tcp_by_name(&env, "na2", "web", 8080);
    assert!(reply.starts_with("hello from na1"), "by name: {reply:?}");

    // No resolution across networks, either way.
    assert_eq!(
        py_lookup(&env, "na2", "nb1"),
        None,
        "nmA resolved nmB's nb1"
    );
    assert_eq!(
        py_lookup(&env, "nb1", "na1"),
        None,
        "nmB resolved nmA's na1"
    );
    assert_eq!(
        dns_query("nb1", &gateway_of(&env, "nmB"), "web", "udp")
            .and_then(|a| a.split_whitespace().nth(2).map(str::to_string)),
        None,
        "nmB's server gave nmA's alias"
    );
    // The server answers over TCP as well.
    let tcp = dns_query("na2", &gw, "na1", "tcp");
    assert_eq!(tcp, Some(format!("answer 0 {a1}")), "over TCP");
    assert_eq!(py_lookup(&env, "nb1", "nb1").as_deref(), Some(b1.as_str()));
}

#[test]
fn names_follow_create_connect_disconnect_and_rm() {
    let env = TestEnv::new("names-follow");
    env.create_network("nfA", &[]);
    env.create_network("nfB", &[]);
    env.create_container("nf1", &["--network", "nfA"]);
    env.create_container("nfb", &["--network", "nfB"]);
    assert_eq!(py_lookup(&env, "nf1", "nf2"), None);

    env.create_container("nf2", &["--network", "nfA"]);
    let ip2 = env.ip_of("nf2", "nfA");
    assert_eq!(py_lookup(&env, "nf1", "nf2").as_deref(), Some(ip2.as_str()));

    // Connected with an alias: seen at once on nfA; nfb resolves both
    // networks' names now.
    env.ok(&["network", "connect", "nfA", "nfb", "--alias", "bee"]);
    let b_on_a = env.ip_of("nfb", "nfA");
    assert_eq!(
        py_lookup(&env, "nf1", "nfb").as_deref(),
        Some(b_on_a.as_str())
    );
    assert_eq!(
        py_lookup(&env, "nf1", "bee").as_deref(),
        Some(b_on_a.as_str())
    );
    assert_eq!(
        py_lookup(&env, "nfb", "nf2").as_deref(),
        Some(ip2.as_str()),
        "nfb on two networks: {:?} {:?} {:?}",
        exec(&env, "nfb", &["cat", "/etc/resolv.conf"]),
        exec(&env, "nfb", &["ip", "addr"]),
        dns_query("nfb", &gateway_of(&env, "nfB"), "nf2", "udp"),
    );
    let aliases = &env.endpoint("nfb", "nfA")["Aliases"];
    assert_eq!(aliases, &serde_json::json!(["bee"]), "inspect Aliases");

    env.ok(&["network", "disconnect", "nfA", "nfb"]);
    assert_eq!(
        py_lookup(&env, "nf1", "nfb"),
        None,
        "still resolves after disconnect"
    );
    assert_eq!(py_lookup(&env, "nf1", "bee"), None);
    assert_eq!(py_lookup(&env, "nfb", "nf2"), None);

    env.ok(&["container", "rm", "nf2"]);
    assert_eq!(
        py_lookup(&env, "nf1", "nf2"),
        None,
        "still resolves after rm"
    );
    assert!(
        !std::path::Path::new("/etc/netns/nf2").exists(),
        "/etc/netns/nf2 left after rm"
    );
}

#[test]
fn other_names_go_to_the_upstream_servers() {
    let env = TestEnv::new("names-forward");
    // An upstream the test controls, reached by the daemon over the uplink.
    let _upstream = fake_upstream(&env.outside_ns, &env.outside_ip, "192.0.2.77");
    env.create_network("nwA", &[]);
    env.create_container("nw1", &["--network", "nwA", "--dns", &env.outside_ip]);
    env.create_container("nw2", &["--network", "nwA"]);
    let ip2 = env.ip_of("nw2", "nwA");
    assert_eq!(
        py_lookup(&env, "nw1", "far.example.org").as_deref(),
        Some("192.0.2.77"),
        "forwarded to the --dns server"
    );
    // Network names stay the network's, whatever the upstream says.
    assert_eq!(py_lookup(&env, "nw1", "nw2").as_deref(), Some(ip2.as_str()));
    // On an --internal network nothing leaves.
    env.create_network("nwI", &["--internal"]);
    env.create_container("nwi", &["--network", "nwI", "--dns", &env.outside_ip]);
    assert_eq!(py_lookup(&env, "nwi", "far.example.org"), None);
}

#[test]
fn dns_does_not_answer_the_uplink_side() {
    let env = TestEnv::new("names-uplink");
    env.create_network("nuA", &[]);
    env.create_container("nu1", &["--network", "nuA"]);
    let gw = gateway_of(&env, "nuA");
    let ip1 = env.ip_of("nu1", "nuA");
    // From a container: answered.
    assert_eq!(
        dns_query("nu1", &gw, "nu1", "udp"),
        Some(format!("answer 0 {ip1}"))
    );
    // From the outside namespace, routed to the gateway through the
    // uplink: no answer over UDP, and TCP is hung up on.
    assert!(
        netns_exec_ok(&env.outside_ns, &["ip", "route", "get", &gw]).contains("via"),
        "the outside has no route to {gw}"
    );
    for proto in ["udp", "tcp"] {
        assert_eq!(
            dns_query(&env.outside_ns, &gw, "nu1", proto),
            None,
            "the name server answered the uplink over {proto}"
        );
    }
    // Nor does the default bridge network have a server.
    env.create_container("nud", &[]);
    assert_eq!(
        dns_query("nud", "10.214.0.1", "nud", "udp"),
        None,
        "the default bridge network answered names"
    );
}

#[test]
fn default_bridge_resolves_only_links_and_added_hosts() {
    let env = TestEnv::new("names-bridge");
    env.create_container("lk1", &[]);
    env.create_container("lk2", &[]);
    env.create_container(
        "lk3",
        &[
            "--link",
            "lk1:db",
            "--add-host",
            "gw.test:192.0.2.10",
            "--hostname",
            "box3",
            "--dns",
            "192.0.2.53",
        ],
    );
    let ip1 = env.ip_of("lk1", "bridge");
    let ip3 = env.ip_of("lk3", "bridge");

    // No names on the default bridge network.
    assert_eq!(py_lookup(&env, "lk2", "lk1"), None, "bridge resolved lk1");
    // The link, one way: lk3 knows lk1 by name and alias; lk1 not lk3.
    assert_eq!(getent(&env, "lk3", "db").as_deref(), Some(ip1.as_str()));
    assert_eq!(py_lookup(&env, "lk3", "lk1").as_deref(), Some(ip1.as_str()));
    exec_ok(&env, "lk3", &["ping", "-n", "-c", "1", "-W", "2", "db"]);
    assert_eq!(py_lookup(&env, "lk1", "lk3"), None, "the link is one way");
    // --add-host, --hostname, --dns.
    assert_eq!(
        getent(&env, "lk3", "gw.test").as_deref(),
        Some("192.0.2.10")
    );
    assert_eq!(getent(&env, "lk3", "box3").as_deref(), Some(ip3.as_str()));
    let c = env.inspect_container("lk3");
    assert_eq!(c["Config"]["Hostname"], "box3", "{c:#}");
    assert_eq!(c["HostsPath"], "/etc/netns/lk3/hosts", "{c:#}");
    let resolv = exec_ok(&env, "lk3", &["cat", "/etc/resolv.conf"]);
    assert!(resolv.starts_with("nameserver 192.0.2.53\n"), "{resolv}");
    let resolv2 = exec_ok(&env, "lk2", &["cat", "/etc/resolv.conf"]);
    assert!(
        !resolv2.contains("10.214.0.1"),
        "bridge points at a server: {resolv2}"
    );

    // Refused where Docker refuses, or where they would mean nothing.
    env.create_network("nlU", &[]);
    env.fails_with(
        &[
            "container",
            "create",
            "lkx",
            "--network",
            "nlU",
            "--link",
            "lk1",
        ],
        &["--link", "default bridge"],
    );
    env.fails_with(
        &["container", "create", "lky", "--alias", "foo"],
        &["--alias", "user-defined"],
    );
    env.fails_with_status(
        2,
        &["container", "create", "lkz", "--add-host", "bad"],
        &["--add-host"],
    );
    env.fails_with(
        &["container", "create", "lkw", "--link", "nosuch"],
        &["nosuch"],
    );
}
