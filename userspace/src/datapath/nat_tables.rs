//! The NAT tables: dumping them, cutting the flows of a removed mapping;
//! removing idle flows is nat_collector.rs's.

use std::net::Ipv4Addr;

use ebpfnet_common::{
    maps::{FlowKey, NatEntry, PublishedKey, PublishedStats, PublishedValue, proto},
    names,
};

use super::{
    AyaDatapath, DatapathError, Flows, NatRecord, Publishing,
    collector::Collector,
    encoding::describe_key,
    maps::{hash, hash_mut, map_err, removed, write_err},
    nat,
    nat_collector::read_records,
};
use aya::maps::PerCpuHashMap;

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
        read_records(&hash::<FlowKey, NatEntry>(&self.ebpf, name)?, name)
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

    fn collector(&self) -> Result<Box<dyn Collector>, DatapathError> {
        Ok(Box::new(self.nat_collector()?))
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
