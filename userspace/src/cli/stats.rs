//! `ebpfnet stats`: program counters, per-mapping counters, drops.

use super::{Format, output::print_json};
use crate::{
    api::{observe::StatsView, request::Stats},
    client::Client,
};

/// The text form, line by line.
fn lines(stats: &StatsView) -> Vec<String> {
    let mut out = vec!["programs:".to_string()];
    for p in &stats.programs {
        out.push(format!(
            "  {:<20} {} packets, {} bytes",
            p.program, p.packets, p.bytes
        ));
    }
    out.push("published ports:".into());
    if stats.mappings.is_empty() {
        out.push("  (none)".into());
    }
    let width = stats
        .mappings
        .iter()
        .map(|m| m.mapping.len())
        .max()
        .unwrap_or(0);
    for m in &stats.mappings {
        out.push(format!(
            "  {:<width$}   {} packets, {} bytes, {} flows",
            m.mapping, m.packets, m.bytes, m.flows
        ));
    }
    out.push("drops:".into());
    for d in &stats.drops {
        out.push(format!("  {:<28} {}", d.reason, d.count));
    }
    out
}

pub async fn run(client: &Client, format: Format) -> anyhow::Result<()> {
    let stats = client.call(Stats).await?;
    match format {
        Format::Json => print_json(&stats)?,
        Format::Table => {
            for line in lines(&stats) {
                println!("{line}");
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::observe::samples;

    #[test]
    fn text_form() {
        let stats = StatsView {
            programs: vec![samples::uplink_program()],
            mappings: vec![samples::web_mapping(2, 120, 1)],
            drops: vec![
                samples::drop_count("spoofed_ip", 0),
                samples::drop_count("isolation", 4),
            ],
        };
        assert_eq!(
            lines(&stats),
            [
                "programs:",
                "  uplink_ingress       3 packets, 180 bytes",
                "published ports:",
                "  0.0.0.0:8080/tcp -> web:80   2 packets, 120 bytes, 1 flows",
                "drops:",
                "  spoofed_ip                   0",
                "  isolation                    4",
            ]
        );
    }

    #[test]
    fn no_mappings_say_none() {
        let stats = StatsView {
            programs: Vec::new(),
            mappings: Vec::new(),
            drops: Vec::new(),
        };
        assert_eq!(
            lines(&stats),
            ["programs:", "published ports:", "  (none)", "drops:"]
        );
    }
}
