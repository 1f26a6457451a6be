//! `ebpfnet status`.

use super::{Format, output::print_json};
use crate::{
    api::{observe::StatusView, request::Status},
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
    out.push(
        "programs attached (TC ingress through TCX links; socket hooks on the cgroup):".into(),
    );
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
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::observe::{Attachment, MapFill, ProgramCounters, Uplink};

    #[test]
    fn text_form() {
        let status = StatusView {
            version: "0.1.0".into(),
            uplinks: vec![Uplink {
                name: "eth0".into(),
                ifindex: 2,
            }],
            pin_dir: "/sys/fs/bpf/ebpfnet".into(),
            state_dir: "/var/lib/ebpfnet".into(),
            networks: 1,
            containers: 3,
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
            interfaces: Vec::new(),
        };
        assert_eq!(
            lines(&status),
            [
                "ebpfnet daemon 0.1.0",
                "state dir: /var/lib/ebpfnet",
                "pin dir:   /sys/fs/bpf/ebpfnet",
                "networks: 1, containers: 3",
                "uplinks: eth0 (#2)",
                "programs attached (TC ingress through TCX links; socket hooks on the cgroup):",
                "  uplink_ingress       on eth0 (#2)",
                "  sock_connect4        on cgroup",
                "program counters:",
                "  uplink_ingress       7 packets, 420 bytes",
                "maps:",
                "  PUBLISHED            2/65536 entries",
            ]
        );
    }
}
