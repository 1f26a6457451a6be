//! Reading counters and fill levels.

use std::collections::BTreeMap;

use aya::maps::{LpmTrie, MapError, MapKeys, MapType, PerCpuArray, PerCpuHashMap, PerCpuValues};
use ebpfnet_common::{
    DropReason, IfaceCounters, IfaceSlot, ProgramId, TrafficCounter,
    flows6::{FlowKey6, MasqUsageKey6, NatEntry6, UplinkInfo6},
    fragments::{FragKey, FragKey6, FragValue},
    maps::{
        EndpointAddr, EndpointInfo, FlowKey, HostAddr, LanIpKey, LanMac, LanMacKey, MasqUsageKey,
        NatEntry, NetworkInfo, PublishedKey, PublishedStats, PublishedValue, SockReverseKey,
        SockReverseValue, SubnetKey, UplinkInfo,
    },
    maps6::{EndpointInfo6, LanIpKey6, NetworkInfo6, SubnetKey6},
    names,
    overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey, OverlayPeerKey6},
    published6,
    routed6::{ROUTED6_MAP, RoutedPortKey6},
};

use super::{
    AyaDatapath, Counters, DatapathError, DatapathStats, DropCount, InterfaceCounters, MapFill,
    ProgramCounters,
    maps::{hash, map, map_err, map_mut, removed, write_err},
    pins,
};

impl AyaDatapath {
    pub(super) fn prog_counters(&self) -> Result<Vec<ProgramCounters>, DatapathError> {
        let name = names::PROG_STATS_MAP;
        let stats: PerCpuArray<_, TrafficCounter> =
            PerCpuArray::try_from(map(&self.ebpf, name)?).map_err(map_err(name))?;
        ProgramId::ALL
            .iter()
            .map(|program| {
                let mut total = TrafficCounter::default();
                for cpu in stats
                    .get(&(*program as u32), 0)
                    .map_err(map_err(name))?
                    .iter()
                {
                    total.add(cpu);
                }
                Ok(ProgramCounters {
                    program: program.program_name(),
                    packets: total.packets,
                    bytes: total.bytes,
                })
            })
            .collect()
    }

    /// Each interface's counters: its slots in `IFACE_SLOTS` (one per CPU
    /// that counted it there) plus its `IFACE_STATS` entry, by ifindex.
    pub(super) fn iface_counters(&self) -> Result<Vec<InterfaceCounters>, DatapathError> {
        let mut totals: BTreeMap<u32, TrafficCounter> = BTreeMap::new();
        let name = names::IFACE_SLOTS_MAP;
        let slots: PerCpuArray<_, IfaceSlot> =
            PerCpuArray::try_from(map(&self.ebpf, name)?).map_err(map_err(name))?;
        for per_cpu in slots.iter() {
            for cpu in per_cpu.map_err(map_err(name))?.iter() {
                if cpu.ifindex != 0 {
                    totals.entry(cpu.ifindex).or_default().add(&cpu.ingress);
                }
            }
        }
        let name = names::IFACE_STATS_MAP;
        let stats: PerCpuHashMap<_, u32, IfaceCounters> =
            PerCpuHashMap::try_from(map(&self.ebpf, name)?).map_err(map_err(name))?;
        for entry in stats.iter() {
            let (ifindex, per_cpu) = entry.map_err(map_err(name))?;
            let total = totals.entry(ifindex).or_default();
            for cpu in per_cpu.iter() {
                total.add(&cpu.ingress);
            }
        }
        Ok(totals
            .into_iter()
            .map(|(ifindex, total)| InterfaceCounters {
                ifindex,
                packets: total.packets,
                bytes: total.bytes,
            })
            .collect())
    }

    /// `PUBLISHED_STATS` (keys `PublishedKey`) or `PUBLISHED_STATS6`
    /// (`PublishedKey6`), summed over the CPUs.
    fn published_counters<K: aya::Pod>(
        &self,
        name: &'static str,
    ) -> Result<Vec<(K, PublishedStats)>, DatapathError> {
        let stats: PerCpuHashMap<_, K, PublishedStats> =
            PerCpuHashMap::try_from(map(&self.ebpf, name)?).map_err(map_err(name))?;
        let mut out = Vec::new();
        for entry in stats.iter() {
            let (key, per_cpu) = entry.map_err(map_err(name))?;
            let mut total = PublishedStats::default();
            for cpu in per_cpu.iter() {
                total.packets = total.packets.wrapping_add(cpu.packets);
                total.bytes = total.bytes.wrapping_add(cpu.bytes);
                total.flows = total.flows.wrapping_add(cpu.flows);
            }
            out.push((key, total));
        }
        Ok(out)
    }

    fn drop_counters(&self) -> Result<Vec<DropCount>, DatapathError> {
        let name = names::DROPS_MAP;
        let drops: PerCpuArray<_, u64> =
            PerCpuArray::try_from(map(&self.ebpf, name)?).map_err(map_err(name))?;
        DropReason::ALL
            .iter()
            .map(|reason| {
                let per_cpu = drops.get(&(*reason as u32), 0).map_err(map_err(name))?;
                Ok(DropCount {
                    reason: reason.name(),
                    count: per_cpu.iter().fold(0u64, |sum, n| sum.wrapping_add(*n)),
                })
            })
            .collect()
    }

    /// How many entries each map holds. Arrays are always full; hashes and
    /// the LPM trie are counted key by key (LRU maps too: their keys are the
    /// live entries).
    pub(super) fn map_fills(&self) -> Result<Vec<MapFill>, DatapathError> {
        pins::map_layouts(&self.sizes)
            .into_iter()
            .map(|layout| {
                let entries = match layout.map_type {
                    MapType::Array | MapType::PerCpuArray => layout.max_entries,
                    _ => self.count(layout.name)?,
                };
                Ok(MapFill {
                    name: layout.name,
                    entries,
                    max_entries: layout.max_entries,
                })
            })
            .collect()
    }

    fn count(&self, name: &'static str) -> Result<u32, DatapathError> {
        let ebpf = &self.ebpf;
        let n = match name {
            names::IFACE_STATS_MAP => {
                let m: PerCpuHashMap<_, u32, IfaceCounters> =
                    PerCpuHashMap::try_from(map(ebpf, name)?).map_err(map_err(name))?;
                count_keys(m.keys())
            }
            names::PUBLISHED_STATS_MAP => {
                let m: PerCpuHashMap<_, PublishedKey, PublishedStats> =
                    PerCpuHashMap::try_from(map(ebpf, name)?).map_err(map_err(name))?;
                count_keys(m.keys())
            }
            names::PUBLISHED_STATS6_MAP => {
                let m: PerCpuHashMap<_, published6::PublishedKey6, PublishedStats> =
                    PerCpuHashMap::try_from(map(ebpf, name)?).map_err(map_err(name))?;
                count_keys(m.keys())
            }
            names::NETWORKS_MAP => {
                let m: LpmTrie<_, SubnetKey, NetworkInfo> =
                    LpmTrie::try_from(map(ebpf, name)?).map_err(map_err(name))?;
                count_keys(m.keys())
            }
            names::NAT_TCP_MAP | names::NAT_OTHER_MAP => {
                count_keys(hash::<FlowKey, NatEntry>(ebpf, name)?.keys())
            }
            names::MASQ_USAGE_MAP => count_keys(hash::<MasqUsageKey, u32>(ebpf, name)?.keys()),
            names::NAT6_TCP_MAP | names::NAT6_OTHER_MAP => {
                count_keys(hash::<FlowKey6, NatEntry6>(ebpf, name)?.keys())
            }
            names::MASQ_USAGE6_MAP => count_keys(hash::<MasqUsageKey6, u32>(ebpf, name)?.keys()),
            names::UPLINKS6_MAP => count_keys(hash::<u32, UplinkInfo6>(ebpf, name)?.keys()),
            ROUTED6_MAP => count_keys(hash::<RoutedPortKey6, u32>(ebpf, name)?.keys()),
            names::SOCK_REVERSE_MAP => {
                count_keys(hash::<SockReverseKey, SockReverseValue>(ebpf, name)?.keys())
            }
            names::FRAGMENTS_MAP => count_keys(hash::<FragKey, FragValue>(ebpf, name)?.keys()),
            names::FRAGMENTS6_MAP => count_keys(hash::<FragKey6, FragValue>(ebpf, name)?.keys()),
            names::PUBLISHED_MAP => {
                count_keys(hash::<PublishedKey, PublishedValue>(ebpf, name)?.keys())
            }
            names::ENDPOINTS_MAP => count_keys(hash::<u32, EndpointInfo>(ebpf, name)?.keys()),
            names::ENDPOINT_IPS_MAP => {
                count_keys(hash::<[u8; 4], EndpointAddr>(ebpf, name)?.keys())
            }
            names::UPLINKS_MAP => count_keys(hash::<u32, UplinkInfo>(ebpf, name)?.keys()),
            names::HOST_ADDRS_MAP => count_keys(hash::<[u8; 4], HostAddr>(ebpf, name)?.keys()),
            names::HOST_ADDRS6_MAP => count_keys(hash::<[u8; 16], HostAddr>(ebpf, name)?.keys()),
            names::PUBLISHED6_MAP => count_keys(
                hash::<published6::PublishedKey6, published6::PublishedValue6>(ebpf, name)?.keys(),
            ),
            names::SOCK_REVERSE6_MAP => count_keys(
                hash::<published6::SockReverseKey6, published6::SockReverseValue6>(ebpf, name)?
                    .keys(),
            ),
            names::ENDPOINTS6_MAP => count_keys(hash::<u32, EndpointInfo6>(ebpf, name)?.keys()),
            names::ENDPOINT_IPS6_MAP => {
                count_keys(hash::<[u8; 16], EndpointAddr>(ebpf, name)?.keys())
            }
            names::NETWORKS6_MAP => {
                let m: LpmTrie<_, SubnetKey6, NetworkInfo6> =
                    LpmTrie::try_from(map(ebpf, name)?).map_err(map_err(name))?;
                count_keys(m.keys())
            }
            names::LAN_HOSTS_MAP => count_keys(hash::<LanMacKey, [u8; 4]>(ebpf, name)?.keys()),
            names::LAN_IPS_MAP => count_keys(hash::<LanIpKey, LanMac>(ebpf, name)?.keys()),
            names::LAN_HOSTS6_MAP => {
                count_keys(hash::<LanMacKey, EndpointInfo6>(ebpf, name)?.keys())
            }
            names::LAN_IPS6_MAP => count_keys(hash::<LanIpKey6, LanMac>(ebpf, name)?.keys()),
            names::OVERLAY_PEERS_MAP => {
                count_keys(hash::<OverlayPeerKey, OverlayPeer>(ebpf, name)?.keys())
            }
            names::OVERLAY_PEERS6_MAP => {
                count_keys(hash::<OverlayPeerKey6, OverlayPeer>(ebpf, name)?.keys())
            }
            names::OVERLAY_NETWORKS_MAP => {
                count_keys(hash::<u32, OverlayNetwork>(ebpf, name)?.keys())
            }
            names::OVERLAY_VNIS_MAP => count_keys(hash::<u32, u32>(ebpf, name)?.keys()),
            // The arrays (counted as full by the caller).
            _ => return Ok(0),
        }
        .map_err(map_err(name))?;
        Ok(u32::try_from(n).unwrap_or(u32::MAX))
    }
}

fn count_keys<K: aya::Pod>(mut keys: MapKeys<'_, K>) -> Result<usize, MapError> {
    keys.try_fold(0, |n, key| key.map(|_| n + 1))
}

impl Counters for AyaDatapath {
    fn stats(&self) -> Result<DatapathStats, DatapathError> {
        Ok(DatapathStats {
            programs: self.prog_counters()?,
            published: self.published_counters(names::PUBLISHED_STATS_MAP)?,
            published6: self.published_counters(names::PUBLISHED_STATS6_MAP)?,
            drops: self.drop_counters()?,
        })
    }

    fn forget_interface(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        if ifindex == 0 {
            // No interface: 0 marks a free slot.
            return Ok(());
        }
        let name = names::IFACE_SLOTS_MAP;
        let mut slots: PerCpuArray<_, IfaceSlot> =
            PerCpuArray::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))?;
        let index = ifindex & (names::IFACE_SLOTS_CAPACITY - 1);
        let mut per_cpu: Vec<IfaceSlot> = slots.get(&index, 0).map_err(map_err(name))?.to_vec();
        let mut held = false;
        for slot in per_cpu.iter_mut().filter(|slot| slot.ifindex == ifindex) {
            *slot = IfaceSlot::default();
            held = true;
        }
        // The syscall writes every CPU's value, so the other CPUs get back
        // what was read a moment ago. Only interfaces whose ifindex falls
        // in the same slot (ifindex % IFACE_SLOTS_CAPACITY) can have
        // counted there since, and all they can lose is what they counted
        // in that window on those CPUs (or a slot one claimed then, which
        // its next packet claims again): statistics, never a packet. The
        // write is skipped when no CPU holds the slot for `ifindex`.
        if held {
            let values = PerCpuValues::try_from(per_cpu).map_err(|e| DatapathError::Io {
                action: format!("build the per-CPU values of {name}"),
                source: e,
            })?;
            slots.set(index, values, 0).map_err(write_err(
                name,
                format!("free slot {index} of interface #{ifindex}"),
            ))?;
        }
        let name = names::IFACE_STATS_MAP;
        let mut stats: PerCpuHashMap<_, u32, IfaceCounters> =
            PerCpuHashMap::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))?;
        removed(stats.remove(&ifindex))
            .map_err(write_err(name, format!("remove interface #{ifindex}")))
    }
}
