//! `ebpfnet container …`.

use std::net::Ipv4Addr;

use anyhow::Context as _;
use clap::Subcommand;
use serde_json::Value;

use super::{
    Format,
    output::{print_json, print_list},
    report_batch,
};
use crate::{
    api::{BatchResult, Request},
    client::Client,
    portspec::PortSpec,
};

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a container: a named network namespace on a network; prints its id.
    Create {
        name: String,
        /// Network to attach eth0 to.
        #[arg(long, default_value = "bridge")]
        network: String,
        /// Address on that network (default: the lowest free one).
        #[arg(long)]
        ip: Option<Ipv4Addr>,
        /// Publish a port: [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp].
        #[arg(short = 'p', long = "publish", value_name = "SPEC")]
        publish: Vec<PortSpec>,
    },
    /// List containers.
    #[command(alias = "list")]
    Ls,
    /// Remove containers.
    #[command(alias = "remove")]
    Rm {
        #[arg(required = true)]
        names: Vec<String>,
    },
    /// Show containers in detail (JSON).
    Inspect {
        #[arg(required = true)]
        names: Vec<String>,
    },
}

pub async fn run(
    command: ContainerCommand,
    client: &Client,
    format: Format,
) -> anyhow::Result<i32> {
    match command {
        ContainerCommand::Create {
            name,
            network,
            ip,
            publish,
        } => {
            let ports = publish.into_iter().flat_map(|PortSpec(p)| p).collect();
            let id: String = client
                .call(&Request::ContainerCreate {
                    name: name.clone(),
                    network: Some(network),
                    ip,
                    ports,
                })
                .await
                .with_context(|| format!("cannot create container {name}"))?;
            println!("{id}");
        }
        ContainerCommand::Ls => {
            let containers: Vec<Value> = client.call(&Request::ContainerList).await?;
            let headers = ["CONTAINER ID", "NAME", "NETWORKS", "IP ADDRESS", "PORTS"];
            print_list(format, containers, &headers, summary_row);
        }
        ContainerCommand::Rm { names } => {
            let result: BatchResult = client.call(&Request::ContainerRemove { names }).await?;
            return Ok(report_batch(result));
        }
        ContainerCommand::Inspect { names } => {
            print_json(
                &client
                    .call_value(&Request::ContainerInspect { names })
                    .await?,
            );
        }
    }
    Ok(0)
}

fn summary_row(c: &Value) -> Vec<String> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_string();
    let networks = c["Networks"].as_object();
    let joined = |f: &dyn Fn((&String, &Value)) -> String| {
        networks
            .map(|n| n.iter().map(f).collect::<Vec<_>>().join(","))
            .unwrap_or_default()
    };
    let ports = c["Ports"]
        .as_array()
        .map(|p| p.iter().map(text).collect::<Vec<_>>().join(", "))
        .unwrap_or_default();
    vec![
        text(&c["ShortId"]),
        text(&c["Name"]),
        joined(&|(name, _)| name.clone()),
        joined(&|(_, ip)| text(ip)),
        ports,
    ]
}
