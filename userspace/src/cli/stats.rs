//! `ebpfnet stats`: program counters, per-mapping counters, drops.

use serde_json::Value;

use super::{Format, output::print_json};
use crate::{api::Request, client::Client};

fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_string()
}

fn list(v: &Value) -> Vec<Value> {
    v.as_array().cloned().unwrap_or_default()
}

/// The text form, line by line.
fn lines(stats: &Value) -> Vec<String> {
    let mut out = vec!["programs:".to_string()];
    for p in list(&stats["Programs"]) {
        out.push(format!(
            "  {:<20} {} packets, {} bytes",
            text(&p["Program"]),
            p["Packets"],
            p["Bytes"]
        ));
    }
    out.push("published ports:".into());
    let mappings = list(&stats["Mappings"]);
    if mappings.is_empty() {
        out.push("  (none)".into());
    }
    let width = mappings
        .iter()
        .map(|m| text(&m["Mapping"]).len())
        .max()
        .unwrap_or(0);
    for m in &mappings {
        out.push(format!(
            "  {:<width$}   {} packets, {} bytes, {} flows",
            text(&m["Mapping"]),
            m["Packets"],
            m["Bytes"],
            m["Flows"]
        ));
    }
    out.push("drops:".into());
    for d in list(&stats["Drops"]) {
        out.push(format!("  {:<28} {}", text(&d["Reason"]), d["Count"]));
    }
    out
}

pub async fn run(client: &Client, format: Format) -> anyhow::Result<()> {
    let stats = client.call_value(&Request::Stats).await?;
    match format {
        Format::Json => print_json(&stats),
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
    use serde_json::json;

    use super::*;

    #[test]
    fn text_form() {
        let stats = json!({
            "Programs": [{"Program": "uplink_ingress", "Packets": 3, "Bytes": 180}],
            "Mappings": [{"Mapping": "0.0.0.0:8080/tcp -> web:80", "Packets": 2, "Bytes": 120, "Flows": 1}],
            "Drops": [{"Reason": "spoofed_ip", "Count": 0}, {"Reason": "isolation", "Count": 4}],
        });
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
}
