//! `ebpfnet network …`.

use std::net::Ipv4Addr;

use anyhow::Context as _;
use clap::Subcommand;
use ipnetwork::Ipv4Network;

use super::{
    FormatArg,
    listing::{ListArgs, network_lines},
    output::print_json,
    prune, report_batch,
};
use crate::{
    api::request::{
        NetworkConnect, NetworkCreate, NetworkDisconnect, NetworkInspect, NetworkList,
        NetworkRemove,
    },
    client::Client,
};

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network (bridge, macvlan, ipvlan, or overlay); prints its id.
    Create {
        name: String,
        /// Driver: bridge (default), macvlan, ipvlan, or overlay (every host
        /// of the cluster; needs a daemon started with --cluster-store).
        #[arg(short = 'd', long, value_name = "DRIVER")]
        driver: Option<String>,
        /// Driver option KEY=VALUE (repeatable): parent=IFACE,
        /// macvlan_mode=bridge|private|vepa|passthru, ipvlan_mode=l2|l3|l3s,
        /// ipvlan_flag=bridge|private|vepa.
        #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE", value_parser = parse_option)]
        options: Vec<(String, String)>,
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
    /// List networks, with the predefined host and none.
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Remove every network no container is connected to.
    Prune(prune::PruneArgs),
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

pub async fn run(
    command: NetworkCommand,
    client: &Client,
    format: &FormatArg,
) -> anyhow::Result<i32> {
    match command {
        NetworkCommand::Create {
            name,
            driver,
            options,
            subnet,
            gateway,
            internal,
        } => {
            let id = client
                .call(NetworkCreate {
                    name: name.clone(),
                    subnet,
                    gateway,
                    internal,
                    // Absent for bridge, so an older daemon still answers.
                    driver: driver.filter(|d| d != "bridge"),
                    options: options.into_iter().collect(),
                })
                .await
                .with_context(|| format!("cannot create network {name}"))?;
            println!("{id}");
        }
        NetworkCommand::Ls(args) => {
            let networks = client.call(NetworkList).await?;
            for line in network_lines(networks, args, format)? {
                println!("{line}");
            }
        }
        NetworkCommand::Prune(args) => return prune::run(args, client).await,
        NetworkCommand::Rm { names } => {
            let result = client.call(NetworkRemove { names }).await?;
            return Ok(report_batch(result));
        }
        NetworkCommand::Inspect { names } => {
            print_json(&client.call(NetworkInspect { names }).await?)?;
        }
        NetworkCommand::Connect {
            network,
            container,
            ip,
            aliases,
        } => {
            client
                .call(NetworkConnect {
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
                .call(NetworkDisconnect {
                    network: network.clone(),
                    container: container.clone(),
                })
                .await
                .with_context(|| format!("cannot disconnect {container} from {network}"))?;
        }
    }
    Ok(0)
}

/// `KEY=VALUE` of `-o`; a key given twice keeps the last value, as Docker.
fn parse_option(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_string(), value.to_string())),
        _ => Err(format!("expected KEY=VALUE, got {text:?}")),
    }
}
