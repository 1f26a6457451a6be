//! `ebpfnet container …`.

use std::{net::Ipv4Addr, path::PathBuf};

use anyhow::Context as _;
use clap::Subcommand;

use super::{
    Format,
    output::{print_json, print_list},
    report_batch,
};
use crate::{
    api::{
        ContainerOptions,
        request::{ContainerCreate, ContainerInspect, ContainerList, ContainerRemove},
        views::ContainerSummary,
    },
    client::Client,
    netconf::{HostEntry, LinkSpec},
    portspec::PortSpec,
};

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a container: a named network namespace on a network; prints its id.
    Create {
        name: String,
        #[command(flatten)]
        options: Box<CreateArgs>,
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

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Network to attach eth0 to, or a mode: none, host, container:NAME.
    #[arg(long, default_value = "bridge")]
    network: String,
    /// Address on that network (default: the lowest free one).
    #[arg(long)]
    ip: Option<Ipv4Addr>,
    /// Publish a port: [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp].
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    publish: Vec<PortSpec>,
    /// Host name in its /etc/hosts and inspect (default: the short id).
    #[arg(long)]
    hostname: Option<String>,
    /// Another name on its (user-defined) network (repeatable).
    #[arg(long = "alias", value_name = "NAME")]
    aliases: Vec<String>,
    /// Add NAME to its /etc/hosts (repeatable): NAME:IP.
    #[arg(long = "add-host", value_name = "NAME:IP")]
    add_hosts: Vec<HostEntry>,
    /// Its name server (repeatable); upstream of the network's on user networks.
    #[arg(long = "dns", value_name = "IP")]
    dns: Vec<Ipv4Addr>,
    /// Put a container of the default bridge network in its /etc/hosts (repeatable).
    #[arg(long = "link", value_name = "NAME[:ALIAS]")]
    links: Vec<LinkSpec>,
    /// Give ebpfnet networking to this existing network namespace.
    #[arg(long, value_name = "PATH", conflicts_with = "pid")]
    netns: Option<PathBuf>,
    /// Give ebpfnet networking to the network namespace of this process.
    #[arg(long, value_name = "PID")]
    pid: Option<i32>,
}

impl CreateArgs {
    fn into_options(self) -> ContainerOptions {
        ContainerOptions {
            network: Some(self.network),
            ip: self.ip,
            ports: self.publish.into_iter().flat_map(|PortSpec(p)| p).collect(),
            hostname: self.hostname,
            aliases: self.aliases,
            links: self.links,
            extra_hosts: self.add_hosts,
            dns: self.dns,
            netns: self.netns,
            pid: self.pid,
            ..ContainerOptions::default()
        }
    }
}

pub async fn run(
    command: ContainerCommand,
    client: &Client,
    format: Format,
) -> anyhow::Result<i32> {
    match command {
        ContainerCommand::Create { name, options } => {
            let id = client
                .call(ContainerCreate {
                    name: name.clone(),
                    options: options.into_options(),
                })
                .await
                .with_context(|| format!("cannot create container {name}"))?;
            println!("{id}");
        }
        ContainerCommand::Ls => {
            let containers = client.call(ContainerList).await?;
            let headers = ["CONTAINER ID", "NAME", "NETWORKS", "IP ADDRESS", "PORTS"];
            print_list(format, &containers, &headers, summary_row)?;
        }
        ContainerCommand::Rm { names } => {
            let result = client.call(ContainerRemove { names }).await?;
            return Ok(report_batch(result));
        }
        ContainerCommand::Inspect { names } => {
            print_json(&client.call(ContainerInspect { names }).await?)?;
        }
    }
    Ok(0)
}

/// A `container ls` row; networks and their addresses in the same
/// (name) order.
fn summary_row(c: &ContainerSummary) -> Vec<String> {
    let names: Vec<&str> = c.networks.keys().map(String::as_str).collect();
    let addresses: Vec<&str> = c.networks.values().map(String::as_str).collect();
    vec![
        c.short_id.clone(),
        c.name.clone(),
        names.join(","),
        addresses.join(","),
        c.ports.join(", "),
    ]
}
