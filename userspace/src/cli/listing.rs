//! `container ls` and `network ls` as Docker prints them: the table, `-q`
//! (ids only) and `--format json` (one object a line, with the keys and
//! string values of `docker ps --format json` / `docker network ls
//! --format json` that ebpfnet has).

use clap::Args;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::template::GoFormat;
use super::{
    FormatArg,
    display::{displayable_ports, docker_table, go_time, labels, natural_cmp, running_for},
};
use crate::{
    api::views::{ContainerSummary, NetworkSummary},
    ids::short_id,
};

/// The options both `ls` take.
#[derive(Debug, Clone, Copy, Default, Args)]
pub struct ListArgs {
    /// Only display ids.
    #[arg(short, long)]
    pub quiet: bool,
    /// Do not truncate ids.
    #[arg(long)]
    pub no_trunc: bool,
}

impl ListArgs {
    fn id<'a>(&self, id: &'a str) -> &'a str {
        if self.no_trunc { id } else { short_id(id) }
    }
}

fn with_header(header: &[&str], rows: impl Iterator<Item = Vec<String>>) -> Vec<Vec<String>> {
    let mut all = vec![header.iter().map(|h| h.to_string()).collect()];
    all.extend(rows);
    all
}

/// Newest first, as `docker ps`.
fn sort_containers(containers: &mut [ContainerSummary]) {
    let time = |c: &ContainerSummary| c.created.parse::<Timestamp>().ok();
    containers.sort_by(|a, b| time(b).cmp(&time(a)).then_with(|| a.name.cmp(&b.name)));
}

/// The networks of a container as Docker names them: `container:X` mode
/// has none of its own.
fn network_names(c: &ContainerSummary) -> Vec<&str> {
    c.networks
        .keys()
        .map(String::as_str)
        .filter(|n| !n.starts_with("container:"))
        .collect()
}

/// One `docker ps --format json` object.
pub fn container_json(c: &ContainerSummary, args: ListArgs, now: Timestamp) -> Value {
    json!({
        "CreatedAt": go_time(&c.created, false),
        "ID": args.id(&c.id),
        "Labels": labels(&c.labels),
        "Names": c.name,
        "Networks": network_names(c).join(","),
        "Ports": displayable_ports(&c.ports),
        "RunningFor": running_for(&c.created, now),
    })
}

/// Docker's column headers of `docker ps`'s fields, for `table TEMPLATE`.
const CONTAINER_HEADERS: [(&str, &str); 7] = [
    ("CreatedAt", "CREATED AT"),
    ("ID", "CONTAINER ID"),
    ("Labels", "LABELS"),
    ("Names", "NAMES"),
    ("Networks", "NETWORKS"),
    ("Ports", "PORTS"),
    ("RunningFor", "CREATED"),
];

/// Docker's column headers of `docker network ls`'s fields.
const NETWORK_HEADERS: [(&str, &str); 9] = [
    ("CreatedAt", "CREATED AT"),
    ("Driver", "DRIVER"),
    ("ID", "NETWORK ID"),
    ("IPv4", "IPV4"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("Name", "NAME"),
    ("Scope", "SCOPE"),
];

/// A Go template's output, as lines.
fn go_lines(
    template: &str,
    headers: &[(&str, &str)],
    items: &[Value],
) -> anyhow::Result<Vec<String>> {
    let text = GoFormat::parse(template)
        .and_then(|format| format.render(headers, items))
        .map_err(anyhow::Error::msg)?;
    Ok(text.split_terminator('\n').map(str::to_string).collect())
}

/// The lines `container ls` prints.
pub fn container_lines(
    mut containers: Vec<ContainerSummary>,
    args: ListArgs,
    format: &FormatArg,
) -> anyhow::Result<Vec<String>> {
    sort_containers(&mut containers);
    if args.quiet {
        return Ok(containers.iter().map(|c| args.id(&c.id).into()).collect());
    }
    let now = Timestamp::now();
    let json = || -> Vec<Value> {
        containers
            .iter()
            .map(|c| container_json(c, args, now))
            .collect()
    };
    Ok(match format {
        FormatArg::Json => json().iter().map(Value::to_string).collect(),
        FormatArg::Go(template) => go_lines(template, &CONTAINER_HEADERS, &json())?,
        FormatArg::Table => {
            let header = ["CONTAINER ID", "NAME", "NETWORKS", "IP ADDRESS", "PORTS"];
            let rows = containers.iter().map(|c| {
                vec![
                    args.id(&c.id).to_string(),
                    c.name.clone(),
                    c.networks.keys().cloned().collect::<Vec<_>>().join(","),
                    c.networks.values().cloned().collect::<Vec<_>>().join(","),
                    displayable_ports(&c.ports),
                ]
            });
            docker_table(&with_header(&header, rows))
        }
    })
}

/// One `docker network ls --format json` object.
pub fn network_json(n: &NetworkSummary, args: ListArgs) -> Value {
    json!({
        "CreatedAt": go_time(&n.created, true),
        "Driver": n.driver,
        "ID": args.id(&n.id),
        // Docker's predefined networks have EnableIPv4 too (libnetwork's
        // default), and every ebpfnet network is IPv4.
        "IPv4": "true",
        "IPv6": n.enable_ipv6.to_string(),
        "Internal": n.internal.to_string(),
        "Labels": labels(&n.labels),
        "Name": n.name,
        "Scope": n.scope,
    })
}

/// The lines `network ls` prints, by name in natural order.
pub fn network_lines(
    mut networks: Vec<NetworkSummary>,
    args: ListArgs,
    format: &FormatArg,
) -> anyhow::Result<Vec<String>> {
    networks.sort_by(|a, b| natural_cmp(&a.name, &b.name));
    if args.quiet {
        return Ok(networks.iter().map(|n| args.id(&n.id).into()).collect());
    }
    let json = || -> Vec<Value> { networks.iter().map(|n| network_json(n, args)).collect() };
    Ok(match format {
        FormatArg::Json => json().iter().map(Value::to_string).collect(),
        FormatArg::Go(template) => go_lines(template, &NETWORK_HEADERS, &json())?,
        FormatArg::Table => {
            let rows = networks.iter().map(|n| {
                vec![
                    args.id(&n.id).to_string(),
                    n.name.clone(),
                    n.driver.clone(),
                    n.scope.clone(),
                ]
            });
            docker_table(&with_header(
                &["NETWORK ID", "NAME", "DRIVER", "SCOPE"],
                rows,
            ))
        }
    })
}

#[cfg(test)]
#[path = "listing_tests.rs"]
mod tests;
