//! The IPv6 NAT tables in the kernel: reading them, removing idle flows
//! (checked unchanged, as for IPv4), recounting `MASQ_USAGE6`, and the
//! uplinks' IPv6 addresses (`UPLINKS6`).

use std::{
    collections::{BTreeMap, HashSet},
    net::Ipv6Addr,
};

use aya::maps::{HashMap, MapData, ProgramArray};
use ebpfnet_common::{
    flows6::{FlowKey6, MasqUsageKey6, NatEntry6, UplinkInfo6},
    names,
};

use super::{
    AyaDatapath, DatapathError, Flows6, NatRecord6,
    maps::{hash, hash_mut, map_err, map_mut, removed, write_err},
    nat_collector::read_table,
    nat6,
    take::delete_if_unchanged,
};

const TABLES: [&str; 2] = [names::NAT6_TCP_MAP, names::NAT6_OTHER_MAP];

type Table6<'a> = HashMap<&'a mut MapData, FlowKey6, NatEntry6>;

impl AyaDatapath {
    fn nat6_records(&self, name: &'static str) -> Result<Vec<NatRecord6>, DatapathError> {
        Ok(
            read_table(&hash::<FlowKey6, NatEntry6>(&self.ebpf, name)?, name)?
                .into_iter()
                .map(|(key, entry)| NatRecord6 { key, entry })
                .collect(),
        )
    }

    /// Deletes each record's key unless its entry changed since it was
    /// read (taken out and checked in one step, as `nat_tables` does).
    fn delete6_if_unchanged(
        &mut self,
        name: &'static str,
        records: &[NatRecord6],
    ) -> Result<usize, DatapathError> {
        let mut map: Table6 = hash_mut(&mut self.ebpf, name)?;
        let mut deleted = 0;
        for record in records {
            if delete_if_unchanged(&mut map, name, &record.key, |now| {
                nat6::unchanged(&record.entry, now)
            })? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// Makes `MASQ_USAGE6` hold `usage`, leaving alone counts that moved
    /// since `before` was read (flows that started or ended meanwhile).
    fn write_masquerade_usage6(
        &mut self,
        before: &BTreeMap<MasqUsageKey6, u32>,
        usage: &BTreeMap<MasqUsageKey6, u32>,
    ) -> Result<(), DatapathError> {
        let name = names::MASQ_USAGE6_MAP;
        let mut map = hash_mut::<MasqUsageKey6, u32>(&mut self.ebpf, name)?;
        let keys: Vec<MasqUsageKey6> = map
            .keys()
            .collect::<Result<_, _>>()
            .map_err(map_err(name))?;
        for key in keys.iter().filter(|k| !usage.contains_key(k)) {
            if map.get(key, 0).ok() == before.get(key).copied() {
                removed(map.remove(key)).map_err(write_err(name, "remove a count"))?;
            }
        }
        for (key, count) in usage {
            if map.get(key, 0).ok() == before.get(key).copied() {
                map.insert(key, count, 0)
                    .map_err(write_err(name, "write a count"))?;
            }
        }
        Ok(())
    }

    /// Puts `container_ingress6` and `uplink_ingress6` (loaded) in their
    /// `TAIL_CALLS` slots, where `container_ingress` and `uplink_ingress`
    /// jump for their IPv6 NAT paths.
    pub(super) fn fill_tail_calls(&mut self) -> Result<(), DatapathError> {
        for (slot, program) in [
            (names::TAIL_CONTAINER6, names::CONTAINER_INGRESS6_PROGRAM),
            (names::TAIL_UPLINK6, names::UPLINK_INGRESS6_PROGRAM),
        ] {
            let fd = super::aya_impl::loaded_classifier(&mut self.ebpf, program)?
                .fd()
                .map_err(|source| DatapathError::Program {
                    name: program,
                    source,
                })?
                .try_clone()
                .map_err(|source| DatapathError::Io {
                    action: format!("duplicate the descriptor of program {program}"),
                    source,
                })?;
            let name = names::TAIL_CALLS_MAP;
            let mut slots: ProgramArray<&mut MapData> =
                ProgramArray::try_from(map_mut(&mut self.ebpf, name)?).map_err(map_err(name))?;
            slots
                .set(slot, &fd, 0)
                .map_err(write_err(name, format!("put {program} in its slot")))?;
        }
        Ok(())
    }

    pub(super) fn set_uplink6_entry(
        &mut self,
        ifindex: u32,
        ip: Ipv6Addr,
    ) -> Result<(), DatapathError> {
        let name = names::UPLINKS6_MAP;
        hash_mut::<u32, UplinkInfo6>(&mut self.ebpf, name)?
            .insert(ifindex, UplinkInfo6 { ip: ip.octets() }, 0)
            .map_err(write_err(name, format!("add uplink #{ifindex} as {ip}")))
    }

    pub(super) fn remove_uplink6_entry(&mut self, ifindex: u32) -> Result<(), DatapathError> {
        let name = names::UPLINKS6_MAP;
        removed(hash_mut::<u32, UplinkInfo6>(&mut self.ebpf, name)?.remove(&ifindex))
            .map_err(write_err(name, format!("remove uplink #{ifindex}")))
    }

    pub(super) fn uplink6_entries(&self) -> Result<Vec<(u32, Ipv6Addr)>, DatapathError> {
        let name = names::UPLINKS6_MAP;
        hash::<u32, UplinkInfo6>(&self.ebpf, name)?
            .iter()
            .map(|entry| entry.map(|(ifindex, info)| (ifindex, Ipv6Addr::from(info.ip))))
            .collect::<Result<_, _>>()
            .map_err(map_err(name))
    }
}

impl Flows6 for AyaDatapath {
    fn flows6(&self) -> Result<Vec<NatRecord6>, DatapathError> {
        let mut records = self.nat6_records(names::NAT6_TCP_MAP)?;
        records.extend(self.nat6_records(names::NAT6_OTHER_MAP)?);
        Ok(records)
    }

    fn gc6(&mut self, now_ns: u64) -> Result<usize, DatapathError> {
        let name = names::MASQ_USAGE6_MAP;
        // Read before the tables: see `write_masquerade_usage6`.
        let before: BTreeMap<MasqUsageKey6, u32> = hash::<MasqUsageKey6, u32>(&self.ebpf, name)?
            .iter()
            .collect::<Result<_, _>>()
            .map_err(map_err(name))?;
        let mut deleted = 0;
        let mut usage = BTreeMap::new();
        for table in TABLES {
            let records = self.nat6_records(table)?;
            let idle = nat6::expired(&records, now_ns);
            deleted += self.delete6_if_unchanged(table, &idle)?;
            let gone: HashSet<FlowKey6> = idle.iter().map(|r| r.key).collect();
            let left: Vec<NatRecord6> = records
                .into_iter()
                .filter(|r| !gone.contains(&r.key))
                .collect();
            usage.extend(nat6::masquerade_usage(&left));
        }
        self.write_masquerade_usage6(&before, &usage)?;
        Ok(deleted)
    }

    fn remove_flows_of6(&mut self, ip: Ipv6Addr) -> Result<usize, DatapathError> {
        let mut deleted = 0;
        for table in TABLES {
            let records = self.nat6_records(table)?;
            let keys = nat6::flows_of_address(&records, ip.octets());
            let mut map: Table6 = hash_mut(&mut self.ebpf, table)?;
            for key in keys {
                match map.remove(&key) {
                    Ok(()) => deleted += 1,
                    Err(e) => removed(Err(e)).map_err(write_err(table, "remove a flow"))?,
                }
            }
        }
        Ok(deleted)
    }
}
