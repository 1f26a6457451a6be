//! Global-scope networks: one key per network under
//! `/ebpfnet/v1/networks/`, created by a transaction that fails if the
//! name was taken or any network was added since the subnets were checked.

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr},
};

use etcd_client::{Compare, CompareOp, DeleteOptions, GetOptions, Txn, TxnOp};
use ipnetwork::{Ipv4Network, Ipv6Network};
use serde::{Deserialize, Serialize};

use super::{
    networks6::{self, Ipv6Wanted},
    store::{IPAM, NETWORKS, Store, StoreError},
};
use crate::{
    api::views::{Ipam, IpamConfig, NetworkSummary, NetworkView},
    ipam,
};

pub const DRIVER_OVERLAY: &str = "overlay";
pub const SCOPE_GLOBAL: &str = "global";

/// Subnets of overlay networks created without `--subnet`: the first /24
/// of this pool that no global network (nor a local one of this host)
/// overlaps.
pub const OVERLAY_POOL: Ipv4Network =
    match Ipv4Network::new_checked(Ipv4Addr::new(10, 128, 0, 0), 12) {
        Some(pool) => pool,
        None => panic!("10.128.0.0/12 is a valid subnet"),
    };
const OVERLAY_PREFIX: u8 = 24;
/// Tries of the create transaction when other networks keep appearing.
const CREATE_TRIES: usize = 5;

/// The value of a network key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GlobalNetwork {
    pub name: String,
    pub id: String,
    pub driver: String,
    /// Its IPv4 subnet and gateway; `None` on an IPv6-only network
    /// (`--ipv4=false`; daemons that predate those cannot read its key).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<Ipv4Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway: Option<Ipv4Addr>,
    pub internal: bool,
    /// RFC 3339.
    pub created: String,
    /// The node whose daemon created it.
    pub created_by: String,
    /// Its VXLAN network identifier, unique in the cluster (0 in records
    /// written before the overlay datapath: such a network takes no
    /// containers).
    #[serde(default)]
    pub vni: u32,
    /// Its IPv6 subnet and gateway on a dual-stack network (`--ipv6`);
    /// `None` on an IPv4-only one (and in records written before IPv6).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet6: Option<Ipv6Network>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway6: Option<Ipv6Addr>,
}

impl GlobalNetwork {
    /// Its IPv4 subnet and gateway, unless it is IPv6-only.
    pub fn ipv4(&self) -> Option<(Ipv4Network, Ipv4Addr)> {
        Some((self.subnet?, self.gateway?))
    }

    /// Its IPv6 subnet and gateway, on a network with IPv6.
    pub fn ipv6(&self) -> Option<(Ipv6Network, Ipv6Addr)> {
        Some((self.subnet6?, self.gateway6?))
    }
}

/// VNIs are handed out from here up, lowest free first (Docker's overlay
/// driver starts at 4096 too).
pub const FIRST_VNI: u32 = 4096;
/// VNIs are 24 bits.
pub const LAST_VNI: u32 = (1 << 24) - 1;

/// What `network create -d overlay` asks for.
pub struct NetworkRequest<'a> {
    pub name: &'a str,
    pub subnet: Option<Ipv4Network>,
    pub gateway: Option<Ipv4Addr>,
    pub internal: bool,
    /// This host's own networks' subnets, which a global one must not overlap.
    pub local_subnets: Vec<Ipv4Network>,
    /// False for an IPv6-only network (`--ipv4=false`, with `--ipv6`).
    pub ipv4: bool,
    /// `--ipv6`: a network with IPv6, with what was asked of IPv6.
    pub ipv6: Option<Ipv6Wanted>,
    /// This host's own networks' IPv6 subnets.
    pub local_subnets6: Vec<Ipv6Network>,
    pub node_id: &'a str,
}

/// Creates the network in the store; answers its id.
pub async fn create(store: &Store, request: NetworkRequest<'_>) -> Result<String, StoreError> {
    let key = format!("{NETWORKS}{}", request.name);
    for _ in 0..CREATE_TRIES {
        let mut client = store.client.clone();
        let listed = store
            .request(client.get(NETWORKS, Some(GetOptions::new().with_prefix())))
            .await?;
        let revision = listed.header().map_or(0, |h| h.revision());
        let mut taken = Vec::new();
        let mut taken6 = Vec::new();
        let mut vnis = std::collections::BTreeSet::new();
        for kv in listed.kvs() {
            let network: GlobalNetwork =
                serde_json::from_slice(kv.value()).map_err(|e| store.bad_value(kv.key(), e))?;
            if network.name == request.name {
                return Err(refused(format!("network {} already exists", request.name)));
            }
            if let Some(subnet) = network.subnet {
                taken.push((subnet, format!("network {}", network.name)));
            }
            if let Some(subnet6) = network.subnet6 {
                taken6.push((subnet6, format!("network {}", network.name)));
            }
            vnis.insert(network.vni);
        }
        let vni = (FIRST_VNI..=LAST_VNI)
            .find(|v| !vnis.contains(v))
            .ok_or_else(|| refused("no free VXLAN network identifier left"))?;
        let v4 = if request.ipv4 {
            let subnet =
                choose_subnet(request.subnet, &taken, &request.local_subnets).map_err(refused)?;
            let gateway = match request.gateway {
                Some(gateway) => ipam::check_gateway(subnet, gateway).map(|()| gateway),
                None => ipam::default_gateway(subnet),
            }
            .map_err(|e| refused(e.to_string()))?;
            Some((subnet, gateway))
        } else {
            None
        };
        let six = match request.ipv6 {
            Some(wanted) => {
                Some(networks6::plan(wanted, &taken6, &request.local_subnets6).map_err(refused)?)
            }
            None => None,
        };
        let id = crate::ids::new_id().map_err(|e| refused(format!("cannot make an id: {e}")))?;
        let network = GlobalNetwork {
            name: request.name.to_string(),
            id: id.clone(),
            driver: DRIVER_OVERLAY.into(),
            subnet: v4.map(|(subnet, _)| subnet),
            gateway: v4.map(|(_, gateway)| gateway),
            internal: request.internal,
            created: jiff::Timestamp::now().to_string(),
            created_by: request.node_id.to_string(),
            vni,
            subnet6: six.map(|(subnet, _)| subnet),
            gateway6: six.map(|(_, gateway)| gateway),
        };
        let value = serde_json::to_vec(&network).map_err(|e| refused(e.to_string()))?;
        let txn = Txn::new()
            .when([
                Compare::create_revision(key.as_str(), CompareOp::Equal, 0),
                Compare::mod_revision(NETWORKS, CompareOp::Less, revision + 1).with_prefix(),
            ])
            .and_then([TxnOp::put(key.as_str(), value, None)]);
        if store.request(client.txn(txn)).await?.succeeded() {
            return Ok(id);
        }
        // Another daemon created a network in between: check again.
    }
    Err(refused(format!(
        "network {} not created: other networks kept being created at the same time; try again",
        request.name
    )))
}

/// Removes the network and its address claims.
pub async fn remove(store: &Store, name: &str) -> Result<(), StoreError> {
    let mut client = store.client.clone();
    let key = format!("{NETWORKS}{name}");
    let claims = format!("{IPAM}{name}/");
    let txn = Txn::new()
        .when([Compare::create_revision(
            key.as_str(),
            CompareOp::Greater,
            0,
        )])
        .and_then([
            TxnOp::delete(key.as_str(), None),
            TxnOp::delete(claims, Some(DeleteOptions::new().with_prefix())),
        ]);
    if store.request(client.txn(txn)).await?.succeeded() {
        Ok(())
    } else {
        Err(refused(format!("network {name} not found")))
    }
}

fn refused(message: impl Into<String>) -> StoreError {
    StoreError::Refused(message.into())
}

/// The given subnet if it overlaps nothing, else the first free /24 of
/// [`OVERLAY_POOL`].
fn choose_subnet(
    wanted: Option<Ipv4Network>,
    taken: &[(Ipv4Network, String)],
    local: &[Ipv4Network],
) -> Result<Ipv4Network, String> {
    let clash = |subnet: Ipv4Network| {
        taken
            .iter()
            .find(|(other, _)| overlaps(subnet, *other))
            .map(|(other, what)| format!("{what} ({other})"))
            .or_else(|| {
                local
                    .iter()
                    .find(|other| overlaps(subnet, **other))
                    .map(|other| format!("a network of this host ({other})"))
            })
    };
    if let Some(subnet) = wanted {
        if subnet.ip() != subnet.network() {
            return Err(format!(
                "subnet {subnet}: use the subnet's own address, {}",
                subnet.network()
            ));
        }
        return match clash(subnet) {
            Some(what) => Err(format!("subnet {subnet} overlaps {what}")),
            None => Ok(subnet),
        };
    }
    let step = 1u32 << (32 - OVERLAY_PREFIX);
    let first = u32::from(OVERLAY_POOL.network());
    (0..OVERLAY_POOL.size() / step)
        .filter_map(|i| Ipv4Network::new(Ipv4Addr::from(first + i * step), OVERLAY_PREFIX).ok())
        .find(|subnet| clash(*subnet).is_none())
        .ok_or_else(|| format!("no free /{OVERLAY_PREFIX} left in the overlay pool {OVERLAY_POOL}"))
}

fn overlaps(a: Ipv4Network, b: Ipv4Network) -> bool {
    a.contains(b.network()) || b.contains(a.network())
}

pub fn summary(network: &GlobalNetwork) -> NetworkSummary {
    NetworkSummary {
        enable_ipv6: network.subnet6.is_some(),
        id: network.id.clone(),
        name: network.name.clone(),
        driver: network.driver.clone(),
        scope: SCOPE_GLOBAL.into(),
        internal: network.internal,
        created: network.created.clone(),
        subnet: network.subnet,
        gateway: network.gateway,
        bridge: None,
        labels: Default::default(),
    }
}

pub fn inspect(network: &GlobalNetwork) -> NetworkView {
    NetworkView {
        name: network.name.clone(),
        id: network.id.clone(),
        created: network.created.clone(),
        scope: SCOPE_GLOBAL.into(),
        driver: network.driver.clone(),
        enable_ipv6: network.subnet6.is_some(),
        enable_ipv4: network.subnet.is_some(),
        internal: network.internal,
        ipam: Ipam {
            driver: "default".into(),
            options: BTreeMap::new(),
            config: (network.ipv4().map(|(subnet, gateway)| IpamConfig {
                subnet: subnet.into(),
                gateway: gateway.into(),
            }))
            .into_iter()
            .chain(network.ipv6().map(|(subnet, gateway)| IpamConfig {
                subnet: subnet.into(),
                gateway: gateway.into(),
            }))
            .collect(),
        },
        containers: BTreeMap::new(),
        options: BTreeMap::from([(
            "com.docker.network.driver.overlay.vxlanid_list".to_string(),
            network.vni.to_string(),
        )]),
        labels: BTreeMap::from([("ebpfnet.created-by".to_string(), network.created_by.clone())]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(text: &str) -> Ipv4Network {
        text.parse().unwrap()
    }

    #[test]
    fn first_free_slash24_of_the_pool() {
        let taken = vec![(net("10.128.0.0/24"), "network a".to_string())];
        let local = vec![net("10.128.1.0/25")];
        assert_eq!(
            choose_subnet(None, &taken, &local),
            Ok(net("10.128.2.0/24"))
        );
    }

    #[test]
    fn given_subnet_must_not_overlap() {
        let taken = vec![(net("10.20.0.0/16"), "network a".to_string())];
        let e = choose_subnet(Some(net("10.20.5.0/24")), &taken, &[]).unwrap_err();
        assert_eq!(e, "subnet 10.20.5.0/24 overlaps network a (10.20.0.0/16)");
        let e = choose_subnet(Some(net("10.0.0.0/8")), &[], &[net("10.214.0.0/16")]).unwrap_err();
        assert!(e.contains("a network of this host (10.214.0.0/16)"), "{e}");
        assert_eq!(
            choose_subnet(Some(net("10.21.0.0/16")), &taken, &[]),
            Ok(net("10.21.0.0/16"))
        );
        assert!(choose_subnet(Some(net("10.21.0.1/16")), &[], &[]).is_err());
    }

    #[test]
    fn records_of_every_family_read_back() {
        // As daemons wrote them before IPv6-only networks.
        let old = r#"{"name":"web","id":"ab","driver":"overlay","subnet":"10.129.0.0/24",
            "gateway":"10.129.0.1","internal":false,"created":"2026-01-01T00:00:00Z",
            "created_by":"n1","vni":4096,"subnet6":"fd00:eb:1::/64","gateway6":"fd00:eb:1::1"}"#;
        let dual: GlobalNetwork = serde_json::from_str(old).unwrap();
        assert_eq!(
            dual.ipv4(),
            Some((net("10.129.0.0/24"), Ipv4Addr::new(10, 129, 0, 1)))
        );
        assert!(dual.ipv6().is_some());
        assert!(inspect(&dual).enable_ipv4);
        assert_eq!(inspect(&dual).ipam.config.len(), 2);
        // IPv6-only: no IPv4 keys written, none read.
        let only6 = GlobalNetwork {
            subnet: None,
            gateway: None,
            ..dual
        };
        let text = serde_json::to_string(&only6).unwrap();
        assert!(
            !text.contains("\"subnet\"") && !text.contains("\"gateway\""),
            "{text}"
        );
        assert_eq!(serde_json::from_str::<GlobalNetwork>(&text).unwrap(), only6);
        let view = inspect(&only6);
        assert!(!view.enable_ipv4 && view.enable_ipv6);
        assert_eq!(view.ipam.config.len(), 1);
        assert_eq!(summary(&only6).subnet, None);
    }
}
