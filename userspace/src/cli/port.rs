//! `ebpfnet port NAME [PORT[/PROTO]]`, as `docker port`.

use anyhow::bail;
use clap::Args;

use super::{Format, publish::print_mappings};
use crate::{api::request::Port, client::Client, portspec::Protocol};

#[derive(Debug, Args)]
pub struct PortArgs {
    /// The container.
    pub container: String,
    /// Only this container port (`80` or `80/udp`; tcp when no protocol).
    pub port: Option<String>,
}

/// `80` -> (80, tcp), `53/udp` -> (53, udp).
fn parse_filter(text: &str) -> Option<(u16, Protocol)> {
    let (port, protocol) = match text.split_once('/') {
        None => (text, Protocol::Tcp),
        Some((port, "tcp")) => (port, Protocol::Tcp),
        Some((port, "udp")) => (port, Protocol::Udp),
        Some(_) => return None,
    };
    Some((port.parse().ok()?, protocol))
}

pub async fn run(args: PortArgs, client: &Client, format: Format) -> anyhow::Result<i32> {
    let mut mappings = client
        .call(Port {
            container: args.container.clone(),
        })
        .await?;
    if let Some(filter) = &args.port {
        let Some((port, protocol)) = parse_filter(filter) else {
            bail!("invalid port {filter:?}: expected PORT or PORT/tcp or PORT/udp");
        };
        mappings.retain(|m| m.container_port == port && m.protocol == protocol);
        if mappings.is_empty() {
            bail!(
                "no public port '{port}/{protocol}' published for {}",
                args.container
            );
        }
    }
    print_mappings(&mappings, format)?;
    Ok(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters() {
        assert_eq!(parse_filter("80"), Some((80, Protocol::Tcp)));
        assert_eq!(parse_filter("53/udp"), Some((53, Protocol::Udp)));
        assert_eq!(parse_filter("53/sctp"), None);
        assert_eq!(parse_filter("x"), None);
    }
}
