//! `--cluster-store etcd://HOST:PORT[,HOST:PORT…]`: where the cluster's
//! etcd members listen.

use std::fmt;

use serde::Deserialize;

/// The parsed `--cluster-store` / `cluster-store` value.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(try_from = "String")]
pub struct ClusterStore {
    /// `HOST:PORT` of each etcd member, in the order given.
    pub members: Vec<String>,
}

impl ClusterStore {
    /// The URLs the etcd client connects to (plain HTTP/2, no TLS yet).
    pub fn urls(&self) -> Vec<String> {
        self.members.iter().map(|m| format!("http://{m}")).collect()
    }
}

/// As given: `etcd://HOST:PORT[,HOST:PORT…]`; errors name the store.
impl fmt::Display for ClusterStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "etcd://{}", self.members.join(","))
    }
}

impl TryFrom<String> for ClusterStore {
    type Error = String;

    fn try_from(text: String) -> Result<Self, String> {
        parse_cluster_store(&text)
    }
}

/// `etcd://HOST:PORT[,HOST:PORT…]`; HOST a name, an IPv4 address or a
/// bracketed IPv6 address, PORT 1-65535.
pub fn parse_cluster_store(text: &str) -> Result<ClusterStore, String> {
    let usage = "expected etcd://HOST:PORT[,HOST:PORT...], such as etcd://10.0.0.5:2379";
    let Some(rest) = text.strip_prefix("etcd://") else {
        return Err(format!("{text:?}: {usage} (only etcd is supported)"));
    };
    let mut members = Vec::new();
    for member in rest.split(',') {
        let (host, port) = member
            .rsplit_once(':')
            .ok_or_else(|| format!("{text:?}: member {member:?} has no port; {usage}"))?;
        let port_ok = port.parse::<u16>().is_ok_and(|p| p != 0);
        let host_ok = !host.is_empty()
            && (host.starts_with('[') && host.ends_with(']')
                || host
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-')));
        if !port_ok || !host_ok {
            return Err(format!(
                "{text:?}: member {member:?} is not HOST:PORT; {usage}"
            ));
        }
        members.push(member.to_string());
    }
    Ok(ClusterStore { members })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_members() {
        let store = parse_cluster_store("etcd://10.0.0.5:2379,etcd-b:12379,[::1]:2379").unwrap();
        assert_eq!(
            store.members,
            ["10.0.0.5:2379", "etcd-b:12379", "[::1]:2379"]
        );
        assert_eq!(
            store.urls(),
            [
                "http://10.0.0.5:2379",
                "http://etcd-b:12379",
                "http://[::1]:2379"
            ]
        );
        assert_eq!(
            store.to_string(),
            "etcd://10.0.0.5:2379,etcd-b:12379,[::1]:2379"
        );
    }

    #[test]
    fn refuses_bad_values() {
        for bad in [
            "10.0.0.5:2379",
            "consul://a:8500",
            "etcd://",
            "etcd://a",
            "etcd://a:0",
            "etcd://a:70000",
            "etcd://a:2379,",
            "etcd://a b:2379",
            "etcd://:2379",
        ] {
            let e = parse_cluster_store(bad).unwrap_err();
            assert!(e.contains(&format!("{bad:?}")), "{bad}: {e}");
        }
    }
}
