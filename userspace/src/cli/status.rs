//! `ebpfnet status`.

use serde_json::Value;

use super::{Format, output::print_json};
use crate::{api::Request, client::Client};

pub async fn run(client: &Client, format: Format) -> anyhow::Result<()> {
    let status = client.call_value(&Request::Status).await?;
    if format == Format::Json {
        print_json(&status);
        return Ok(());
    }
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    println!("ebpfnet daemon {}", text(&status["Version"]));
    println!("state dir: {}", text(&status["StateDir"]));
    println!("pin dir:   {}", text(&status["PinDir"]));
    println!(
        "networks: {}, containers: {}",
        status["Networks"], status["Containers"]
    );
    let uplinks: Vec<String> = list(&status["Uplinks"])
        .iter()
        .map(|u| format!("{} (#{})", text(&u["Name"]), u["Ifindex"]))
        .collect();
    println!("uplinks: {}", uplinks.join(", "));
    println!("programs attached (TC ingress through TCX links; socket hooks on the cgroup):");
    for p in list(&status["Programs"]) {
        // Socket programs hang off a cgroup, which has no ifindex.
        let index = match p["Ifindex"].as_u64() {
            Some(0) | None => String::new(),
            Some(index) => format!(" (#{index})"),
        };
        println!(
            "  {:<20} on {}{index}",
            text(&p["Program"]),
            text(&p["Interface"])
        );
    }
    println!("program counters:");
    for c in list(&status["Counters"]) {
        println!(
            "  {:<20} {} packets, {} bytes",
            text(&c["Program"]),
            c["Packets"],
            c["Bytes"]
        );
    }
    println!("maps:");
    for m in list(&status["Maps"]) {
        println!(
            "  {:<20} {}/{} entries",
            text(&m["Name"]),
            m["Entries"],
            m["MaxEntries"]
        );
    }
    Ok(())
}
