//! The NAT tables of both families: dumping them, cutting the flows of a
//! removed mapping or address; removing idle flows is nat_collector.rs's.

use std::net::{Ipv4Addr, Ipv6Addr};

use ebpfnet_common::{
    flow::{FlowKeyOf, NatEntryOf},
    maps::{PublishedKey, PublishedStats, PublishedValue},
    names,
};

use super::{
    AyaDatapath, DatapathError, Flows, Flows6, NatRecord, NatRecord6, NatRecordOf, Publishing,
    collector::Collector,
    encoding::describe_key,
    family::Family,
    maps::{hash, hash_mut, map_err, removed, write_err},
    nat,
    nat_collector::read_records,
};
use aya::maps::PerCpuHashMap;

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

    fn nat_records<A: Family>(
        &self,
        name: &'static str,
    ) -> Result<Vec<NatRecordOf<A>>, DatapathError> {
        read_records(
            &hash::<FlowKeyOf<A>, NatEntryOf<A>>(&self.ebpf, name)?,
            name,
        )
    }

    /// Every entry of a family's two tables.
    fn all_flows<A: Family>(&self) -> Result<Vec<NatRecordOf<A>>, DatapathError> {
        let [tcp, other] = A::TABLES;
        let mut records = self.nat_records(tcp)?;
        records.extend(self.nat_records(other)?);
        Ok(records)
    }

    /// Deletes `keys` from table `name`; returns how many were there.
    fn delete_flows<A: Family>(
        &mut self,
        name: &'static str,
        keys: &[FlowKeyOf<A>],
    ) -> Result<usize, DatapathError> {
        let mut map = hash_mut::<FlowKeyOf<A>, NatEntryOf<A>>(&mut self.ebpf, name)?;
        let mut deleted = 0;
        for key in keys {
            deleted += usize::from(remove_flow(&mut map, name, key)?);
        }
        Ok(deleted)
    }

    /// Removes both directions of every flow of a container address that
    /// is going away, so a container given that address later inherits
    /// none of them.
    fn remove_flows_of_address<A: Family>(&mut self, ip: A) -> Result<usize, DatapathError> {
        let mut deleted = 0;
        for table in A::TABLES {
            let records = self.nat_records::<A>(table)?;
            let keys = nat::flows_of_address(&records, ip);
            deleted += self.delete_flows(table, &keys)?;
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
        for table in <[u8; 4]>::TABLES {
            let of_table: Vec<PublishedKey> = keys
                .iter()
                .filter(|k| <[u8; 4]>::table(k.protocol) == table)
                .copied()
                .collect();
            if of_table.is_empty() {
                continue;
            }
            let records = self.nat_records::<[u8; 4]>(table)?;
            let flows = nat::flows_of_mappings(&records, &of_table);
            deleted += self.delete_flows(table, &flows)?;
        }
        first_error.map_or(Ok(deleted), Err)
    }
}

impl Flows for AyaDatapath {
    fn flows(&self) -> Result<Vec<NatRecord>, DatapathError> {
        self.all_flows()
    }

    fn collector(&self) -> Result<Box<dyn Collector>, DatapathError> {
        Ok(Box::new(self.nat_collector()?))
    }

    fn remove_flows_of(&mut self, ip: Ipv4Addr) -> Result<usize, DatapathError> {
        self.remove_flows_of_address(ip.octets())
    }
}

impl Flows6 for AyaDatapath {
    fn flows6(&self) -> Result<Vec<NatRecord6>, DatapathError> {
        self.all_flows()
    }

    fn remove_flows_of6(&mut self, ip: Ipv6Addr) -> Result<usize, DatapathError> {
        self.remove_flows_of_address(ip.octets())
    }
}

/// Removes one direction's entry; whether it was there.
fn remove_flow<A: Family>(
    map: &mut aya::maps::HashMap<&mut aya::maps::MapData, FlowKeyOf<A>, NatEntryOf<A>>,
    name: &'static str,
    key: &FlowKeyOf<A>,
) -> Result<bool, DatapathError> {
    match map.remove(key) {
        Ok(()) => Ok(true),
        Err(e) => removed(Err(e))
            .map(|()| false)
            .map_err(write_err(name, "remove a flow")),
    }
}
