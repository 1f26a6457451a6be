//! Fragmented UDP end to end: a 3000-byte datagram (fragmented by its
//! sender over 1500-byte links) to a published port reaches the container
//! whole and its 3000-byte answer reaches the client; the same from a
//! container through masquerade to an outside server and back.

use ebpfnet_tests::paths::udp_round_trip;
use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

#[test]
fn fragmented_udp_to_a_published_port_and_back() {
    let env = TestEnv::new("frag1");
    env.create_container("fr1", &["-p", "5353:53/udp"]);
    let _echo = udp_echo_server("fr1", 53);
    let got = udp_round_trip(&env.outside_ns, &env.uplink_ip, 5353, 3000, false);
    assert_eq!(
        got,
        Ok("echoed 3000".to_string()),
        "3000-byte datagram to a published port"
    );
    assert_eq!(drop_count(&env, "fragment"), 0, "fragments were dropped");
}

#[test]
fn fragmented_udp_through_masquerade_and_back() {
    let env = TestEnv::new("frag2");
    env.create_container("fr2", &[]);
    let _echo = udp_echo_server(&env.outside_ns, 9001);
    let got = udp_round_trip("fr2", &env.outside_ip, 9001, 3000, false);
    assert_eq!(
        got,
        Ok("echoed 3000".to_string()),
        "3000-byte datagram through masquerade"
    );
    assert_eq!(drop_count(&env, "fragment"), 0, "fragments were dropped");
}
