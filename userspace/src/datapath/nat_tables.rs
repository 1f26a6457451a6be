//! The NAT tables of both families: dumping them, cutting the flows of a
//! removed address (a removed mapping's: published.rs); removing idle
//! flows is nat_collector.rs's.

use std::net::{Ipv4Addr, Ipv6Addr};

use ebpfnet_common::flow::{FlowKeyOf, NatEntryOf};

use super::{
    AyaDatapath, DatapathError, Flows, Flows6, NatRecord, NatRecord6, NatRecordOf,
    collector::Collector,
    family::Family,
    maps::{hash, hash_mut, removed, write_err},
    nat,
    nat_collector::read_records,
};

impl AyaDatapath {
    pub(super) fn nat_records<A: Family>(
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
    pub(super) fn delete_flows<A: Family>(
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
