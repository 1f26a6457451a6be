use super::*;

const PORT: u16 = 5000;

fn v4(a: [u8; 4]) -> IpAddr {
    Ipv4Addr::from(a).into()
}

fn v6(s: &str) -> IpAddr {
    IpAddr::V6(s.parse().expect("IPv6 address"))
}

fn held(local: IpAddr, v6only: Option<bool>) -> BoundSocket {
    BoundSocket {
        local,
        port: PORT,
        v6only,
        device: false,
    }
}

fn verdict(protocol: Protocol, sockets: &[BoundSocket], probe: IpAddr) -> Verdict {
    BoundSockets::new(protocol, sockets.iter().copied(), 1024).verdict(SocketAddr::new(probe, PORT))
}

use Protocol::{Tcp, Udp};
use Verdict::{Free, InUse, Unsure};

#[test]
fn other_ports_and_empty_ports_are_free() {
    let s = [held(v4([0, 0, 0, 0]), None)];
    let bound = BoundSockets::new(Tcp, s, 1024);
    assert_eq!(bound.verdict("0.0.0.0:5001".parse().unwrap()), Free);
    assert_eq!(bound.verdict("0.0.0.0:5000".parse().unwrap()), InUse);
    assert_eq!(
        BoundSockets::default().verdict("[::]:1".parse().unwrap()),
        Free
    );
}

#[test]
fn ipv4_sockets_hold_ipv4_probes_by_address_and_wildcard() {
    let one = v4([192, 0, 2, 1]);
    let two = v4([192, 0, 2, 2]);
    let any = v4([0, 0, 0, 0]);
    for protocol in [Tcp, Udp] {
        // Same address, or the held socket on the wildcard: in use.
        assert_eq!(verdict(protocol, &[held(one, None)], one), InUse);
        assert_eq!(verdict(protocol, &[held(any, None)], one), InUse);
        assert_eq!(verdict(protocol, &[held(any, None)], any), InUse);
        // Another address: free.
        assert_eq!(verdict(protocol, &[held(two, None)], one), Free);
        // IPv4 sockets never hold an IPv6-only probe.
        assert_eq!(verdict(protocol, &[held(any, None)], v6("::")), Free);
        assert_eq!(
            verdict(protocol, &[held(one, None)], v6("2001:db8::1")),
            Free
        );
    }
    // A wildcard probe against a specific address: TCP looks at every
    // socket of the port; UDP only while the hash slot is short.
    assert_eq!(verdict(Tcp, &[held(one, None)], any), InUse);
    assert_eq!(verdict(Udp, &[held(one, None)], any), Unsure);
}

#[test]
fn ipv6_wildcard_without_v6only_holds_the_ipv4_port_too() {
    let any6 = v6("::");
    let a = v4([192, 0, 2, 1]);
    for protocol in [Tcp, Udp] {
        let dual = [held(any6, Some(false))];
        assert_eq!(verdict(protocol, &dual, a), InUse);
        assert_eq!(verdict(protocol, &dual, v4([0, 0, 0, 0])), InUse);
        assert_eq!(verdict(protocol, &dual, any6), InUse);
        assert_eq!(verdict(protocol, &dual, v6("2001:db8::1")), InUse);
        // V6ONLY: the IPv4 port stays free, the IPv6 one does not.
        let only = [held(any6, Some(true))];
        assert_eq!(verdict(protocol, &only, a), Free);
        assert_eq!(verdict(protocol, &only, v4([0, 0, 0, 0])), Free);
        assert_eq!(verdict(protocol, &only, any6), InUse);
        assert_eq!(verdict(protocol, &only, v6("2001:db8::1")), InUse);
    }
}

#[test]
fn ipv6_sockets_on_addresses() {
    let x = v6("2001:db8::1");
    let y = v6("2001:db8::2");
    for protocol in [Tcp, Udp] {
        // A bind to an IPv6 address makes the socket IPv6-only.
        let on_x = [held(x, Some(true))];
        assert_eq!(verdict(protocol, &on_x, x), InUse);
        assert_eq!(verdict(protocol, &on_x, y), Free);
        assert_eq!(verdict(protocol, &on_x, v4([0, 0, 0, 0])), Free);
        // v4-mapped: an IPv4 socket in all but name.
        let mapped = [held(v6("::ffff:192.0.2.1"), Some(false))];
        assert_eq!(verdict(protocol, &mapped, v4([192, 0, 2, 1])), InUse);
        assert_eq!(verdict(protocol, &mapped, v4([192, 0, 2, 9])), Free);
        assert_eq!(verdict(protocol, &mapped, v6("::")), Free);
        let mapped_any = [held(v6("::ffff:0.0.0.0"), Some(false))];
        assert_eq!(verdict(protocol, &mapped_any, v4([192, 0, 2, 9])), InUse);
    }
    assert_eq!(verdict(Tcp, &[held(x, Some(true))], v6("::")), InUse);
    assert_eq!(verdict(Udp, &[held(x, Some(true))], v6("::")), Unsure);
}

#[test]
fn connected_ipv6_sockets_without_v6only_meet_ipv4_wildcards() {
    // A connection from an IPv6 address (not IPv6-only) is 127.0.0.6 to
    // IPv4: a wildcard TCP bind meets it.
    let client = [held(v6("2001:db8::1"), Some(false))];
    assert_eq!(verdict(Tcp, &client, v4([0, 0, 0, 0])), InUse);
    assert_eq!(verdict(Udp, &client, v4([0, 0, 0, 0])), Unsure);
    assert_eq!(verdict(Tcp, &client, v4([127, 0, 0, 6])), Unsure);
    assert_eq!(verdict(Tcp, &client, v4([192, 0, 2, 1])), Free);
}

#[test]
fn time_wait_counts_as_held() {
    // No SO_REUSEADDR on the probe: TIME_WAIT sockets (no V6ONLY in the
    // dump) hold their address and port.
    let tw4 = [held(v4([192, 0, 2, 1]), None)];
    assert_eq!(verdict(Tcp, &tw4, v4([192, 0, 2, 1])), InUse);
    assert_eq!(verdict(Tcp, &tw4, v4([0, 0, 0, 0])), InUse);
    let tw6 = [held(v6("2001:db8::1"), None)];
    assert_eq!(verdict(Tcp, &tw6, v6("2001:db8::1")), InUse);
    assert_eq!(verdict(Tcp, &tw6, v6("::")), InUse);
    // Whether it was IPv6-only decides an IPv4 wildcard: unknown.
    assert_eq!(verdict(Tcp, &tw6, v4([0, 0, 0, 0])), Unsure);
    assert_eq!(verdict(Tcp, &tw6, v4([192, 0, 2, 1])), Free);
    let tw_mapped = [held(v6("::ffff:192.0.2.1"), None)];
    assert_eq!(verdict(Tcp, &tw_mapped, v4([192, 0, 2, 1])), InUse);
}

#[test]
fn device_bound_tcp_sockets_need_a_bind() {
    let mut s = held(v4([0, 0, 0, 0]), None);
    s.device = true;
    // A VRF member holds the port in its VRF only (TCP); UDP ignores it.
    assert_eq!(verdict(Tcp, &[s], v4([192, 0, 2, 1])), Unsure);
    assert_eq!(verdict(Udp, &[s], v4([192, 0, 2, 1])), InUse);
    // A sure clash elsewhere on the port decides.
    assert_eq!(
        verdict(
            Tcp,
            &[s, held(v4([192, 0, 2, 1]), None)],
            v4([192, 0, 2, 1])
        ),
        InUse
    );
    // No overlap: free, device or not.
    s.local = v4([192, 0, 2, 7]);
    assert_eq!(verdict(Tcp, &[s], v4([192, 0, 2, 1])), Free);
}

#[test]
fn mapped_probes_need_a_bind() {
    assert_eq!(verdict(Tcp, &[], v6("::ffff:192.0.2.1")), Unsure);
    let any = [held(v4([0, 0, 0, 0]), None)];
    assert_eq!(verdict(Tcp, &any, v6("::ffff:192.0.2.1")), Unsure);
}
