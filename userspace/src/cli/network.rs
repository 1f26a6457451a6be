//! `ebpfnet network …`.

use std::net::Ipv4Addr;

use anyhow::Context as _;
use clap::Subcommand;
use ipnetwork::Ipv4Network;
use serde_json::Value;

use super::{
    Format,
    output::{print_json, print_list},
    report_batch,
};
use crate::{
    api::{BatchResult, Request},
    client::Client,
    names::short_id,
};

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a bridge network; prints its id.
    Create {
        name: String,
        /// Subnet in CIDR form; a free private one when omitted.
        #[arg(long)]
        subnet: Option<Ipv4Network>,
        /// Gateway address (default: the subnet's first address).
        #[arg(long)]
        gateway: Option<Ipv4Addr>,
        /// No masquerade and no published ports from outside.
        #[arg(long)]
        internal: bool,
    },
    /// List networks.
    #[command(alias = "list")]
    Ls,
    /// Remove networks.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show networks in detail (JSON).
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Connect a container to a network.
    Connect {
        network: String,
        container: String,
        #[arg(long)]
        ip: Option<Ipv4Addr>,
        /// Another name for the container on this network (repeatable).
        #[arg(long = "alias", value_name = "NAME")]
        aliases: Vec<String>,
    },
    /// Disconnect a container from a network.
    Disconnect { network: String, container: String },
}

pub async fn run(command: NetworkCommand, client: &Client, format: Format) -> anyhow::Result<i32> {
    match command {
        NetworkCommand::Create {
            name,
            subnet,
            gateway,
            internal,
        } => {
            let id: String = client
                .call(&Request::NetworkCreate {
                    name: name.clone(),
                    subnet,
                    gateway,
                    internal,
                })
                .await
                .with_context(|| format!("cannot create network {name}"))?;
            println!("{id}");
        }
        NetworkCommand::Ls => {
            let networks: Vec<Value> = client.call(&Request::NetworkList).await?;
            let headers = ["NETWORK ID", "NAME", "DRIVER", "SCOPE"];
            print_list(format, networks, &headers, |n| {
                let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
                vec![
                    short_id(&text(&n["Id"])).to_string(),
                    text(&n["Name"]),
                    "bridge".into(),
                    "local".into(),
                ]
            });
        }
        NetworkCommand::Rm { names } => {
            let result: BatchResult = client.call(&Request::NetworkRemove { names }).await?;
            return Ok(report_batch(result));
        }
        NetworkCommand::Inspect { names } => {
            print_json(
                &client
                    .call_value(&Request::NetworkInspect { names })
                    .await?,
            );
        }
        NetworkCommand::Connect {
            network,
            container,
            ip,
            aliases,
        } => {
            client
                .call_value(&Request::NetworkConnect {
                    network: network.clone(),
                    container: container.clone(),
                    ip,
                    aliases,
                })
                .await
                .with_context(|| format!("cannot connect {container} to {network}"))?;
        }
        NetworkCommand::Disconnect { network, container } => {
            client
                .call_value(&Request::NetworkDisconnect {
                    network: network.clone(),
                    container: container.clone(),
                })
                .await
                .with_context(|| format!("cannot disconnect {container} from {network}"))?;
        }
    }
    Ok(0)
}
