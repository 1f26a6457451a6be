//! ICMP errors a container sends about a published flow reach the client
//! as errors about the published address: a UDP client of a published port
//! with no server behind it gets "connection refused", as from a host.

use ebpfnet_tests::*;

#[test]
fn port_unreachable_from_a_published_container_reaches_the_client() {
    let env = TestEnv::new("icmperr");
    env.create_container("ie1", &["-p", "5353:53/udp"]);
    // No server on the container's port 53: its stack answers with ICMP
    // port unreachable about the datagram it got.
    let out = udp_connected_outcome(&env.outside_ns, &env.uplink_ip, 5353);
    assert_eq!(
        out.stdout_str().trim(),
        "refused",
        "the client did not get the container's port unreachable: {}",
        out.stderr_str()
    );
}
