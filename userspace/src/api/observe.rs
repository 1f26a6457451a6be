//! Answers about what the daemon and its datapath are doing: `status`,
//! `stats` and `flows`.

use std::net::IpAddr;

use serde::{Deserialize, Serialize};

/// `status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatusView {
    /// The daemon's package version.
    pub version: String,
    pub uplinks: Vec<Uplink>,
    pub pin_dir: String,
    pub state_dir: String,
    /// How many networks and containers there are.
    pub networks: usize,
    pub containers: usize,
    /// How the TC programs attach: `tcx` or `netlink`.
    #[serde(default)]
    pub tc_attach: String,
    pub programs: Vec<Attachment>,
    pub maps: Vec<MapFill>,
    pub counters: Vec<ProgramCounters>,
    pub interfaces: Vec<InterfaceCounters>,
    /// The cluster this daemon joined (`--cluster-store`), if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster: Option<ClusterView>,
}

/// `status` of a daemon in a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterView {
    /// `etcd://HOST:PORT[,…]`.
    pub store: String,
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub advertise_addr: String,
    /// The last request to the store succeeded.
    pub connected: bool,
    /// Why the last request failed, while the store is unreachable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub lease_ttl_seconds: u64,
    /// The live nodes, this one included (as last seen while unreachable).
    pub nodes: Vec<ClusterNode>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterNode {
    #[serde(rename = "NodeID")]
    pub node_id: String,
    pub advertise_addr: String,
    pub hostname: String,
    pub version: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Uplink {
    pub name: String,
    pub ifindex: u32,
}

/// A program attached to an interface, or to the cgroup (ifindex 0).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Attachment {
    pub program: String,
    pub interface: String,
    pub ifindex: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MapFill {
    pub name: String,
    pub entries: u32,
    pub max_entries: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ProgramCounters {
    pub program: String,
    pub packets: u64,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InterfaceCounters {
    pub ifindex: u32,
    pub packets: u64,
    pub bytes: u64,
}

/// `stats`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct StatsView {
    pub programs: Vec<ProgramCounters>,
    pub mappings: Vec<MappingStats>,
    /// Every drop reason, also those that never happened.
    pub drops: Vec<DropCount>,
}

/// Counters of one published mapping.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MappingStats {
    /// `0.0.0.0:8080/tcp -> web:80`.
    pub mapping: String,
    pub host_ip: IpAddr,
    pub host_port: u16,
    pub protocol: String,
    pub container: String,
    pub container_port: u16,
    pub packets: u64,
    pub bytes: u64,
    pub flows: u64,
}

/// How many packets the programs dropped for one reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DropCount {
    pub reason: String,
    pub count: u64,
}

/// A NAT flow (`flows`): its first direction (the request, when both are
/// there) and, if present, the other one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct FlowView {
    pub protocol: String,
    /// `src:port -> dst:port` as the first packet looked.
    pub original: String,
    /// The same after translation.
    pub translated: String,
    pub kind: String,
    pub state: String,
    pub age_ms: u64,
    pub idle_ms: u64,
    pub packets: u64,
    pub bytes: u64,
    pub entries: Vec<EntryView>,
}

/// One direction of a flow, field by field as in the map.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct EntryView {
    pub table: String,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dst_ip: IpAddr,
    pub dst_port: u16,
    pub protocol: u8,
    pub new_src_ip: IpAddr,
    pub new_src_port: u16,
    pub new_dst_ip: IpAddr,
    pub new_dst_port: u16,
    pub kind: String,
    pub forward: u8,
    pub ifindex: u32,
    pub tcp_flags: u8,
    /// `Peer`: the container's MAC; `Neigh`: the cached next hop's, valid
    /// while `NexthopGeneration` is the datapath's current one (0: none).
    pub dst_mac: String,
    #[serde(default)]
    pub src_mac: String,
    #[serde(default)]
    pub nexthop_generation: u8,
    pub created_ns: u64,
    pub last_seen_ns: u64,
    pub packets: u64,
    pub bytes: u64,
}

/// Sample values shared by the tests of the answers' users (the CLI's text
/// forms, the metrics).
#[cfg(test)]
pub mod samples {
    use std::net::Ipv4Addr;

    use super::{
        DropCount, EntryView, FlowView, MappingStats, ProgramCounters, StatusView, Uplink,
    };

    /// `ebpfnet daemon 0.1.0` with `networks` and `containers`, on uplink
    /// eth0 (#2), the default state and pin dirs, TC programs through TCX;
    /// nothing attached, counted or filled, no cluster.
    pub fn status(networks: usize, containers: usize) -> StatusView {
        StatusView {
            version: "0.1.0".into(),
            uplinks: vec![Uplink {
                name: "eth0".into(),
                ifindex: 2,
            }],
            pin_dir: "/sys/fs/bpf/ebpfnet".into(),
            state_dir: "/var/lib/ebpfnet".into(),
            networks,
            containers,
            tc_attach: "tcx".into(),
            programs: Vec::new(),
            maps: Vec::new(),
            counters: Vec::new(),
            interfaces: Vec::new(),
            cluster: None,
        }
    }

    /// The TCP flow 203.0.113.2:40000 -> 203.0.113.1:8080 published to
    /// `container`:80, established and replied, 65 s old and idle for
    /// 1.5 s, 10 packets and 1000 bytes; its NAT entries are `entries`.
    pub fn published_flow(container: &str, entries: Vec<EntryView>) -> FlowView {
        FlowView {
            protocol: "tcp".into(),
            original: "203.0.113.2:40000 -> 203.0.113.1:8080".into(),
            translated: format!("203.0.113.2:40000 -> {container}:80"),
            kind: "published".into(),
            state: "established,replied".into(),
            age_ms: 65_000,
            idle_ms: 1_500,
            packets: 10,
            bytes: 1000,
            entries,
        }
    }

    /// `uplink_ingress`: 3 packets, 180 bytes.
    pub fn uplink_program() -> ProgramCounters {
        ProgramCounters {
            program: "uplink_ingress".into(),
            packets: 3,
            bytes: 180,
        }
    }

    /// `0.0.0.0:8080/tcp -> web:80` with these counters.
    pub fn web_mapping(packets: u64, bytes: u64, flows: u64) -> MappingStats {
        MappingStats {
            mapping: "0.0.0.0:8080/tcp -> web:80".into(),
            host_ip: Ipv4Addr::UNSPECIFIED.into(),
            host_port: 8080,
            protocol: "tcp".into(),
            container: "web".into(),
            container_port: 80,
            packets,
            bytes,
            flows,
        }
    }

    pub fn drop_count(reason: &str, count: u64) -> DropCount {
        DropCount {
            reason: reason.into(),
            count,
        }
    }
}
