//! NAT66 beyond the dual-stack basics (nat66.rs), end to end with real
//! ping6, TCP and UDP against the outside namespace, which has no route
//! back to the container subnets:
//! - masquerade from an IPv6-only network (`--ipv6 --ipv4=false`).

use std::time::Duration;

use ebpfnet_tests::ipv6::v6_of;
use ebpfnet_tests::outside6::*;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

fn ping6(ns: &str, ip: &str) -> bool {
    netns_exec(ns, &["ping", "-6", "-n", "-c", "1", "-W", "1", ip])
        .status
        .success()
}

#[test]
fn an_ipv6_only_network_masquerades_to_the_outside() {
    let env = TestEnv::new("nat66only");
    env.create_network("o66", &["--ipv6", "--ipv4=false"]);
    env.create_container("oc", &["--network", "o66"]);
    let (c6, _, _) = v6_of(&env, "oc", "o66");
    let _uplink6 = Uplink6::add(&env);
    let out = env.outside_ns.clone();
    let _server = record(Some(&out), &[python(), "-c", SERVER, "9000"], true);

    assert!(
        wait_for(Duration::from_secs(10), || ping6("oc", OUTSIDE6)),
        "no ICMPv6 echo through NAT66 from an IPv6-only network"
    );
    let (min, max) = masq_range(&env);
    for proto in ["tcp", "udp"] {
        let answer = ask("oc", proto, OUTSIDE6, 9000, proto, None);
        let (peer, port, _) = parse_answer(&answer);
        assert_eq!(peer, UPLINK6, "{answer}");
        assert!(
            (min..=max).contains(&port),
            "{proto} port {port} not in {min}-{max}"
        );
    }
    let table = env.ok(&["flows"]);
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("tcp") && l.contains(&c6) && l.contains("masquerade")),
        "no masqueraded TCP flow of {c6}:\n{table}"
    );
}
