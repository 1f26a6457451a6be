//! `ebpfnet port NAME [PORT[/PROTO]]`, as `docker port`.

use anyhow::bail;
use clap::Args;

use super::{Format, display::natural_cmp, output::print_json};
use crate::{
    api::request::{ContainerInspect, Port},
    client::Client,
    portspec::{PortMapping, Protocol},
};

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

/// `docker port`'s lines: `80/tcp -> 0.0.0.0:8080` for every mapping, or
/// only the host side, `0.0.0.0:8080`, when one container port is asked
/// for; in natural order.
pub fn lines(mappings: &[PortMapping], only_host: bool) -> Vec<String> {
    let mut lines: Vec<String> = mappings
        .iter()
        .map(|m| {
            let host = m.host();
            if only_host { host } else { m.to_string() }
        })
        .collect();
    lines.sort_by(|a, b| natural_cmp(a, b));
    lines
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
            bail!("no public port '{filter}' published for {}", args.container);
        }
    }
    match format {
        Format::Json => print_json(&mappings)?,
        Format::Table => {
            for line in lines(&mappings, args.port.is_some()) {
                println!("{line}");
            }
            if let Some(note) = translated_note(client, &args.container, &mappings).await {
                eprintln!("{note}");
            }
        }
    }
    Ok(0)
}

/// For IPv4 mappings into an IPv6-only container (translated by the
/// datapath for other hosts, relayed by the daemon for this one): how
/// they are served, on stderr beside Docker's lines.
async fn translated_note(
    client: &Client,
    container: &str,
    mappings: &[PortMapping],
) -> Option<String> {
    let ipv4 = mappings.iter().find(|m| m.host_ip.is_ipv4())?;
    let views = client
        .call(ContainerInspect {
            names: vec![container.to_string()],
        })
        .await
        .ok()?;
    let view = views.first()?;
    let endpoint = view
        .network_settings
        .networks
        .get(&view.host_config.network_mode)?;
    let v6_only = endpoint.ip_address.is_empty() && !endpoint.global_ipv6_address.is_empty();
    // An address the relay listens on: 127.0.0.1 is one of every address's.
    let example = if ipv4.host_ip.is_unspecified() {
        format!("127.0.0.1:{}", ipv4.host_port)
    } else {
        ipv4.host()
    };
    v6_only.then(|| {
        format!(
            "note: {container} is IPv6-only: its IPv4 mappings take other hosts' clients \
             translated to IPv6 (seen as 64:ff9b:1::/96), and this host's own IPv4 clients \
             (such as {example}) through the daemon's relay (seen as the network's IPv6 \
             gateway; their connections end when the daemon restarts)"
        )
    })
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

    #[test]
    fn lines_as_docker_port() {
        let m = |ip: [u8; 4], host_port, container_port, protocol| PortMapping {
            host_ip: ip.into(),
            host_port,
            container_port,
            protocol,
        };
        let mappings = [
            m([0; 4], 8443, 443, Protocol::Tcp),
            m([127, 0, 0, 1], 8081, 80, Protocol::Tcp),
            m([0; 4], 8080, 80, Protocol::Tcp),
            m([0; 4], 5353, 53, Protocol::Udp),
        ];
        let v6 = PortMapping {
            host_ip: "::".parse().expect("ip"),
            ..mappings[2]
        };
        assert_eq!(
            lines(&[mappings[2], v6], false),
            ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080"]
        );
        assert_eq!(lines(&[v6], true), ["[::]:8080"]);
        assert_eq!(
            lines(&mappings, false),
            [
                "53/udp -> 0.0.0.0:5353",
                "80/tcp -> 0.0.0.0:8080",
                "80/tcp -> 127.0.0.1:8081",
                "443/tcp -> 0.0.0.0:8443",
            ]
        );
        assert_eq!(
            lines(&mappings[1..3], true),
            ["0.0.0.0:8080", "127.0.0.1:8081"]
        );
    }
}
