//! `--metrics-addr`: Prometheus metrics over HTTP. Traffic through a
//! published port and a dropped packet show up in a scrape.

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use ebpfnet_tests::traffic::*;
use ebpfnet_tests::*;

/// `GET /metrics` with a plain HTTP/1.1 client: (status line, body).
fn scrape(port: u16) -> (String, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect to the metrics port {port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout");
    write!(
        stream,
        "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n\r\n"
    )
    .expect("send the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let (head, body) = response
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("no end of headers in {response:?}"));
    let status = head.lines().next().unwrap_or_default().to_string();
    (status, body.to_string())
}

/// Samples of the text format: `name{labels}` -> value, where labels are
/// written as in the exposition (`name{a="1",b="2"}`).
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| {
            let (series, value) = l
                .rsplit_once(' ')
                .unwrap_or_else(|| panic!("not a sample line: {l:?}"));
            let value: f64 = value
                .parse()
                .unwrap_or_else(|e| panic!("bad value in {l:?}: {e}"));
            (series.to_string(), value)
        })
        .collect()
}

#[track_caller]
fn sample(samples: &BTreeMap<String, f64>, series: &str) -> f64 {
    *samples
        .get(series)
        .unwrap_or_else(|| panic!("no sample {series} among {samples:#?}"))
}

#[test]
fn metrics_show_published_port_traffic_drops_and_map_fill() {
    let metrics_port = free_local_port();
    let addr = format!("127.0.0.1:{metrics_port}");
    let env = TestEnv::with_daemon_args("metrics", &["--metrics-addr", &addr]);
    let host_port = free_local_port();
    let (up, out) = (env.uplink_ip.clone(), env.outside_ns.clone());
    env.create_container("mc", &["-p", &format!("{up}:{host_port}:7000")]);
    let _server = echo_server("mc", "mc", 7000);

    let published = format!(
        "ebpfnet_published_packets_total{{host_ip=\"{up}\",host_port=\"{host_port}\",\
         protocol=\"tcp\",container=\"mc\",container_port=\"7000\"}}"
    );
    let unsolicited = "ebpfnet_drops_total{reason=\"unsolicited\"}";
    let (status, body) = scrape(metrics_port);
    assert!(status.contains(" 200 "), "{status}\n{body}");
    let before = samples(&body);
    assert_eq!(sample(&before, &published), 0.0);
    let drops_before = sample(&before, unsolicited);

    // Through the published port, then straight at the container's address.
    for _ in 0..3 {
        let reply = request(&out, &up, host_port, "tcp");
        assert!(
            reply.as_ref().is_ok_and(|r| r.starts_with("mc ")),
            "{reply:?}"
        );
    }
    netns_exec_ok(&out, &["ip", "route", "add", "10.214.0.0/16", "via", &up]);
    let direct = request(&out, &env.ip_of("mc", "bridge"), 7000, "tcp");
    assert!(
        direct.is_err(),
        "the container answered directly: {direct:?}"
    );

    let (_, body) = scrape(metrics_port);
    let after = samples(&body);
    assert!(sample(&after, &published) >= 3.0, "{body}");
    assert!(
        sample(&after, &published.replace("packets", "flows")) >= 3.0,
        "{body}"
    );
    assert!(sample(&after, unsolicited) > drops_before, "{body}");
    assert!(
        sample(
            &after,
            "ebpfnet_program_packets_total{program=\"uplink_ingress\"}"
        ) > 0.0
    );
    assert_eq!(
        sample(&after, "ebpfnet_map_entries{map=\"PUBLISHED\"}"),
        1.0
    );
    assert!(sample(&after, "ebpfnet_map_max_entries{map=\"NAT_TCP\"}") > 0.0);
    assert_eq!(sample(&after, "ebpfnet_containers"), 1.0);
    assert!(body.trim_end().ends_with("# EOF"), "{body}");

    // Only /metrics is served.
    let mut stream = TcpStream::connect(("127.0.0.1", metrics_port)).expect("connect");
    write!(
        stream,
        "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut other = String::new();
    stream.read_to_string(&mut other).expect("read");
    assert!(other.starts_with("HTTP/1.1 404"), "{other}");
}

#[test]
fn a_metrics_port_in_use_stops_the_daemon_before_it_makes_anything() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    let addr = taken.local_addr().expect("local addr").to_string();
    let mut env = TestEnv::without_daemon("metricsbusy");
    env.daemon_args = vec!["--metrics-addr".into(), addr.clone()];
    env.spawn_daemon(&[]);
    let status = env
        .wait_daemon_exit(Duration::from_secs(10))
        .unwrap_or_else(|| panic!("the daemon kept running:\n{}", env.daemon_log()));
    assert!(!status.success(), "the daemon exited with {status}");
    let log = env.daemon_log();
    assert!(
        log.contains(&format!("cannot serve metrics on {addr}")),
        "{log}"
    );
    assert!(!env.pin_dir.exists(), "{} was made", env.pin_dir.display());
    assert!(!env.sock.exists(), "{} was made", env.sock.display());
}
