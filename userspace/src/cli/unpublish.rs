//! `ebpfnet unpublish SPEC... --container NAME`.

use anyhow::Context as _;
use clap::Args;

use super::{Format, publish::print_mappings};
use crate::{api::request::Unpublish, client::Client, portspec::PortSpec};

#[derive(Debug, Args)]
pub struct UnpublishArgs {
    /// Mappings to remove: [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp];
    /// without a host port, every mapping of that container port.
    #[arg(required = true, value_name = "SPEC")]
    pub specs: Vec<PortSpec>,
    /// The container whose ports they are.
    #[arg(long)]
    pub container: String,
}

/// Prints the removed mappings, as `publish` prints the new ones.
pub async fn run(args: UnpublishArgs, client: &Client, format: Format) -> anyhow::Result<()> {
    let ports = args.specs.into_iter().flat_map(|PortSpec(p)| p).collect();
    let container = args.container;
    let removed = client
        .call(Unpublish {
            container: container.clone(),
            ports,
        })
        .await
        .with_context(|| format!("cannot unpublish ports of container {container}"))?;
    print_mappings(&removed, format)
}
