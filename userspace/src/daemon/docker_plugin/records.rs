//! What the driver remembers of Docker's objects, saved in the daemon's
//! state directory (`docker-plugin.json`) so a restarted daemon answers
//! for the networks and endpoints Docker made before: Docker's network
//! and endpoint ids, the ebpfnet names they map to, and the port bindings
//! Docker asked for.

use std::{
    collections::BTreeMap,
    fs,
    io::Write as _,
    net::{Ipv4Addr, Ipv6Addr},
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::api::PortBinding;
use crate::{portspec::PortMapping, state::State};

pub const RECORDS_FILE: &str = "docker-plugin.json";

#[derive(Debug, Error)]
pub enum RecordsError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
}

/// One Docker endpoint: made at CreateEndpoint, joined to a sandbox
/// (an ebpfnet container) at Join.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EndpointRecord {
    /// Docker's network id.
    pub network_id: String,
    pub ip: Ipv4Addr,
    /// Its IPv6 address, on a network with IPv6 (`AddressIPv6`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip6: Option<Ipv6Addr>,
    pub mac: [u8; 6],
    /// The ebpfnet container of its sandbox, once joined.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<String>,
    /// The ebpfnet mappings made for its ProgramExternalConnectivity.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<PortMapping>,
    /// The bindings as Docker asked for them, returned by EndpointOperInfo
    /// with the host ports ebpfnet chose.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub bindings: Vec<PortBinding>,
}

#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Records {
    /// Docker's network id -> ebpfnet network name.
    pub networks: BTreeMap<String, String>,
    /// Docker's endpoint id -> endpoint.
    pub endpoints: BTreeMap<String, EndpointRecord>,
}

impl Records {
    pub fn load(dir: &Path) -> Result<Self, RecordsError> {
        let path = dir.join(RECORDS_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                serde_json::from_str(&text).map_err(|source| RecordsError::Corrupt { path, source })
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(source) => Err(RecordsError::Io {
                action: "read",
                path,
                source,
            }),
        }
    }

    /// Writes a new file and renames it over the old one.
    pub fn save(&self, dir: &Path) -> Result<(), RecordsError> {
        let path = dir.join(RECORDS_FILE);
        let tmp = dir.join(format!("{RECORDS_FILE}.tmp"));
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| RecordsError::Io {
                action,
                path,
                source,
            }
        };
        let text = serde_json::to_string_pretty(self).map_err(|source| RecordsError::Corrupt {
            path: path.clone(),
            source,
        })?;
        let mut file = fs::File::create(&tmp).map_err(io("create", &tmp))?;
        file.write_all(text.as_bytes())
            .and_then(|()| file.sync_all())
            .map_err(io("write", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("rename", &path))
    }

    /// Forgets what ebpfnet no longer has (removed by hand, or dropped
    /// while the daemon was down because the sandbox went away); true when
    /// something was forgotten.
    pub fn forget_missing(&mut self, state: &State) -> bool {
        let before = self.clone();
        self.networks
            .retain(|_, name| state.networks.contains_key(name.as_str()));
        let networks = self.networks.clone();
        self.endpoints.retain(|_, record| {
            let Some(network) = networks.get(&record.network_id) else {
                return false;
            };
            match &record.container {
                None => true,
                Some(name) => state
                    .containers
                    .get(name)
                    .is_some_and(|c| c.endpoint(network).is_some()),
            }
        });
        for record in self.endpoints.values_mut() {
            if let Some(name) = &record.container {
                let kept = state.containers.get(name).map(|c| c.ports.clone());
                record
                    .ports
                    .retain(|m| kept.as_ref().is_some_and(|k| k.contains(m)));
            }
        }
        *self != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        state::{Container, Endpoint, Network},
        testing::fixtures,
    };

    fn network(name: &str) -> Network {
        Network {
            id: "n".repeat(64),
            bridge: "ebr-x".into(),
            ..fixtures::network(name, "10.9.0.0/24")
        }
    }

    fn record(network_id: &str, container: Option<&str>) -> EndpointRecord {
        EndpointRecord {
            network_id: network_id.into(),
            ip: Ipv4Addr::new(10, 9, 0, 2),
            ip6: None,
            mac: [2, 0x42, 10, 9, 0, 2],
            container: container.map(str::to_string),
            ports: Vec::new(),
            bindings: Vec::new(),
        }
    }

    #[test]
    fn forgets_what_ebpfnet_no_longer_has() {
        let mut state = State::default();
        state.networks.insert("web".into(), network("web"));
        state.containers.insert(
            "docker-a".into(),
            Container {
                endpoints: vec![Endpoint {
                    id: "e1".into(),
                    mac: [2, 0x42, 10, 9, 0, 2],
                    host_veth: "veth1".into(),
                    ..fixtures::endpoint("web", Ipv4Addr::new(10, 9, 0, 2))
                }],
                ..fixtures::container("docker-a", &"c".repeat(64))
            },
        );
        let mut records = Records::default();
        records.networks.insert("D1".into(), "web".into());
        records.networks.insert("D2".into(), "gone".into());
        records
            .endpoints
            .insert("E1".into(), record("D1", Some("docker-a")));
        records.endpoints.insert("E2".into(), record("D1", None));
        records
            .endpoints
            .insert("E3".into(), record("D1", Some("docker-b")));
        records.endpoints.insert("E4".into(), record("D2", None));
        assert!(records.forget_missing(&state));
        assert_eq!(records.networks.keys().collect::<Vec<_>>(), ["D1"]);
        assert_eq!(records.endpoints.keys().collect::<Vec<_>>(), ["E1", "E2"]);
        assert!(!records.forget_missing(&state));
    }

    #[test]
    fn saves_and_loads() {
        let dir = std::env::temp_dir().join(format!("ebpfnet-records-{}", std::process::id()));
        fs::create_dir_all(&dir).expect("tmp dir");
        let mut records = Records::default();
        records.networks.insert("D1".into(), "web".into());
        records.endpoints.insert("E1".into(), record("D1", None));
        records.save(&dir).expect("save");
        assert_eq!(Records::load(&dir).expect("load"), records);
        fs::write(dir.join(RECORDS_FILE), "{").expect("write");
        let err = Records::load(&dir).expect_err("corrupt");
        assert!(err.to_string().contains("is corrupt"), "{err}");
        fs::remove_dir_all(&dir).expect("clean");
    }
}
