//! The pin directory: where maps and links outlive the daemon.

use std::{
    fs,
    io::ErrorKind,
    path::{Path, PathBuf},
};

use aya::maps::{MapData, MapType, lpm_trie::Key};
use ebpfnet_common::{
    IfaceCounters, IfaceSlot, ProgramId, TrafficCounter,
    flows6::{FlowKey6, MasqUsageKey6, NatEntry6, UplinkInfo6},
    fragments::{FragKey, FragKey6, FragValue},
    maps::{
        Config, EndpointAddr, EndpointInfo, FlowKey, HostAddr, LanIpKey, LanMac, LanMacKey,
        MasqUsageKey, NatEntry, NetworkInfo, PublishedKey, PublishedStats, PublishedValue,
        SockReverseKey, SockReverseValue, SubnetKey, UplinkInfo,
    },
    maps6::{EndpointInfo6, LanIpKey6, NetworkInfo6, SubnetKey6},
    names,
    overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey, OverlayPeerKey6},
    published6::{PublishedKey6, PublishedValue6, SockReverseKey6, SockReverseValue6},
    routed6::RoutedPortKey6,
};
use nix::{
    mount::{MsFlags, mount},
    sys::statfs::statfs,
};

use super::{DatapathError, tc_attach};

const BPF_FS_MAGIC: i64 = 0xcafe_4a11;
const BPF_FS_ROOT: &str = "/sys/fs/bpf";
pub const LINKS_DIR: &str = "links";

/// A pinned map this datapath owns, with the layout it must have.
pub struct MapLayout {
    pub name: &'static str,
    pub map_type: MapType,
    pub key_size: u32,
    pub value_size: u32,
    pub max_entries: u32,
}

fn layout<K, V>(name: &'static str, map_type: MapType, max_entries: u32) -> MapLayout {
    MapLayout {
        name,
        map_type,
        key_size: size_of::<K>() as u32,
        value_size: size_of::<V>() as u32,
        max_entries,
    }
}

/// Sizes the daemon chooses at start (`--nat-table-size`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MapSizes {
    /// Entries in each of `NAT_TCP`, `NAT_OTHER`, `NAT6_TCP` and
    /// `NAT6_OTHER`; a flow takes two.
    pub nat_entries: u32,
}

impl Default for MapSizes {
    fn default() -> Self {
        Self {
            nat_entries: names::NAT_CAPACITY,
        }
    }
}

/// Every map the programs share with the controller, pinned as
/// `<pin dir>/<name>`.
pub fn map_layouts(sizes: &MapSizes) -> Vec<MapLayout> {
    use names::*;
    vec![
        layout::<u32, TrafficCounter>(PROG_STATS_MAP, MapType::PerCpuArray, ProgramId::COUNT),
        layout::<u32, IfaceSlot>(IFACE_SLOTS_MAP, MapType::PerCpuArray, IFACE_SLOTS_CAPACITY),
        layout::<u32, IfaceCounters>(IFACE_STATS_MAP, MapType::PerCpuHash, IFACE_STATS_CAPACITY),
        layout::<u32, u64>(DROPS_MAP, MapType::PerCpuArray, DROPS_CAPACITY),
        layout::<PublishedKey, PublishedValue>(PUBLISHED_MAP, MapType::Hash, PUBLISHED_CAPACITY),
        layout::<PublishedKey, PublishedStats>(
            PUBLISHED_STATS_MAP,
            MapType::PerCpuHash,
            PUBLISHED_CAPACITY,
        ),
        layout::<u32, EndpointInfo>(ENDPOINTS_MAP, MapType::Hash, ENDPOINTS_CAPACITY),
        layout::<[u8; 4], EndpointAddr>(ENDPOINT_IPS_MAP, MapType::Hash, ENDPOINTS_CAPACITY),
        layout::<LanMacKey, [u8; 4]>(LAN_HOSTS_MAP, MapType::Hash, LAN_HOSTS_CAPACITY),
        layout::<LanIpKey, LanMac>(LAN_IPS_MAP, MapType::Hash, LAN_HOSTS_CAPACITY),
        layout::<LanMacKey, EndpointInfo6>(LAN_HOSTS6_MAP, MapType::Hash, LAN_HOSTS_CAPACITY),
        layout::<LanIpKey6, LanMac>(LAN_IPS6_MAP, MapType::Hash, LAN_HOSTS_CAPACITY),
        layout::<Key<SubnetKey>, NetworkInfo>(NETWORKS_MAP, MapType::LpmTrie, NETWORKS_CAPACITY),
        layout::<u32, EndpointInfo6>(ENDPOINTS6_MAP, MapType::Hash, ENDPOINTS_CAPACITY),
        layout::<[u8; 16], EndpointAddr>(ENDPOINT_IPS6_MAP, MapType::Hash, ENDPOINTS_CAPACITY),
        layout::<Key<SubnetKey6>, NetworkInfo6>(NETWORKS6_MAP, MapType::LpmTrie, NETWORKS_CAPACITY),
        layout::<u32, UplinkInfo>(UPLINKS_MAP, MapType::Hash, UPLINKS_CAPACITY),
        layout::<[u8; 4], HostAddr>(HOST_ADDRS_MAP, MapType::Hash, HOST_ADDRS_CAPACITY),
        layout::<PublishedKey6, PublishedValue6>(PUBLISHED6_MAP, MapType::Hash, PUBLISHED_CAPACITY),
        layout::<PublishedKey6, PublishedStats>(
            PUBLISHED_STATS6_MAP,
            MapType::PerCpuHash,
            PUBLISHED_CAPACITY,
        ),
        layout::<[u8; 16], HostAddr>(HOST_ADDRS6_MAP, MapType::Hash, HOST_ADDRS_CAPACITY),
        layout::<SockReverseKey6, SockReverseValue6>(
            SOCK_REVERSE6_MAP,
            MapType::LruHash,
            SOCK_REVERSE_CAPACITY,
        ),
        layout::<FlowKey, NatEntry>(NAT_TCP_MAP, MapType::Hash, sizes.nat_entries),
        layout::<FlowKey, NatEntry>(NAT_OTHER_MAP, MapType::Hash, sizes.nat_entries),
        layout::<MasqUsageKey, u32>(MASQ_USAGE_MAP, MapType::Hash, MASQ_USAGE_CAPACITY),
        layout::<FlowKey6, NatEntry6>(NAT6_TCP_MAP, MapType::Hash, sizes.nat_entries),
        layout::<FlowKey6, NatEntry6>(NAT6_OTHER_MAP, MapType::Hash, sizes.nat_entries),
        layout::<MasqUsageKey6, u32>(MASQ_USAGE6_MAP, MapType::Hash, MASQ_USAGE_CAPACITY),
        layout::<u32, UplinkInfo6>(UPLINKS6_MAP, MapType::Hash, UPLINKS_CAPACITY),
        layout::<RoutedPortKey6, u32>(
            ebpfnet_common::routed6::ROUTED6_MAP,
            MapType::Hash,
            ebpfnet_common::routed6::ROUTED6_CAPACITY,
        ),
        layout::<u32, u32>(TAIL_CALLS_MAP, MapType::ProgramArray, TAIL_CALLS_CAPACITY),
        layout::<u32, u8>(
            ebpfnet_common::nat46::NAT46_PORTS_MAP,
            MapType::Array,
            ebpfnet_common::nat46::NAT46_PORTS_CAPACITY,
        ),
        layout::<u32, Config>(CONFIG_MAP, MapType::Array, 1),
        layout::<u32, u32>(NEXTHOP_GEN_MAP, MapType::Array, 1),
        layout::<SockReverseKey, SockReverseValue>(
            SOCK_REVERSE_MAP,
            MapType::LruHash,
            SOCK_REVERSE_CAPACITY,
        ),
        layout::<FragKey, FragValue>(FRAGMENTS_MAP, MapType::LruHash, FRAGMENTS_CAPACITY),
        layout::<FragKey6, FragValue>(FRAGMENTS6_MAP, MapType::LruHash, FRAGMENTS_CAPACITY),
        layout::<OverlayPeerKey, OverlayPeer>(
            OVERLAY_PEERS_MAP,
            MapType::Hash,
            OVERLAY_PEERS_CAPACITY,
        ),
        layout::<OverlayPeerKey6, OverlayPeer>(
            OVERLAY_PEERS6_MAP,
            MapType::Hash,
            OVERLAY_PEERS_CAPACITY,
        ),
        layout::<u32, OverlayNetwork>(OVERLAY_NETWORKS_MAP, MapType::Hash, NETWORKS_CAPACITY),
        layout::<u32, u32>(OVERLAY_VNIS_MAP, MapType::Hash, NETWORKS_CAPACITY),
    ]
}

fn io(action: String) -> impl FnOnce(std::io::Error) -> DatapathError {
    move |source| DatapathError::Io { action, source }
}

fn is_bpffs(path: &Path) -> bool {
    statfs(path).is_ok_and(|s| s.filesystem_type().0 == BPF_FS_MAGIC)
}

/// Makes sure `pin_dir` exists on a BPF filesystem, mounting one at
/// `/sys/fs/bpf` when the machine has none there yet.
pub fn prepare(pin_dir: &Path) -> Result<(), DatapathError> {
    let root = Path::new(BPF_FS_ROOT);
    if pin_dir.starts_with(root) && !is_bpffs(root) {
        mount(
            Some("bpf"),
            root,
            Some("bpf"),
            MsFlags::empty(),
            None::<&str>,
        )
        .map_err(|e| DatapathError::Io {
            action: format!("mount a BPF filesystem on {BPF_FS_ROOT}"),
            source: e.into(),
        })?;
    }
    fs::create_dir_all(pin_dir.join(LINKS_DIR))
        .map_err(io(format!("create pin directory {}", pin_dir.display())))?;
    if !is_bpffs(pin_dir) {
        return Err(DatapathError::Io {
            action: format!("use {} as pin directory", pin_dir.display()),
            source: std::io::Error::other("it is not on a BPF filesystem (bpffs)"),
        });
    }
    Ok(())
}

/// Refuses pinned maps whose layout differs from this build's: reusing
/// them would make the programs misread every entry.
pub fn check_layouts(pin_dir: &Path, sizes: &MapSizes) -> Result<(), DatapathError> {
    for layout in map_layouts(sizes) {
        let path = pin_dir.join(layout.name);
        if !path.exists() {
            continue;
        }
        let mismatch = |found: String| DatapathError::LayoutMismatch {
            path: path.display().to_string(),
            found,
            expected: describe(
                layout.map_type,
                layout.key_size,
                layout.value_size,
                layout.max_entries,
            ),
        };
        let info = MapData::from_pin(&path)
            .and_then(|m| m.info())
            .map_err(|source| DatapathError::Map {
                name: layout.name,
                source,
            })?;
        let map_type = info.map_type().map_err(|source| DatapathError::Map {
            name: layout.name,
            source,
        })?;
        let found = describe(
            map_type,
            info.key_size(),
            info.value_size(),
            info.max_entries(),
        );
        if map_type != layout.map_type
            || info.key_size() != layout.key_size
            || info.value_size() != layout.value_size
            || info.max_entries() != layout.max_entries
        {
            return Err(mismatch(found));
        }
    }
    Ok(())
}

fn describe(map_type: MapType, key: u32, value: u32, max: u32) -> String {
    format!("{map_type:?}, key {key} B, value {value} B, {max} entries")
}

pub fn link_pin(pin_dir: &Path, program: &str, ifname: &str) -> PathBuf {
    pin_dir.join(LINKS_DIR).join(format!("{program}@{ifname}"))
}

/// (interface, program) of every pin under `links/` (`PROGRAM@IFACE`).
pub fn pinned_links(pin_dir: &Path) -> Result<Vec<(String, String)>, DatapathError> {
    let dir = pin_dir.join(LINKS_DIR);
    let entries = match fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io(format!("list {}", dir.display()))(e)),
    };
    let mut links = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io(format!("list {}", dir.display())))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if let Some((program, ifname)) = name.split_once('@') {
            links.push((ifname.to_string(), program.to_string()));
        }
    }
    Ok(links)
}

fn remove_file(path: &Path) -> Result<(), DatapathError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != ErrorKind::NotFound => {
            Err(io(format!("remove {}", path.display()))(e))
        }
        _ => Ok(()),
    }
}

pub fn unpin(path: &Path) -> Result<(), DatapathError> {
    remove_file(path)
}

/// Removes ebpfnet's own pins (links and the filters they stand for, then
/// maps) and the directories if they are left empty. Anything else in the
/// directory is left alone.
pub fn remove_pins(pin_dir: &Path) -> Result<(), DatapathError> {
    let links = pinned_links(pin_dir)?;
    for (ifname, program) in &links {
        if program != tc_attach::CLSACT_PIN {
            tc_attach::remove_pinned(pin_dir, program, ifname)?;
        }
    }
    for (ifname, _) in &links {
        tc_attach::release_clsact(pin_dir, ifname)?;
    }
    for layout in map_layouts(&MapSizes::default()) {
        remove_file(&pin_dir.join(layout.name))?;
    }
    for dir in [pin_dir.join(LINKS_DIR), pin_dir.to_path_buf()] {
        match fs::remove_dir(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) if e.kind() == ErrorKind::DirectoryNotEmpty => {
                log::warn!(
                    "{} holds pins that are not ebpfnet's; left in place",
                    dir.display()
                );
            }
            Err(e) => return Err(io(format!("remove {}", dir.display()))(e)),
        }
    }
    Ok(())
}
