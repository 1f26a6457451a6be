//! macvlan and ipvlan networks, as Docker's drivers of those names: what
//! `network create -d DRIVER -o KEY=VALUE` asks for, checked before anything
//! is made. Pure; the links are made by `host::lan`, the rest by the
//! controller (`controller::lan`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use thiserror::Error;

pub const DRIVER_BRIDGE: &str = "bridge";
pub const DRIVER_MACVLAN: &str = "macvlan";
pub const DRIVER_IPVLAN: &str = "ipvlan";

/// Docker's option keys.
pub const OPT_PARENT: &str = "parent";
pub const OPT_MACVLAN_MODE: &str = "macvlan_mode";
pub const OPT_IPVLAN_MODE: &str = "ipvlan_mode";
pub const OPT_IPVLAN_FLAG: &str = "ipvlan_flag";

/// Docker names the dummy parent of a network without one `dm-` + the
/// first 12 characters of the network id.
const DUMMY_PREFIX: &str = "dm-";
const IFNAME_MAX: usize = 15;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LanKind {
    Macvlan,
    Ipvlan,
}

impl LanKind {
    pub fn driver(self) -> &'static str {
        match self {
            LanKind::Macvlan => DRIVER_MACVLAN,
            LanKind::Ipvlan => DRIVER_IPVLAN,
        }
    }

    /// The option key of the mode.
    pub fn mode_key(self) -> &'static str {
        match self {
            LanKind::Macvlan => OPT_MACVLAN_MODE,
            LanKind::Ipvlan => OPT_IPVLAN_MODE,
        }
    }

    fn modes(self) -> &'static [&'static str] {
        match self {
            LanKind::Macvlan => &["bridge", "private", "vepa", "passthru"],
            LanKind::Ipvlan => &["l2", "l3", "l3s"],
        }
    }
}

/// A parent link ebpfnet made for the network, removed with it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum MadeParent {
    /// A dummy link: a network without a parent, or `--internal`. Its
    /// containers reach each other and nothing else.
    Dummy,
    /// A VLAN sub-interface `LINK.ID` on `link`, made because it was missing.
    Vlan { link: String, id: u16 },
}

/// What makes a network a macvlan or ipvlan one (kept in its state).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanNetwork {
    pub kind: LanKind,
    /// The host interface the containers' interfaces are made on.
    pub parent: String,
    /// macvlan: bridge, private, vepa, passthru; ipvlan: l2, l3, l3s.
    pub mode: String,
    /// ipvlan only: bridge, private, vepa.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub flag: Option<String>,
    /// Set when ebpfnet made the parent; `None` for the host's own.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_parent: Option<MadeParent>,
}

impl LanNetwork {
    /// Whether containers route through a gateway (macvlan, ipvlan l2) or
    /// out of their device (ipvlan l3 and l3s: the host routes for them).
    pub fn routes_via_gateway(&self) -> bool {
        !(self.kind == LanKind::Ipvlan && self.mode != "l2")
    }

    /// `network inspect`'s `Options`, with Docker's keys.
    pub fn options(&self) -> BTreeMap<String, String> {
        let mut options = BTreeMap::from([
            (OPT_PARENT.to_string(), self.parent.clone()),
            (self.kind.mode_key().to_string(), self.mode.clone()),
        ]);
        if let Some(flag) = &self.flag {
            options.insert(OPT_IPVLAN_FLAG.to_string(), flag.clone());
        }
        options
    }
}

#[derive(Debug, Error, PartialEq, Eq)]
pub enum LanError {
    #[error(
        "unknown network driver {0:?}: ebpfnet has bridge, macvlan, ipvlan and overlay (with a cluster store)"
    )]
    UnknownDriver(String),
    #[error("driver {driver} takes no option {key:?} (it takes: {known})")]
    UnknownOption {
        driver: &'static str,
        key: String,
        known: String,
    },
    #[error("invalid {key} {value:?}: use one of {known}")]
    BadValue {
        key: &'static str,
        value: String,
        known: String,
    },
    #[error("invalid parent interface name {0:?}")]
    BadParent(String),
}

/// The macvlan or ipvlan network `driver` and `options` ask for, or `None`
/// for a bridge network. `network_id` names the dummy parent of a network
/// without one; `--internal` always gets a dummy parent, as in Docker.
pub fn parse(
    driver: &str,
    options: &BTreeMap<String, String>,
    internal: bool,
    network_id: &str,
) -> Result<Option<LanNetwork>, LanError> {
    let kind = match driver {
        DRIVER_BRIDGE => {
            return match options.keys().next() {
                Some(key) => Err(LanError::UnknownOption {
                    driver: DRIVER_BRIDGE,
                    key: key.clone(),
                    known: "none".into(),
                }),
                None => Ok(None),
            };
        }
        DRIVER_MACVLAN => LanKind::Macvlan,
        DRIVER_IPVLAN => LanKind::Ipvlan,
        other => return Err(LanError::UnknownDriver(other.to_string())),
    };
    let known: &[&str] = match kind {
        LanKind::Macvlan => &[OPT_PARENT, OPT_MACVLAN_MODE],
        LanKind::Ipvlan => &[OPT_PARENT, OPT_IPVLAN_MODE, OPT_IPVLAN_FLAG],
    };
    if let Some(key) = options.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(LanError::UnknownOption {
            driver: kind.driver(),
            key: key.clone(),
            known: known.join(", "),
        });
    }
    let mode = one_of(kind.mode_key(), options.get(kind.mode_key()), kind.modes())?;
    let flag = match kind {
        LanKind::Ipvlan => Some(one_of(
            OPT_IPVLAN_FLAG,
            options.get(OPT_IPVLAN_FLAG),
            &["bridge", "private", "vepa"],
        )?),
        LanKind::Macvlan => None,
    };
    let given = options.get(OPT_PARENT).filter(|p| !p.is_empty());
    let (parent, made_parent) = match given {
        Some(parent) if !internal => {
            check_ifname(parent)?;
            (parent.clone(), None)
        }
        _ => (dummy_name(network_id), Some(MadeParent::Dummy)),
    };
    Ok(Some(LanNetwork {
        kind,
        parent,
        mode: mode.to_string(),
        flag: flag.map(str::to_string),
        made_parent,
    }))
}

/// `value`, or the first of `known` (the default) when not given.
fn one_of(
    key: &'static str,
    value: Option<&String>,
    known: &[&'static str],
) -> Result<&'static str, LanError> {
    match value {
        None => Ok(known[0]),
        Some(value) => known
            .iter()
            .find(|k| **k == value.as_str())
            .copied()
            .ok_or_else(|| LanError::BadValue {
                key,
                value: value.clone(),
                known: known.join(", "),
            }),
    }
}

fn check_ifname(name: &str) -> Result<(), LanError> {
    let bad = name.len() > IFNAME_MAX
        || name == "."
        || name == ".."
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control());
    if bad {
        return Err(LanError::BadParent(name.to_string()));
    }
    Ok(())
}

/// The dummy parent of network `network_id`.
pub fn dummy_name(network_id: &str) -> String {
    let short: String = network_id.chars().take(12).collect();
    format!("{DUMMY_PREFIX}{short}")
}

/// `eth0.10` → (`eth0`, 10): a VLAN sub-interface name as Docker reads it
/// (one dot, an id from 1 to 4094).
pub fn parse_vlan(name: &str) -> Option<(&str, u16)> {
    let (link, id) = name.split_once('.')?;
    if link.is_empty() || id.contains('.') {
        return None;
    }
    let id: u16 = id.parse().ok()?;
    (1..=4094).contains(&id).then_some((link, id))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opts(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const ID: &str = "0123456789abcdef0123";

    #[test]
    fn bridge_takes_no_options_and_unknown_drivers_are_refused() {
        assert_eq!(parse("bridge", &opts(&[]), false, ID), Ok(None));
        let err = parse("bridge", &opts(&[("parent", "eth0")]), false, ID).expect_err("opt");
        assert!(
            err.to_string().contains("driver bridge takes no option"),
            "{err}"
        );
        let err = parse("overlay2", &opts(&[]), false, ID).expect_err("driver");
        assert!(err.to_string().contains("unknown network driver"), "{err}");
    }

    #[test]
    fn macvlan_defaults_and_modes() {
        let lan = parse("macvlan", &opts(&[("parent", "eth0")]), false, ID)
            .expect("ok")
            .expect("lan");
        assert_eq!(lan.kind, LanKind::Macvlan);
        assert_eq!((lan.parent.as_str(), lan.mode.as_str()), ("eth0", "bridge"));
        assert_eq!(lan.made_parent, None);
        assert!(lan.routes_via_gateway());
        let vepa = opts(&[("parent", "eth0"), ("macvlan_mode", "vepa")]);
        let lan = parse("macvlan", &vepa, false, ID)
            .expect("ok")
            .expect("lan");
        assert_eq!(lan.mode, "vepa");
        let bad = opts(&[("parent", "eth0"), ("macvlan_mode", "l2")]);
        let err = parse("macvlan", &bad, false, ID).expect_err("mode");
        assert!(
            err.to_string().contains("invalid macvlan_mode \"l2\""),
            "{err}"
        );
        let other = opts(&[("parent", "eth0"), ("ipvlan_mode", "l2")]);
        let err = parse("macvlan", &other, false, ID).expect_err("key");
        assert!(
            err.to_string().contains("takes no option \"ipvlan_mode\""),
            "{err}"
        );
    }

    #[test]
    fn ipvlan_modes_and_flags() {
        let l3 = opts(&[("parent", "eth0"), ("ipvlan_mode", "l3")]);
        let lan = parse("ipvlan", &l3, false, ID).expect("ok").expect("lan");
        assert_eq!(
            (lan.mode.as_str(), lan.flag.as_deref()),
            ("l3", Some("bridge"))
        );
        assert!(!lan.routes_via_gateway());
        assert_eq!(lan.options()["ipvlan_mode"], "l3");
        let l2 = parse("ipvlan", &opts(&[("parent", "eth0")]), false, ID)
            .expect("ok")
            .expect("lan");
        assert!(l2.routes_via_gateway());
        let bad = opts(&[("parent", "eth0"), ("ipvlan_flag", "loud")]);
        assert!(parse("ipvlan", &bad, false, ID).is_err());
    }

    #[test]
    fn no_parent_or_internal_means_a_dummy_parent() {
        for (options, internal) in [
            (opts(&[]), false),
            (opts(&[("parent", "")]), false),
            (opts(&[("parent", "eth0")]), true),
        ] {
            let lan = parse("macvlan", &options, internal, ID)
                .expect("ok")
                .expect("lan");
            assert_eq!(lan.parent, "dm-0123456789ab");
            assert_eq!(lan.made_parent, Some(MadeParent::Dummy));
        }
        let long = opts(&[("parent", "a-very-long-interface")]);
        assert!(parse("macvlan", &long, false, ID).is_err());
    }

    #[test]
    fn vlan_names() {
        assert_eq!(parse_vlan("eth0.10"), Some(("eth0", 10)));
        assert_eq!(parse_vlan("ebntln1.4094"), Some(("ebntln1", 4094)));
        for bad in ["eth0", "eth0.0", "eth0.4095", ".10", "eth0.1.2", "eth0.x"] {
            assert_eq!(parse_vlan(bad), None, "{bad}");
        }
    }
}
