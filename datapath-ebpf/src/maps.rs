//! The topology and publishing maps, written by the controller. (Counters
//! live in `counters`, connection state in `conntrack`.)

use aya_ebpf::{
    bindings::BPF_F_NO_PREALLOC,
    btf_maps::{Array, HashMap, LpmTrie, PerCpuHashMap},
    macros::btf_map,
    maps::lpm_trie::Key,
};
use ebpfnet_common::{
    maps::{
        Config, EndpointAddr, EndpointInfo, HostAddr, LanIpKey, LanMac, LanMacKey, NetworkInfo,
        PublishedKey, PublishedStats, PublishedValue, SubnetKey, UplinkInfo,
    },
    maps6::{EndpointInfo6, NetworkInfo6, SubnetKey6},
    names::{
        ENDPOINTS_CAPACITY, HOST_ADDRS_CAPACITY, LAN_HOSTS_CAPACITY, NETWORKS_CAPACITY,
        PUBLISHED_CAPACITY, UPLINKS_CAPACITY,
    },
};

// Not preallocated: room for every port of several addresses, memory only
// for the mappings that exist (and, per CPU, for those that saw traffic).
#[btf_map]
pub static PUBLISHED: HashMap<
    PublishedKey,
    PublishedValue,
    { PUBLISHED_CAPACITY as usize },
    { BPF_F_NO_PREALLOC as usize },
> = HashMap::new();

#[btf_map]
pub static PUBLISHED_STATS: PerCpuHashMap<
    PublishedKey,
    PublishedStats,
    { PUBLISHED_CAPACITY as usize },
    { BPF_F_NO_PREALLOC as usize },
> = PerCpuHashMap::new();

#[btf_map]
pub static ENDPOINTS: HashMap<u32, EndpointInfo, { ENDPOINTS_CAPACITY as usize }> = HashMap::new();

#[btf_map]
pub static ENDPOINT_IPS: HashMap<[u8; 4], EndpointAddr, { ENDPOINTS_CAPACITY as usize }> =
    HashMap::new();

#[btf_map]
pub static LAN_HOSTS: HashMap<LanMacKey, [u8; 4], { LAN_HOSTS_CAPACITY as usize }> = HashMap::new();

#[btf_map]
pub static LAN_IPS: HashMap<LanIpKey, LanMac, { LAN_HOSTS_CAPACITY as usize }> = HashMap::new();

#[btf_map]
pub static NETWORKS: LpmTrie<SubnetKey, NetworkInfo, { NETWORKS_CAPACITY as usize }> =
    LpmTrie::new();

#[btf_map]
pub static ENDPOINTS6: HashMap<u32, EndpointInfo6, { ENDPOINTS_CAPACITY as usize }> =
    HashMap::new();

#[btf_map]
pub static ENDPOINT_IPS6: HashMap<[u8; 16], EndpointAddr, { ENDPOINTS_CAPACITY as usize }> =
    HashMap::new();

#[btf_map]
pub static NETWORKS6: LpmTrie<SubnetKey6, NetworkInfo6, { NETWORKS_CAPACITY as usize }> =
    LpmTrie::new();

#[btf_map]
pub static UPLINKS: HashMap<u32, UplinkInfo, { UPLINKS_CAPACITY as usize }> = HashMap::new();

#[btf_map]
pub static HOST_ADDRS: HashMap<[u8; 4], HostAddr, { HOST_ADDRS_CAPACITY as usize }> =
    HashMap::new();

#[btf_map]
pub static CONFIG: Array<Config, 1> = Array::new();

#[inline(always)]
pub fn network_of(ip: [u8; 4]) -> Option<NetworkInfo> {
    NETWORKS.get(&Key::new(32, SubnetKey { addr: ip })).copied()
}

#[inline(always)]
pub fn network6_of(ip: [u8; 16]) -> Option<NetworkInfo6> {
    NETWORKS6
        .get(&Key::new(128, SubnetKey6 { addr: ip }))
        .copied()
}

#[inline(always)]
pub fn is_host_addr(ip: [u8; 4]) -> bool {
    // SAFETY: the value is only tested for presence.
    unsafe { HOST_ADDRS.get(ip).is_some() }
}

/// The mapping for `host_ip:port/protocol`: one published on that very
/// address, else one published on every address (when `host_ip` is the
/// host's). Returns the mapping and whether it was the wildcard one.
#[inline(always)]
pub fn published(host_ip: [u8; 4], port: u16, protocol: u8) -> Option<(PublishedValue, bool)> {
    let mut key = PublishedKey {
        host_ip,
        host_port: port,
        protocol,
        _pad: 0,
    };
    // SAFETY: values are copied out at once; the controller replaces whole
    // entries, never fields.
    if let Some(value) = unsafe { PUBLISHED.get(key) } {
        return Some((*value, false));
    }
    if !is_host_addr(host_ip) {
        return None;
    }
    key.host_ip = [0; 4];
    unsafe { PUBLISHED.get(key) }.map(|v| (*v, true))
}

/// The mapping published on exactly `host_ip` (`[0; 4]`: on every address).
#[inline(always)]
pub fn published_exact(host_ip: [u8; 4], port: u16, protocol: u8) -> Option<PublishedValue> {
    let key = PublishedKey {
        host_ip,
        host_port: port,
        protocol,
        _pad: 0,
    };
    // SAFETY: copied out at once.
    unsafe { PUBLISHED.get(key) }.copied()
}

/// Whether `port` is published on `host_ip` or on every address (or
/// from IPv4 into an IPv6-only container, on any: `nat46`).
#[inline(always)]
pub fn port_is_published(host_ip: [u8; 4], port: u16, protocol: u8) -> bool {
    if crate::nat46::port_marked(port, protocol) {
        return true;
    }
    let mut key = PublishedKey {
        host_ip,
        host_port: port,
        protocol,
        _pad: 0,
    };
    if unsafe { PUBLISHED.get(key) }.is_some() {
        return true;
    }
    key.host_ip = [0; 4];
    unsafe { PUBLISHED.get(key) }.is_some()
}

#[inline(always)]
pub fn config() -> Config {
    CONFIG.get(0).copied().unwrap_or(Config {
        masq_port_min: 61000,
        masq_port_max: 65535,
        masq_ports_per_destination: 0,
        _pad: 0,
        host_netns_cookie: 0,
    })
}
