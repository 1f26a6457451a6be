//! Fragmented IPv6 through NAT66, end to end: a container's 3000-byte UDP
//! datagram (fragmented by its own stack over its 1500-byte link) reaches
//! an outside echo server from the uplink's address, and the server's
//! 3000-byte answer (fragmented by the server) comes back whole; the same
//! for an ICMPv6 echo. The outside has no route to the container subnet,
//! so only translated fragments — the first by its ports, the later ones
//! by the first's record — make the round trip. Between two containers of
//! the network, IPv6 fragments pass as they are.

use std::time::Duration;

use ebpfnet_tests::outside6::{OUTSIDE6, Uplink6, wait_echo6};
use ebpfnet_tests::paths::udp_round_trip;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

#[test]
fn fragmented_datagrams_go_out_and_back_through_nat66() {
    let env = TestEnv::new("frag66");
    env.create_network("f66", &["--ipv6"]);
    env.create_container("f6", &["--network", "f66"]);
    env.create_container("f6peer", &["--network", "f66"]);
    let _uplink6 = Uplink6::add(&env);
    let _echo = udp_echo_server_on(&env.outside_ns, "::", 9001);
    wait_echo6("f6", OUTSIDE6, Duration::from_secs(10));
    let got = udp_round_trip("f6", OUTSIDE6, 9001, 3000, false);
    assert_eq!(
        got,
        Ok("echoed 3000".to_string()),
        "3000-byte UDP datagram through NAT66"
    );
    let echo = netns_exec(
        "f6",
        &[
            "ping", "-6", "-n", "-c", "1", "-W", "2", "-s", "3000", OUTSIDE6,
        ],
    );
    assert!(
        echo.status.success(),
        "3000-byte ICMPv6 echo through NAT66: {}",
        echo.stdout_str()
    );
    let _peer_echo = udp_echo_server_on("f6peer", "::", 9002);
    let peer = env.endpoint("f6peer", "f66")["GlobalIPv6Address"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(
        udp_round_trip("f6", &peer, 9002, 3000, false),
        Ok("echoed 3000".to_string()),
        "3000-byte UDP datagram to a container of the network over IPv6"
    );
    assert_eq!(drop_count(&env, "fragment"), 0, "fragments were dropped");
}
