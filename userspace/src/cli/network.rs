//! `ebpfnet network …`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnetwork::{Ipv4Network, Ipv6Network};

use anyhow::Context as _;
use clap::Subcommand;
use ipnetwork::IpNetwork;

use super::{
    FormatArg, NamesArgs,
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
    controller::ipv6::Ipv6Request,
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
        /// ipvlan_flag=bridge|private|vepa; for bridge networks
        /// com.docker.network.bridge.gateway_mode_ipv6=nat|routed.
        #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE", value_parser = parse_option)]
        options: Vec<(String, String)>,
        /// Subnet in CIDR form, one IPv4 and (with --ipv6) one IPv6
        /// (repeatable); a free private one of each family when omitted
        /// (IPv6: a /64 of fd00:eb::/48).
        #[arg(long, value_name = "CIDR")]
        subnet: Vec<IpNetwork>,
        /// Gateway address, one per family (repeatable; default: the
        /// subnet's first address).
        #[arg(long, value_name = "IP")]
        gateway: Vec<IpAddr>,
        /// IPv6 too: an IPv6 subnet and gateway, addresses for containers.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
              default_value_t = false, value_name = "BOOL")]
        ipv6: bool,
        /// IPv4 (default true); `--ipv4=false` with --ipv6 makes an
        /// IPv6-only network.
        #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true",
              default_value_t = true, value_name = "BOOL")]
        ipv4: bool,
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
    Rm(NamesArgs),
    /// Show networks in detail (JSON).
    Inspect(NamesArgs),
    /// Connect a container to a network.
    Connect {
        network: String,
        container: String,
        #[arg(long)]
        ip: Option<Ipv4Addr>,
        /// Its IPv6 address on a network with IPv6.
        #[arg(long)]
        ip6: Option<Ipv6Addr>,
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
            ipv6,
            ipv4,
            internal,
        } => {
            let (subnet, subnet6) = subnets_by_family(&subnet)?;
            let (gateway, gateway6) = gateways_by_family(&gateway)?;
            let id = client
                .call(NetworkCreate {
                    name: name.clone(),
                    subnet,
                    gateway,
                    ipv6: Ipv6Request {
                        enable: ipv6,
                        subnet: subnet6,
                        gateway: gateway6,
                        only: !ipv4,
                        // From `options` (the daemon reads it there).
                        routed: false,
                    },
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
        NetworkCommand::Rm(NamesArgs { names }) => {
            let result = client.call(NetworkRemove { names }).await?;
            return Ok(report_batch(result));
        }
        NetworkCommand::Inspect(NamesArgs { names }) => {
            print_json(&client.call(NetworkInspect { names }).await?)?;
        }
        NetworkCommand::Connect {
            network,
            container,
            ip,
            ip6,
            aliases,
        } => {
            client
                .call(NetworkConnect {
                    network: network.clone(),
                    container: container.clone(),
                    ip,
                    ip6,
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

/// Docker's repeatable `--subnet`: at most one IPv4 and one IPv6.
fn subnets_by_family(
    subnets: &[IpNetwork],
) -> anyhow::Result<(Option<Ipv4Network>, Option<Ipv6Network>)> {
    let (mut v4, mut v6) = (None, None);
    for subnet in subnets {
        let twice = match subnet {
            IpNetwork::V4(s) => v4.replace(*s).map(IpNetwork::V4),
            IpNetwork::V6(s) => v6.replace(*s).map(IpNetwork::V6),
        };
        if let Some(first) = twice {
            anyhow::bail!("--subnet {first} and --subnet {subnet}: one subnet per address family");
        }
    }
    Ok((v4, v6))
}

/// Docker's repeatable `--gateway`: at most one IPv4 and one IPv6.
fn gateways_by_family(gateways: &[IpAddr]) -> anyhow::Result<(Option<Ipv4Addr>, Option<Ipv6Addr>)> {
    let (mut v4, mut v6) = (None, None);
    for gateway in gateways {
        let twice = match gateway {
            IpAddr::V4(g) => v4.replace(*g).map(IpAddr::V4),
            IpAddr::V6(g) => v6.replace(*g).map(IpAddr::V6),
        };
        if let Some(first) = twice {
            anyhow::bail!(
                "--gateway {first} and --gateway {gateway}: one gateway per address family"
            );
        }
    }
    Ok((v4, v6))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_subnet_and_gateway_per_family() {
        let nets: Vec<IpNetwork> = vec![
            "10.1.0.0/24".parse().expect("cidr"),
            "fd00:1::/64".parse().expect("cidr"),
        ];
        let (v4, v6) = subnets_by_family(&nets).expect("one each");
        assert_eq!(v4.map(|s| s.to_string()), Some("10.1.0.0/24".into()));
        assert_eq!(v6.map(|s| s.to_string()), Some("fd00:1::/64".into()));
        let twice: Vec<IpNetwork> = vec![
            "fd00:1::/64".parse().expect("cidr"),
            "fd00:2::/64".parse().expect("cidr"),
        ];
        let err = subnets_by_family(&twice).expect_err("two IPv6").to_string();
        assert!(
            err.contains("--subnet fd00:1::/64 and --subnet fd00:2::/64"),
            "{err}"
        );
        let gws: Vec<IpAddr> = vec![
            "10.1.0.1".parse().expect("ip"),
            "10.1.0.2".parse().expect("ip"),
        ];
        assert!(gateways_by_family(&gws).is_err());
    }
}
