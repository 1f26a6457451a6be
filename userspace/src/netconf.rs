//! A container's name configuration: `--hostname`, `--alias`,
//! `--add-host`, `--link`, and the /etc/hosts and /etc/resolv.conf it gets.
//! Pure: parsing and rendering only.

use std::{
    fmt::Write as _,
    net::{IpAddr, Ipv4Addr},
    str::FromStr,
};

use serde::{Deserialize, Serialize};
use thiserror::Error;

/// Docker's fallback when the host has no resolver a container can reach.
pub const FALLBACK_NAMESERVERS: [Ipv4Addr; 2] =
    [Ipv4Addr::new(8, 8, 8, 8), Ipv4Addr::new(8, 8, 4, 4)];

#[derive(Debug, Error, PartialEq, Eq)]
pub enum NetconfError {
    #[error("invalid {kind} {value:?}: {reason}")]
    Invalid {
        kind: &'static str,
        value: String,
        reason: &'static str,
    },
}

fn invalid(kind: &'static str, value: &str, reason: &'static str) -> NetconfError {
    NetconfError::Invalid {
        kind,
        value: value.to_string(),
        reason,
    }
}

/// Checks a host name (`--hostname`, `--alias`, a `--add-host` or `--link`
/// name): dot-separated RFC 1123 labels of letters, digits, '-' and '_'.
pub fn validate_hostname(kind: &'static str, name: &str) -> Result<(), NetconfError> {
    if name.is_empty() {
        return Err(invalid(kind, name, "it is empty"));
    }
    if name.len() > 253 {
        return Err(invalid(kind, name, "it is longer than 253 characters"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(invalid(
                kind,
                name,
                "each dot-separated part must have 1 to 63 characters",
            ));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(invalid(kind, name, "a part cannot start or end with '-'"));
        }
        if !label
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
        {
            return Err(invalid(
                kind,
                name,
                "only letters, digits, '-', '_' and '.' are allowed",
            ));
        }
    }
    Ok(())
}

/// One `--add-host NAME:IP` (or `NAME=IP`) entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HostEntry {
    pub name: String,
    pub ip: IpAddr,
}

impl FromStr for HostEntry {
    type Err = NetconfError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const KIND: &str = "--add-host";
        // `=` first: an IPv6 address holds ':' itself.
        let (name, ip) = text
            .split_once('=')
            .or_else(|| text.split_once(':'))
            .ok_or_else(|| invalid(KIND, text, "expected NAME:IP"))?;
        validate_hostname(KIND, name)?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        let ip = ip
            .parse()
            .map_err(|_| invalid(KIND, text, "the part after ':' is not an IP address"))?;
        Ok(Self {
            name: name.to_string(),
            ip,
        })
    }
}

/// One `--link NAME[:ALIAS]`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LinkSpec {
    pub container: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub alias: Option<String>,
}

impl FromStr for LinkSpec {
    type Err = NetconfError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        const KIND: &str = "--link";
        let (container, alias) = match text.split_once(':') {
            Some((container, alias)) => (container, Some(alias)),
            None => (text, None),
        };
        if crate::ids::validate("container", container).is_err() {
            return Err(invalid(KIND, text, "NAME must be a container name"));
        }
        if let Some(alias) = alias {
            validate_hostname(KIND, alias)?;
        }
        Ok(Self {
            container: container.to_string(),
            alias: alias.filter(|a| *a != container).map(str::to_string),
        })
    }
}

/// What a container's /etc/hosts holds beyond the localhost lines.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Hosts {
    /// Its own address (none on an IPv6-only network) and names
    /// (hostname first).
    pub own: Option<(Option<Ipv4Addr>, Vec<String>)>,
    /// Its own IPv6 address (same names), on a network with IPv6.
    pub own6: Option<std::net::Ipv6Addr>,
    /// Linked containers: address and names (alias first).
    pub links: Vec<(Ipv4Addr, Vec<String>)>,
    pub extra: Vec<HostEntry>,
}

pub fn render_hosts(hosts: &Hosts) -> String {
    let mut out = String::from(
        "127.0.0.1\tlocalhost\n\
         ::1\tlocalhost ip6-localhost ip6-loopback\n\
         fe00::0\tip6-localnet\n\
         ff00::0\tip6-mcastprefix\n\
         ff02::1\tip6-allnodes\n\
         ff02::2\tip6-allrouters\n",
    );
    let mut line = |ip: &dyn std::fmt::Display, names: &[String]| {
        let mut names = names.to_vec();
        names.dedup();
        let _ = writeln!(out, "{ip}\t{}", names.join(" "));
    };
    if let Some((ip, names)) = &hosts.own {
        if let Some(ip) = ip {
            line(ip, names);
        }
        if let Some(ip6) = &hosts.own6 {
            line(ip6, names);
        }
    }
    for (ip, names) in &hosts.links {
        line(ip, names);
    }
    for entry in &hosts.extra {
        line(&entry.ip, std::slice::from_ref(&entry.name));
    }
    out
}

/// The parts of the host's /etc/resolv.conf a container's copy keeps.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ResolvConf {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<String>,
    pub options: Vec<String>,
}

impl ResolvConf {
    pub fn parse(text: &str) -> Self {
        let mut conf = Self::default();
        for line in text.lines() {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("nameserver") => {
                    // `fe80::1%eth0`: the zone is meaningless elsewhere.
                    if let Some(ip) = words
                        .next()
                        .and_then(|w| w.split('%').next())
                        .and_then(|w| w.parse().ok())
                    {
                        conf.nameservers.push(ip);
                    }
                }
                // The last `search` or `domain` line wins, as in glibc.
                Some("search" | "domain") => conf.search = words.map(str::to_string).collect(),
                Some("options") => conf.options.extend(words.map(str::to_string)),
                _ => {}
            }
        }
        conf
    }

    /// The host's IPv4 resolvers that a container can reach: not loopback.
    pub fn reachable_ipv4(&self) -> Vec<Ipv4Addr> {
        self.nameservers
            .iter()
            .filter_map(|ip| match ip {
                IpAddr::V4(ip) if !ip.is_loopback() && !ip.is_unspecified() => Some(*ip),
                _ => None,
            })
            .collect()
    }
}

/// resolv.conf of a container on a user-defined network: the network's
/// name server on its gateway, as Docker's 127.0.0.11, and on its IPv6
/// gateway when the network has one (only there on an IPv6-only network).
pub fn render_resolv_embedded(
    gateway: Option<Ipv4Addr>,
    gateway6: Option<std::net::Ipv6Addr>,
    host: &ResolvConf,
) -> String {
    let mut out = String::new();
    if let Some(gateway) = gateway {
        let _ = writeln!(out, "nameserver {gateway}");
    }
    if let Some(gateway6) = gateway6 {
        let _ = writeln!(out, "nameserver {gateway6}");
    }
    if !host.search.is_empty() {
        let _ = writeln!(out, "search {}", host.search.join(" "));
    }
    out.push_str("options ndots:0\n");
    out
}

/// resolv.conf of a container without an embedded name server (the
/// default `bridge` network, `none`): `--dns` servers, else the host's
/// reachable ones, else Docker's fallback.
pub fn render_resolv_plain(dns: &[Ipv4Addr], host: &ResolvConf) -> String {
    let servers = if !dns.is_empty() {
        dns.to_vec()
    } else {
        let reachable = host.reachable_ipv4();
        if reachable.is_empty() {
            FALLBACK_NAMESERVERS.to_vec()
        } else {
            reachable
        }
    };
    let mut out = String::new();
    for ip in servers {
        let _ = writeln!(out, "nameserver {ip}");
    }
    if !host.search.is_empty() {
        let _ = writeln!(out, "search {}", host.search.join(" "));
    }
    if !host.options.is_empty() {
        let _ = writeln!(out, "options {}", host.options.join(" "));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn add_host_parses_v4_v6_and_equals() {
        let e: HostEntry = "db:10.0.0.5".parse().expect("v4");
        assert_eq!(
            (e.name.as_str(), e.ip),
            ("db", "10.0.0.5".parse().expect("ip"))
        );
        let e: HostEntry = "v6host:::1".parse().expect("v6 after first colon");
        assert_eq!(e.ip, "::1".parse::<IpAddr>().expect("ip"));
        let e: HostEntry = "v6=[fd00::2]".parse().expect("v6 with =");
        assert_eq!(e.ip, "fd00::2".parse::<IpAddr>().expect("ip"));
        for bad in [
            "db",
            "db:",
            ":10.0.0.1",
            "db:notanip",
            "bad name:10.0.0.1",
            "-x:1.2.3.4",
        ] {
            let err = bad.parse::<HostEntry>().expect_err(bad);
            assert!(err.to_string().contains("invalid --add-host"), "{err}");
        }
    }

    #[test]
    fn link_parses_name_and_alias() {
        let l: LinkSpec = "web".parse().expect("name");
        assert_eq!((l.container.as_str(), l.alias), ("web", None));
        let l: LinkSpec = "web:front".parse().expect("alias");
        assert_eq!(l.alias.as_deref(), Some("front"));
        let l: LinkSpec = "web:web".parse().expect("same alias");
        assert_eq!(l.alias, None);
        for bad in ["", ":x", "we b", "web:", "web:bad alias"] {
            assert!(bad.parse::<LinkSpec>().is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hostnames() {
        for ok in ["web", "web-1.example", "a_b", "x"] {
            assert_eq!(validate_hostname("--hostname", ok), Ok(()), "{ok}");
        }
        let long = "a".repeat(64);
        for bad in ["", "a..b", "-a", "a-", "a b", "a/b", long.as_str()] {
            assert!(validate_hostname("--hostname", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn hosts_file_lists_own_links_and_extras() {
        let hosts = Hosts {
            own: Some((
                Some(Ipv4Addr::new(10, 214, 0, 3)),
                vec!["app".into(), "app".into()],
            )),
            own6: "fd00:eb::3".parse().ok(),
            links: vec![(Ipv4Addr::new(10, 214, 0, 2), vec!["db".into(), "pg".into()])],
            extra: vec!["gw:192.0.2.1".parse().expect("entry")],
        };
        let text = render_hosts(&hosts);
        assert!(
            text.starts_with("127.0.0.1\tlocalhost\n::1\tlocalhost"),
            "{text}"
        );
        assert!(
            text.contains("\n10.214.0.3\tapp\nfd00:eb::3\tapp\n"),
            "{text}"
        );
        assert!(text.contains("\n10.214.0.2\tdb pg\n"), "{text}");
        assert!(text.ends_with("192.0.2.1\tgw\n"), "{text}");
        let bare = render_hosts(&Hosts::default());
        assert_eq!(bare.lines().count(), 6, "{bare}");
        // IPv6-only: the IPv6 address alone carries the names.
        let six_only = render_hosts(&Hosts {
            own: Some((None, vec!["app".into()])),
            own6: "fd00:eb::3".parse().ok(),
            ..Hosts::default()
        });
        assert!(
            six_only.ends_with("ff02::2\tip6-allrouters\nfd00:eb::3\tapp\n"),
            "{six_only}"
        );
    }

    #[test]
    fn resolv_conf_parsing_and_rendering() {
        let host = ResolvConf::parse(
            "# generated\nnameserver 127.0.0.53\nnameserver 192.0.2.53\n\
             nameserver fe80::1%eth0\nsearch corp.example\noptions edns0 trust-ad\n",
        );
        assert_eq!(host.reachable_ipv4(), vec![Ipv4Addr::new(192, 0, 2, 53)]);
        assert_eq!(host.nameservers.len(), 3);
        let plain = render_resolv_plain(&[], &host);
        assert_eq!(
            plain,
            "nameserver 192.0.2.53\nsearch corp.example\noptions edns0 trust-ad\n"
        );
        let given = render_resolv_plain(&[Ipv4Addr::new(9, 9, 9, 9)], &host);
        assert!(given.starts_with("nameserver 9.9.9.9\nsearch"), "{given}");
        let stub_only = ResolvConf::parse("nameserver 127.0.0.53\n");
        assert_eq!(
            render_resolv_plain(&[], &stub_only),
            "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"
        );
        assert_eq!(
            render_resolv_embedded(Some(Ipv4Addr::new(10, 215, 0, 1)), None, &host),
            "nameserver 10.215.0.1\nsearch corp.example\noptions ndots:0\n"
        );
        assert_eq!(
            render_resolv_embedded(
                Some(Ipv4Addr::new(10, 215, 0, 1)),
                "fd00:eb:0:1::1".parse().ok(),
                &host
            ),
            "nameserver 10.215.0.1\nnameserver fd00:eb:0:1::1\nsearch corp.example\noptions ndots:0\n"
        );
        // An IPv6-only network: its IPv6 gateway alone.
        assert_eq!(
            render_resolv_embedded(None, "fd00:eb:0:1::1".parse().ok(), &host),
            "nameserver fd00:eb:0:1::1\nsearch corp.example\noptions ndots:0\n"
        );
    }
}
