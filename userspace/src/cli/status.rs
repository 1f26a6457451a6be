//! `ebpfnet status`.

use super::{Format, output::print_json};
use crate::{
    api::{
        observe::{ClusterView, StatusView},
        request::Status,
    },
    client::Client,
};

pub async fn run(client: &Client, format: Format) -> anyhow::Result<()> {
    let status = client.call(Status).await?;
    match format {
        Format::Json => print_json(&status)?,
        Format::Table => {
            for line in lines(&status) {
                println!("{line}");
            }
        }
    }
    Ok(())
}

/// The text form, line by line.
fn lines(status: &StatusView) -> Vec<String> {
    let mut out = vec![
        format!("ebpfnet daemon {}", status.version),
        format!("state dir: {}", status.state_dir),
        format!("pin dir:   {}", status.pin_dir),
        format!(
            "networks: {}, containers: {}",
            status.networks, status.containers
        ),
    ];
    let uplinks: Vec<String> = status
        .uplinks
        .iter()
        .map(|u| format!("{} (#{})", u.name, u.ifindex))
        .collect();
    out.push(format!("uplinks: {}", uplinks.join(", ")));
    let tc = match status.tc_attach.as_str() {
        "netlink" => "netlink filters in clsact qdiscs",
        _ => "TCX links",
    };
    out.push(format!(
        "programs attached (TC hooks through {tc}; socket hooks on the cgroup):"
    ));
    for p in &status.programs {
        // Socket programs hang off a cgroup, which has no ifindex.
        let index = match p.ifindex {
            0 => String::new(),
            index => format!(" (#{index})"),
        };
        out.push(format!("  {:<20} on {}{index}", p.program, p.interface));
    }
    out.push("program counters:".into());
    for c in &status.counters {
        out.push(format!(
            "  {:<20} {} packets, {} bytes",
            c.program, c.packets, c.bytes
        ));
    }
    out.push("maps:".into());
    for m in &status.maps {
        out.push(format!(
            "  {:<20} {}/{} entries",
            m.name, m.entries, m.max_entries
        ));
    }
    if let Some(cluster) = &status.cluster {
        out.extend(cluster_lines(cluster));
    }
    out
}

/// The cluster part: the store and whether it answers, this node, the
/// live nodes.
fn cluster_lines(cluster: &ClusterView) -> Vec<String> {
    let state = match (&cluster.error, cluster.connected) {
        (_, true) => "connected",
        (Some(_), false) => "UNREACHABLE",
        (None, false) => "connecting",
    };
    let mut out = vec![format!("cluster store: {} ({state})", cluster.store)];
    if let (false, Some(error)) = (cluster.connected, &cluster.error) {
        out.push(format!("  last error: {error}"));
    }
    out.extend([
        format!(
            "this node: {} advertising {} (lease TTL {} s)",
            cluster.node_id, cluster.advertise_addr, cluster.lease_ttl_seconds
        ),
        match cluster.connected {
            true => format!("live nodes: {}", cluster.nodes.len()),
            false => format!("live nodes (as last seen): {}", cluster.nodes.len()),
        },
    ]);
    for node in &cluster.nodes {
        out.push(format!(
            "  {:<14} {:<16} {} ({})",
            node.node_id, node.advertise_addr, node.hostname, node.version
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::observe::{Attachment, MapFill, ProgramCounters, samples};

    #[test]
    fn text_form() {
        let status = StatusView {
            programs: vec![
                Attachment {
                    program: "uplink_ingress".into(),
                    interface: "eth0".into(),
                    ifindex: 2,
                },
                Attachment {
                    program: "sock_connect4".into(),
                    interface: "cgroup".into(),
                    ifindex: 0,
                },
            ],
            maps: vec![MapFill {
                name: "PUBLISHED".into(),
                entries: 2,
                max_entries: 65536,
            }],
            counters: vec![ProgramCounters {
                program: "uplink_ingress".into(),
                packets: 7,
                bytes: 420,
            }],
            ..samples::status(1, 3)
        };
        assert_eq!(
            lines(&status),
            [
                "ebpfnet daemon 0.1.0",
                "state dir: /var/lib/ebpfnet",
                "pin dir:   /sys/fs/bpf/ebpfnet",
                "networks: 1, containers: 3",
                "uplinks: eth0 (#2)",
                "programs attached (TC hooks through TCX links; socket hooks on the cgroup):",
                "  uplink_ingress       on eth0 (#2)",
                "  sock_connect4        on cgroup",
                "program counters:",
                "  uplink_ingress       7 packets, 420 bytes",
                "maps:",
                "  PUBLISHED            2/65536 entries",
            ]
        );
    }

    #[test]
    fn cluster_lines_name_the_store_and_the_nodes() {
        let mut cluster = ClusterView {
            store: "etcd://10.0.0.5:2379".into(),
            node_id: "3f9c0a1b2c3d".into(),
            advertise_addr: "10.0.0.7".into(),
            connected: true,
            error: None,
            lease_ttl_seconds: 10,
            nodes: vec![crate::api::observe::ClusterNode {
                node_id: "3f9c0a1b2c3d".into(),
                advertise_addr: "10.0.0.7".into(),
                hostname: "h1".into(),
                version: "0.1.0".into(),
            }],
        };
        assert_eq!(
            cluster_lines(&cluster),
            [
                "cluster store: etcd://10.0.0.5:2379 (connected)",
                "this node: 3f9c0a1b2c3d advertising 10.0.0.7 (lease TTL 10 s)",
                "live nodes: 1",
                "  3f9c0a1b2c3d   10.0.0.7         h1 (0.1.0)",
            ]
        );
        cluster.connected = false;
        cluster.error = Some("cluster store etcd://10.0.0.5:2379 is unreachable: refused".into());
        assert_eq!(
            cluster_lines(&cluster)[..2],
            [
                "cluster store: etcd://10.0.0.5:2379 (UNREACHABLE)",
                "  last error: cluster store etcd://10.0.0.5:2379 is unreachable: refused",
            ]
        );
    }
}
