//! Fragmented UDP end to end: a 3000-byte datagram (fragmented by its
//! sender over 1500-byte links) to a published port reaches the container
//! whole and its 3000-byte answer reaches the client; the same from a
//! container through masquerade to an outside server and back.

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// `IP PORT SIZE`: sends SIZE random bytes without DF (so the stack
/// fragments them) and waits for the same bytes back; prints `echoed N`.
const BIG_UDP: &str = r#"
import os, socket, sys
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
s.settimeout(1.5)
data = os.urandom(int(sys.argv[3]))
for _ in range(3):
    s.sendto(data, (sys.argv[1], int(sys.argv[2])))
    try:
        d, a = s.recvfrom(65535)
    except socket.timeout:
        continue
    if d == data:
        print("echoed %d" % len(d))
        sys.exit(0)
    sys.exit("answer differs: %d bytes" % len(d))
sys.exit("no answer")
"#;

fn big_udp(ns: &str, ip: &str, port: u16, size: usize) -> Result<String, String> {
    let out = netns_exec(
        ns,
        &[
            python(),
            "-c",
            BIG_UDP,
            ip,
            &port.to_string(),
            &size.to_string(),
        ],
    );
    if out.status.success() {
        Ok(out.stdout_str().trim().to_string())
    } else {
        Err(out.stderr_str())
    }
}

#[test]
fn fragmented_udp_to_a_published_port_and_back() {
    let env = TestEnv::new("frag1");
    env.create_container("fr1", &["-p", "5353:53/udp"]);
    let _echo = udp_echo_server("fr1", 53);
    let got = big_udp(&env.outside_ns, &env.uplink_ip, 5353, 3000);
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
    let got = big_udp("fr2", &env.outside_ip, 9001, 3000);
    assert_eq!(
        got,
        Ok("echoed 3000".to_string()),
        "3000-byte datagram through masquerade"
    );
    assert_eq!(drop_count(&env, "fragment"), 0, "fragments were dropped");
}
