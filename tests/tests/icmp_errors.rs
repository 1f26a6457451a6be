//! ICMP errors a container sends about a published flow reach the client
//! as errors about the published address: a UDP client of a published port
//! with no server behind it gets "connection refused", as from a host.

use ebpfnet_tests::*;

/// `IP PORT`: a connected UDP socket sends twice and reads; prints
/// `refused` when the kernel reports ECONNREFUSED (an ICMP port
/// unreachable matched the socket), `timeout` otherwise.
const UDP_REFUSED: &str = r#"
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(1.5)
s.connect((sys.argv[1], int(sys.argv[2])))
for _ in range(2):
    try:
        s.send(b"anyone?")
        s.recv(100)
        print("answered")
        sys.exit(0)
    except ConnectionRefusedError:
        print("refused")
        sys.exit(0)
    except socket.timeout:
        pass
print("timeout")
"#;

#[test]
fn port_unreachable_from_a_published_container_reaches_the_client() {
    let env = TestEnv::new("icmperr");
    env.create_container("ie1", &["-p", "5353:53/udp"]);
    // No server on the container's port 53: its stack answers with ICMP
    // port unreachable about the datagram it got.
    let out = netns_exec(
        &env.outside_ns,
        &[python(), "-c", UDP_REFUSED, &env.uplink_ip, "5353"],
    );
    assert_eq!(
        out.stdout_str().trim(),
        "refused",
        "the client did not get the container's port unreachable: {}",
        out.stderr_str()
    );
}
