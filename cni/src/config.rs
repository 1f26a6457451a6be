//! What the runtime gives the plugin: the network configuration on stdin
//! and the `CNI_*` environment variables.

use std::{collections::BTreeMap, path::PathBuf};

use serde::Deserialize;
use serde_json::Value;

use crate::error::{CniError, code};

/// The spec versions this plugin speaks.
pub const SUPPORTED_VERSIONS: [&str; 2] = ["1.0.0", "1.1.0"];
/// Used in answers when the configuration names no version we know.
pub const LATEST_VERSION: &str = "1.1.0";
/// The `type` this plugin is configured as.
pub const PLUGIN_TYPE: &str = "ebpfnet";

/// The network configuration of one attachment (`type: ebpfnet`).
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NetConf {
    pub cni_version: String,
    pub name: String,
    #[serde(rename = "type")]
    pub plugin_type: String,
    /// The ebpfnet network to attach to; the configuration's `name` when
    /// not given.
    #[serde(default)]
    pub network: Option<String>,
    /// The daemon's socket, unless `EBPFNET_SOCKET` names one.
    #[serde(default)]
    pub socket: Option<PathBuf>,
    #[serde(default)]
    pub capabilities: BTreeMap<String, bool>,
    #[serde(default)]
    pub runtime_config: RuntimeConfig,
    /// CHECK (and DEL): the result of ADD as the runtime kept it.
    #[serde(default)]
    pub prev_result: Option<Value>,
    /// GC: the attachments the runtime still has.
    #[serde(default, rename = "cni.dev/valid-attachments")]
    valid_attachments: Option<Vec<Attachment>>,
    /// The same list under the name an earlier spec text gave it; libcni
    /// sends both (containernetworking/cni#1101).
    #[serde(default, rename = "cni.dev/attachments")]
    attachments: Option<Vec<Attachment>>,
}

/// What the runtime supplies for the declared `capabilities`.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeConfig {
    #[serde(default)]
    pub port_mappings: Vec<PortMappingEntry>,
    /// `10.89.0.5/24` (the prefix is the network's; only the address counts).
    #[serde(default)]
    pub ips: Vec<String>,
    #[serde(default)]
    pub mac: Option<String>,
    #[serde(default)]
    pub dns: Option<DnsConfig>,
    /// Extra names per network (`{"NAME": ["db"]}`), as Podman sends them.
    #[serde(default)]
    pub aliases: BTreeMap<String, Vec<String>>,
    /// A rate limit the plugin cannot apply (kept only to refuse it).
    #[serde(default)]
    pub bandwidth: Option<Value>,
}

/// One `portMappings` entry (CONVENTIONS.md).
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortMappingEntry {
    pub host_port: u16,
    pub container_port: u16,
    #[serde(default)]
    pub protocol: Option<String>,
    #[serde(default, rename = "hostIP")]
    pub host_ip: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsConfig {
    #[serde(default)]
    pub servers: Vec<String>,
    #[serde(default)]
    pub searches: Vec<String>,
}

/// One `cni.dev/valid-attachments` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Attachment {
    #[serde(rename = "containerID")]
    pub container_id: String,
    pub ifname: String,
}

impl NetConf {
    /// Reads and checks the configuration: its version, its type.
    pub fn parse(text: &str) -> Result<Self, CniError> {
        let conf: NetConf = serde_json::from_str(text).map_err(decode_error)?;
        if conf.plugin_type != PLUGIN_TYPE {
            return Err(CniError::invalid_config(format!(
                "type is {:?}; this plugin is {PLUGIN_TYPE:?}",
                conf.plugin_type
            )));
        }
        check_version(&conf.cni_version)?;
        if conf.name.is_empty() {
            return Err(CniError::invalid_config("name is empty"));
        }
        Ok(conf)
    }

    /// GC's list of the attachments the runtime still has.
    pub fn valid_attachments(&self) -> Option<&[Attachment]> {
        self.valid_attachments
            .as_deref()
            .or(self.attachments.as_deref())
    }

    pub fn network(&self) -> &str {
        self.network.as_deref().unwrap_or(&self.name)
    }

    /// Whether the configuration declares capability `name`: the runtime
    /// passes `runtimeConfig` keys only for declared ones, and the plugin
    /// honours no other.
    pub fn has_capability(&self, name: &str) -> bool {
        self.capabilities.get(name).copied().unwrap_or(false)
    }
}

/// Refuses a spec version this plugin does not speak (code 1).
pub fn check_version(version: &str) -> Result<(), CniError> {
    if SUPPORTED_VERSIONS.contains(&version) {
        return Ok(());
    }
    Err(CniError::new(
        code::INCOMPATIBLE_VERSION,
        "incompatible CNI version",
        format!(
            "cniVersion {version:?}; this plugin supports {}",
            SUPPORTED_VERSIONS.join(", ")
        ),
    ))
}

/// Unreadable JSON is code 5 (failed to decode); JSON of the wrong shape
/// (a missing or mistyped field) is code 4 (invalid configuration).
pub fn decode_error(e: serde_json::Error) -> CniError {
    match e.classify() {
        serde_json::error::Category::Data => CniError::invalid_config(e.to_string()),
        _ => CniError::new(
            code::DECODE_FAILED,
            "cannot decode the network configuration",
            e.to_string(),
        ),
    }
}

/// The `cniVersion` of a configuration that may not parse, for the error
/// object (else the latest version).
pub fn version_of(text: &str) -> String {
    serde_json::from_str::<Value>(text)
        .ok()
        .and_then(|v| v.get("cniVersion")?.as_str().map(str::to_string))
        .filter(|v| SUPPORTED_VERSIONS.contains(&v.as_str()))
        .unwrap_or_else(|| LATEST_VERSION.to_string())
}

/// The verbs of the spec.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Gc,
    Status,
    Version,
}

/// The `CNI_*` environment variables.
#[derive(Debug, Default)]
pub struct CniEnv {
    pub container_id: Option<String>,
    pub netns: Option<PathBuf>,
    pub ifname: Option<String>,
    /// `CNI_ARGS`: `KEY=VALUE` pairs separated by `;`.
    pub args: Vec<(String, String)>,
}

/// The `CNI_ARGS` key under which Podman passes the container's name and a
/// kubelet the pod's.
pub const ARG_POD_NAME: &str = "K8S_POD_NAME";

impl Command {
    pub fn from_env(value: Option<&str>) -> Result<Self, CniError> {
        match value {
            Some("ADD") => Ok(Self::Add),
            Some("DEL") => Ok(Self::Del),
            Some("CHECK") => Ok(Self::Check),
            Some("GC") => Ok(Self::Gc),
            Some("STATUS") => Ok(Self::Status),
            Some("VERSION") => Ok(Self::Version),
            Some(other) => Err(CniError::invalid_env(format!(
                "unknown CNI_COMMAND {other:?}"
            ))),
            None => Err(CniError::invalid_env("CNI_COMMAND is not set")),
        }
    }
}

impl CniEnv {
    /// Reads the variables; empty ones count as unset.
    pub fn from_vars(get: impl Fn(&str) -> Option<String>) -> Self {
        let var = |name: &str| get(name).filter(|v| !v.is_empty());
        Self {
            container_id: var("CNI_CONTAINERID"),
            netns: var("CNI_NETNS").map(PathBuf::from),
            ifname: var("CNI_IFNAME"),
            args: var("CNI_ARGS").map(|a| parse_args(&a)).unwrap_or_default(),
        }
    }

    /// The value of `key` in `CNI_ARGS`, if given and not empty.
    pub fn arg(&self, key: &str) -> Option<&str> {
        self.args
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }

    pub fn container_id(&self) -> Result<&str, CniError> {
        self.container_id
            .as_deref()
            .ok_or_else(|| CniError::invalid_env("CNI_CONTAINERID is not set"))
    }

    pub fn ifname(&self) -> Result<&str, CniError> {
        self.ifname
            .as_deref()
            .ok_or_else(|| CniError::invalid_env("CNI_IFNAME is not set"))
    }

    pub fn netns(&self) -> Result<&std::path::Path, CniError> {
        self.netns
            .as_deref()
            .ok_or_else(|| CniError::invalid_env("CNI_NETNS is not set"))
    }
}

/// `CNI_ARGS` (`IgnoreUnknown=1;K8S_POD_NAME=web`) as pairs; a part
/// without `=` is skipped (the spec makes no use of one).
fn parse_args(text: &str) -> Vec<(String, String)> {
    text.split(';')
        .filter_map(|part| part.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cni_args_give_the_pod_name() {
        let env = CniEnv::from_vars(|name| {
            (name == "CNI_ARGS")
                .then(|| "IgnoreUnknown=1;K8S_POD_NAME=web;odd;K8S_POD_NAMESPACE=".into())
        });
        assert_eq!(env.arg(ARG_POD_NAME), Some("web"));
        assert_eq!(env.arg("K8S_POD_NAMESPACE"), None, "empty counts as unset");
        assert_eq!(env.arg("IgnoreUnknown"), Some("1"));
        assert_eq!(CniEnv::default().arg(ARG_POD_NAME), None);
    }

    #[test]
    fn a_gc_configuration_from_libcni_reads_its_valid_attachments() {
        let list = r#"[{"containerID": "3f69", "ifname": "eth0"}]"#;
        let conf = NetConf::parse(&format!(
            r#"{{"cniVersion": "1.1.0", "name": "web", "type": "ebpfnet",
                "cni.dev/valid-attachments": {list}, "cni.dev/attachments": {list}}}"#
        ))
        .expect("parses");
        let want = Attachment {
            container_id: "3f69".into(),
            ifname: "eth0".into(),
        };
        assert_eq!(conf.valid_attachments(), Some(&[want][..]));
        assert_eq!(conf.network(), "web", "network defaults to the name");
    }

    #[test]
    fn bad_configurations_get_the_specs_codes() {
        let code_of = |text: &str| NetConf::parse(text).expect_err(text).code;
        assert_eq!(
            code_of(r#"{"cniVersion": "1.1.0", "na"#),
            code::DECODE_FAILED
        );
        assert_eq!(
            code_of(r#"{"cniVersion": "1.1.0", "name": "web"}"#),
            code::INVALID_CONFIG
        );
        assert_eq!(
            code_of(r#"{"cniVersion": "1.1.0", "name": "web", "type": "bridge"}"#),
            code::INVALID_CONFIG
        );
        assert_eq!(
            code_of(r#"{"cniVersion": "0.4.0", "name": "web", "type": "ebpfnet"}"#),
            code::INCOMPATIBLE_VERSION
        );
    }
}
