//! `ebpfnet container …`.

use std::{net::Ipv4Addr, path::PathBuf};

use anyhow::Context as _;
use clap::Subcommand;

use super::{
    FormatArg, NamesArgs,
    listing::{ListArgs, container_lines},
    output::print_json,
    report_batch,
};
use crate::{
    api::{
        ContainerOptions,
        request::{ContainerCreate, ContainerInspect, ContainerList, ContainerRemove},
    },
    client::Client,
    netconf::{HostEntry, LinkSpec},
    portspec::{ExposeSpec, PortRequest, PortSpec},
};

#[derive(Debug, Subcommand)]
pub enum ContainerCommand {
    /// Create a container: a named network namespace on a network; prints its id.
    Create {
        name: String,
        #[command(flatten)]
        options: Box<CreateArgs>,
    },
    /// List containers, newest first.
    #[command(alias = "list")]
    Ls(ListArgs),
    /// Remove containers.
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Show containers in detail (JSON).
    Inspect(NamesArgs),
}

#[derive(Debug, clap::Args)]
pub struct CreateArgs {
    /// Network to attach eth0 to, or a mode: none, host, container:NAME.
    #[arg(long, default_value = "bridge")]
    network: String,
    /// Address on that network (default: the lowest free one).
    #[arg(long)]
    ip: Option<Ipv4Addr>,
    /// IPv6 address on that network, if it has IPv6 (default: the lowest
    /// free one).
    #[arg(long)]
    ip6: Option<std::net::Ipv6Addr>,
    /// Publish a port: [HOST_IP:][HOST_PORT[-END]:]CONTAINER_PORT[-END][/tcp|/udp].
    #[arg(short = 'p', long = "publish", value_name = "SPEC")]
    publish: Vec<PortSpec>,
    /// Publish every exposed port (--expose) on a free host port.
    #[arg(short = 'P', long = "publish-all")]
    publish_all: bool,
    /// A container port that -P publishes (repeatable): PORT[-END][/tcp|/udp].
    #[arg(long = "expose", value_name = "PORT")]
    expose: Vec<ExposeSpec>,
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
    /// `-p` mappings, then with `-P` one on a free host port for each
    /// exposed port that `-p` does not publish, as `docker run -P`.
    fn ports(&self) -> Vec<PortRequest> {
        let mut ports: Vec<PortRequest> = self.publish.iter().flat_map(|p| p.0.clone()).collect();
        if self.publish_all {
            for &(container_port, protocol) in self.expose.iter().flat_map(|e| &e.0) {
                let published = ports
                    .iter()
                    .any(|p| p.container_port == container_port && p.protocol == protocol);
                if !published {
                    ports.push(PortRequest {
                        host_ip: None,
                        host_port: None,
                        host_port_end: None,
                        container_port,
                        protocol,
                    });
                }
            }
        }
        ports
    }

    fn into_options(self) -> ContainerOptions {
        ContainerOptions {
            network: Some(self.network.clone()),
            ip: self.ip,
            ip6: self.ip6,
            ports: self.ports(),
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
    format: &FormatArg,
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
        ContainerCommand::Ls(args) => {
            let containers = client.call(ContainerList).await?;
            for line in container_lines(containers, args, format)? {
                println!("{line}");
            }
        }
        ContainerCommand::Rm(NamesArgs { names }) => {
            let result = client.call(ContainerRemove { names }).await?;
            return Ok(report_batch(result));
        }
        ContainerCommand::Inspect(NamesArgs { names }) => {
            print_json(&client.call(ContainerInspect { names }).await?)?;
        }
    }
    Ok(0)
}
