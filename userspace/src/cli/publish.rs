//! `ebpfnet publish SPEC... --container NAME`.

use anyhow::Context as _;
use clap::Args;

use super::{Format, output::print_json};
use crate::{
    api::request::Publish,
    client::Client,
    portspec::{PortMapping, PortSpec},
};

#[derive(Debug, Args)]
pub struct PublishArgs {
    /// Ports to publish: [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp].
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<PortSpec>,
    /// The container whose ports they are.
    #[arg(long)]
    pub container: String,
}

pub async fn run(args: PublishArgs, client: &Client, format: Format) -> anyhow::Result<()> {
    let ports = args.specs.into_iter().flat_map(|PortSpec(p)| p).collect();
    let container = args.container;
    let mappings = client
        .call(Publish {
            container: container.clone(),
            ports,
        })
        .await
        .with_context(|| format!("cannot publish ports of container {container}"))?;
    print_mappings(&mappings, format)
}

/// One `docker port` line per mapping, or a JSON array.
pub fn print_mappings(mappings: &[PortMapping], format: Format) -> anyhow::Result<()> {
    match format {
        Format::Json => print_json(&mappings)?,
        Format::Table => {
            for m in mappings {
                println!("{m}");
            }
        }
    }
    Ok(())
}
