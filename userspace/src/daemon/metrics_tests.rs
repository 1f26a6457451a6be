use super::*;
use crate::api::observe::{MapFill, samples};

fn sample() -> (StatsView, StatusView) {
    let stats = StatsView {
        programs: vec![samples::uplink_program()],
        mappings: vec![samples::web_mapping(7, 420, 2)],
        drops: vec![
            samples::drop_count("isolation", 4),
            samples::drop_count("spoofed_ip", 0),
        ],
    };
    let status = StatusView {
        uplinks: Vec::new(),
        pin_dir: String::new(),
        state_dir: String::new(),
        maps: vec![MapFill {
            name: "NAT_TCP".into(),
            entries: 6,
            max_entries: 4096,
        }],
        ..samples::status(2, 1)
    };
    (stats, status)
}

#[test]
fn every_counter_and_fill_level_is_rendered() {
    let (stats, status) = sample();
    let text = render(&stats, &status).expect("render");
    for line in [
        "# TYPE ebpfnet_program_packets counter",
        r#"ebpfnet_program_packets_total{program="uplink_ingress"} 3"#,
        r#"ebpfnet_program_bytes_total{program="uplink_ingress"} 180"#,
        r#"ebpfnet_published_packets_total{host_ip="0.0.0.0",host_port="8080",protocol="tcp",container="web",container_port="80"} 7"#,
        r#"ebpfnet_published_bytes_total{host_ip="0.0.0.0",host_port="8080",protocol="tcp",container="web",container_port="80"} 420"#,
        r#"ebpfnet_published_flows_total{host_ip="0.0.0.0",host_port="8080",protocol="tcp",container="web",container_port="80"} 2"#,
        r#"ebpfnet_drops_total{reason="isolation"} 4"#,
        r#"ebpfnet_drops_total{reason="spoofed_ip"} 0"#,
        "# TYPE ebpfnet_map_entries gauge",
        r#"ebpfnet_map_entries{map="NAT_TCP"} 6"#,
        r#"ebpfnet_map_max_entries{map="NAT_TCP"} 4096"#,
        "ebpfnet_networks 2",
        "ebpfnet_containers 1",
        "# EOF",
    ] {
        assert!(
            text.lines().any(|l| l == line),
            "no line {line:?} in\n{text}"
        );
    }
}

#[test]
fn only_get_of_metrics_is_served() {
    assert_eq!(route(&Method::Get, "/metrics"), Route::Metrics);
    assert_eq!(route(&Method::Head, "/metrics?x=1"), Route::Metrics);
    assert_eq!(route(&Method::Get, "/"), Route::NotFound);
    assert_eq!(route(&Method::Get, "/metricsx"), Route::NotFound);
    assert_eq!(route(&Method::Post, "/metrics"), Route::NotAllowed);
}
