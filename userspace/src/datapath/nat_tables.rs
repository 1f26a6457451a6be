//! The NAT tables: dumping them, cutting the flows of a removed mapping,
//! and removing idle flows.

use std::{
    collections::{BTreeMap, HashSet},
    net::Ipv4Addr,
    os::fd::AsFd,
};

use ebpfnet_common::{
    maps::{FlowKey, MasqUsageKey, NatEntry, PublishedKey, PublishedStats, PublishedValue, proto},
    names,
};

use super::{
    AyaDatapath, DatapathError, Flows, NatRecord, Publishing,
    encoding::describe_key,
    maps::{hash, hash_mut, map_err, removed, write_err},
    nat,
    take::take,
};
use aya::{
    maps::{IterableMap, MapError, PerCpuHashMap},
    sys::SyscallError,
};
use libc::EEXIST;

/// `BPF_NOEXIST` (`include/uapi/linux/bpf.h`): write only a new key.
const BPF_NOEXIST: u64 = 1;

/// The NAT table of a protocol's flows.
fn table_of(protocol: u8) -> &'static str {
    if protocol == proto::TCP {
        names::NAT_TCP_MAP
    } else {
        names::NAT_OTHER_MAP
    }
}

impl AyaDatapath {
    /// Takes one mapping and its counters out of `PUBLISHED`/`PUBLISHED_STATS`.
    fn remove_mapping(&mut self, key: &PublishedKey) -> Result<(), DatapathError> {
        let name = names::PUBLISHED_MAP;
        removed(hash_mut::<PublishedKey, PublishedValue>(&mut self.ebpf, name)?.remove(key))
            .map_err(write_err(name, format!("unpublish {}", describe_key(key))))?;
        let stats = names::PUBLISHED_STATS_MAP;
        let mut counters: PerCpuHashMap<_, PublishedKey, PublishedStats> =
            PerCpuHashMap::try_from(super::maps::map_mut(&mut self.ebpf, stats)?)
                .map_err(map_err(stats))?;
        removed(counters.remove(key)).map_err(write_err(
            stats,
            format!("remove the counters of {}", describe_key(key)),
        ))
    }

    fn nat_records(&self, name: &'static str) -> Result<Vec<NatRecord>, DatapathError> {
        hash::<FlowKey, NatEntry>(&self.ebpf, name)?
            .iter()
            .map(|entry| entry.map(|(key, entry)| NatRecord { key, entry }))
            .collect::<Result<_, _>>()
            .map_err(map_err(name))
    }

    /// Deletes `keys` from table `name`; returns how many were there.
    fn delete_flows(
        &mut self,
        name: &'static str,
        keys: &[FlowKey],
    ) -> Result<usize, DatapathError> {
        let mut map = hash_mut::<FlowKey, NatEntry>(&mut self.ebpf, name)?;
        let mut deleted = 0;
        for key in keys {
            deleted += usize::from(remove_flow(&mut map, name, key)?);
        }
        Ok(deleted)
    }

    /// Deletes each record's key unless its entry changed since it was
    /// read: a SYN may have taken the tuple over for a new flow, or a
    /// packet revived the flow, in the meantime. The entry is taken out
    /// and read in one step; one that changed after all is put back (unless
    /// a new flow claimed the tuple in that instant). Left is a window of
    /// nanoseconds: a packet that found the entry before it was taken and
    /// writes to it after.
    fn delete_if_unchanged(
        &mut self,
        name: &'static str,
        records: &[NatRecord],
    ) -> Result<usize, DatapathError> {
        let mut map = hash_mut::<FlowKey, NatEntry>(&mut self.ebpf, name)?;
        let mut deleted = 0;
        for record in records {
            match map.get(&record.key, 0) {
                Ok(now) if nat::unchanged(&record.entry, &now) => {}
                Ok(_) => continue,
                Err(e) => {
                    removed(Err(e)).map_err(write_err(name, "read a flow"))?;
                    continue;
                }
            }
            let taken = take::<FlowKey, NatEntry>(map.map().fd().as_fd(), &record.key).map_err(
                |source| DatapathError::Io {
                    action: format!("take an idle flow out of map {name}"),
                    source,
                },
            )?;
            match taken {
                Some(entry) if nat::unchanged(&record.entry, &entry) => deleted += 1,
                Some(entry) => match map.insert(record.key, entry, BPF_NOEXIST) {
                    Ok(()) => {}
                    Err(e) if already_there(&e) => {}
                    Err(e) => return Err(write_err(name, "put a revived flow back")(e)),
                },
                None => {}
            }
        }
        Ok(deleted)
    }

    /// The counts in `MASQ_USAGE` now.
    fn masquerade_counts(&self) -> Result<BTreeMap<MasqUsageKey, u32>, DatapathError> {
        let name = names::MASQ_USAGE_MAP;
        hash::<MasqUsageKey, u32>(&self.ebpf, name)?
            .iter()
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map_err(map_err(name))
    }

    /// Makes `MASQ_USAGE` hold `usage`, counted from the NAT tables read
    /// after `before` was read. A count that moved since `before` belongs
    /// to a flow that started or ended during the pass (the programs count
    /// it atomically), which the tables read may or may not show: it is
    /// left as the programs keep it, for the next pass.
    fn write_masquerade_usage(
        &mut self,
        before: &BTreeMap<MasqUsageKey, u32>,
        usage: &BTreeMap<MasqUsageKey, u32>,
    ) -> Result<(), DatapathError> {
        let name = names::MASQ_USAGE_MAP;
        let mut map = hash_mut::<MasqUsageKey, u32>(&mut self.ebpf, name)?;
        let unmoved =
            |map: &aya::maps::HashMap<&mut aya::maps::MapData, MasqUsageKey, u32>,
             key: &MasqUsageKey| { map.get(key, 0).ok() == before.get(key).copied() };
        let stale: Vec<MasqUsageKey> = map
            .keys()
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err(name))?
            .into_iter()
            .filter(|key| !usage.contains_key(key))
            .collect();
        for key in stale {
            if unmoved(&map, &key) {
                removed(map.remove(&key)).map_err(write_err(name, "remove a count"))?;
            }
        }
        for (key, count) in usage {
            if unmoved(&map, key) {
                map.insert(key, count, 0)
                    .map_err(write_err(name, "write a count"))?;
            }
        }
        Ok(())
    }
}

impl Publishing for AyaDatapath {
    fn publish(&mut self, key: PublishedKey, value: PublishedValue) -> Result<(), DatapathError> {
        let name = names::PUBLISHED_MAP;
        hash_mut::<PublishedKey, PublishedValue>(&mut self.ebpf, name)?
            .insert(key, value, 0)
            .map_err(write_err(name, format!("publish {}", describe_key(&key))))
    }

    fn published(&self) -> Result<Vec<(PublishedKey, PublishedValue)>, DatapathError> {
        let name = names::PUBLISHED_MAP;
        hash::<PublishedKey, PublishedValue>(&self.ebpf, name)?
            .iter()
            .collect::<Result<_, _>>()
            .map_err(map_err(name))
    }

    fn unpublish(&mut self, keys: &[PublishedKey]) -> Result<usize, DatapathError> {
        // The mappings go first: no new flow can start through them meanwhile.
        let mut first_error = None;
        for key in keys {
            if let Err(e) = self.remove_mapping(key) {
                log::error!("{e}");
                first_error.get_or_insert(e);
            }
        }
        let mut deleted = 0;
        for table in [names::NAT_TCP_MAP, names::NAT_OTHER_MAP] {
            let of_table: Vec<PublishedKey> = keys
                .iter()
                .filter(|k| table_of(k.protocol) == table)
                .copied()
                .collect();
            if of_table.is_empty() {
                continue;
            }
            let records = self.nat_records(table)?;
            let flows = nat::flows_of_mappings(&records, &of_table);
            deleted += self.delete_flows(table, &flows)?;
        }
        first_error.map_or(Ok(deleted), Err)
    }
}

impl Flows for AyaDatapath {
    fn flows(&self) -> Result<Vec<NatRecord>, DatapathError> {
        let mut records = self.nat_records(names::NAT_TCP_MAP)?;
        records.extend(self.nat_records(names::NAT_OTHER_MAP)?);
        Ok(records)
    }

    /// Removes idle flows, then recounts each container's masquerade
    /// ports per destination from what is left.
    fn gc(&mut self, now_ns: u64) -> Result<usize, DatapathError> {
        let mut deleted = 0;
        let mut usage = BTreeMap::new();
        // Read before the tables: see `write_masquerade_usage`.
        let counts_before = self.masquerade_counts()?;
        for table in [names::NAT_TCP_MAP, names::NAT_OTHER_MAP] {
            let records = self.nat_records(table)?;
            let idle = nat::expired(&records, now_ns);
            deleted += self.delete_if_unchanged(table, &idle)?;
            let gone: HashSet<FlowKey> = idle.iter().map(|r| r.key).collect();
            let left: Vec<NatRecord> = records
                .into_iter()
                .filter(|r| !gone.contains(&r.key))
                .collect();
            usage.extend(nat::masquerade_usage(&left));
        }
        self.write_masquerade_usage(&counts_before, &usage)?;
        Ok(deleted)
    }

    /// Removes both directions of every flow of a container address that
    /// is going away, so a container given that address later inherits
    /// none of them.
    fn remove_flows_of(&mut self, ip: Ipv4Addr) -> Result<usize, DatapathError> {
        let mut deleted = 0;
        for table in [names::NAT_TCP_MAP, names::NAT_OTHER_MAP] {
            let records = self.nat_records(table)?;
            let keys = nat::flows_of_address(&records, ip.octets());
            deleted += self.delete_flows(table, &keys)?;
        }
        Ok(deleted)
    }
}

/// A `BPF_NOEXIST` write refused because the key is there.
fn already_there(e: &MapError) -> bool {
    matches!(e, MapError::SyscallError(SyscallError { io_error, .. }) if io_error.raw_os_error() == Some(EEXIST))
}

/// Removes one direction's entry; whether it was there.
fn remove_flow(
    map: &mut aya::maps::HashMap<&mut aya::maps::MapData, FlowKey, NatEntry>,
    name: &'static str,
    key: &FlowKey,
) -> Result<bool, DatapathError> {
    match map.remove(key) {
        Ok(()) => Ok(true),
        Err(e) => removed(Err(e))
            .map(|()| false)
            .map_err(write_err(name, "remove a flow")),
    }
}
