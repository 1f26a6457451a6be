//! `ebpfnet flows`: the NAT table, one row per flow.

use super::{
    Format,
    output::{print_json, print_table},
};
use crate::{
    api::{observe::FlowView, request::Flows},
    client::Client,
    flow_view::format_duration,
};

const HEADERS: [&str; 7] = [
    "PROTO",
    "ORIGINAL",
    "TRANSLATED",
    "KIND",
    "STATE",
    "AGE",
    "IDLE",
];

fn row(flow: &FlowView) -> Vec<String> {
    vec![
        flow.protocol.clone(),
        flow.original.clone(),
        flow.translated.clone(),
        flow.kind.clone(),
        flow.state.clone(),
        format_duration(flow.age_ms),
        format_duration(flow.idle_ms),
    ]
}

pub async fn run(client: &Client, format: Format) -> anyhow::Result<()> {
    let flows = client.call(Flows).await?;
    match format {
        Format::Json => print_json(&flows)?,
        Format::Table => {
            let rows: Vec<Vec<String>> = flows.iter().map(row).collect();
            print_table(&HEADERS, &rows);
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::observe::samples;

    #[test]
    fn a_row_per_flow() {
        let flow = samples::published_flow("10.214.0.2", Vec::new());
        assert_eq!(
            row(&flow),
            [
                "tcp",
                "203.0.113.2:40000 -> 203.0.113.1:8080",
                "203.0.113.2:40000 -> 10.214.0.2:80",
                "published",
                "established,replied",
                "1m05s",
                "1s"
            ]
        );
        assert_eq!(row(&flow).len(), HEADERS.len());
    }
}
