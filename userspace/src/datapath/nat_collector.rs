//! The kernel [`Collector`]: its own descriptors of `NAT_TCP`, `NAT_OTHER`
//! and `MASQ_USAGE`, so a pass runs apart from the [`AyaDatapath`] (and
//! the controller) that made it.

use std::{collections::BTreeMap, os::fd::AsFd};

use aya::{
    Ebpf,
    maps::{HashMap, IterableMap, Map, MapData},
};
use ebpfnet_common::{
    maps::{FlowKey, MasqUsageKey, NatEntry},
    names,
};

use super::{
    AyaDatapath, DatapathError, NatRecord,
    batch::lookup_all,
    collector::{Collector, GcPlan},
    maps::{hash, map_err, removed, write_err},
    nat,
    take::delete_if_unchanged,
};

/// The tables a pass reads, in [`GcPlan`]'s table order.
const TABLES: [&str; 2] = [names::NAT_TCP_MAP, names::NAT_OTHER_MAP];

type Table = HashMap<MapData, FlowKey, NatEntry>;

pub struct NatCollector {
    tables: [Table; 2],
    usage: HashMap<MapData, MasqUsageKey, u32>,
}

/// A typed map on a new descriptor of map `name` of `ebpf`.
fn own<K: aya::Pod, V: aya::Pod>(
    ebpf: &Ebpf,
    name: &'static str,
) -> Result<HashMap<MapData, K, V>, DatapathError> {
    let fd = hash::<K, V>(ebpf, name)?
        .map()
        .fd()
        .as_fd()
        .try_clone_to_owned()
        .map_err(|source| DatapathError::Io {
            action: format!("duplicate the descriptor of map {name}"),
            source,
        })?;
    let data = MapData::from_fd(fd).map_err(map_err(name))?;
    let map = Map::from_map_data(data).map_err(map_err(name))?;
    HashMap::try_from(map).map_err(map_err(name))
}

impl AyaDatapath {
    pub(super) fn nat_collector(&self) -> Result<NatCollector, DatapathError> {
        Ok(NatCollector {
            tables: [own(&self.ebpf, TABLES[0])?, own(&self.ebpf, TABLES[1])?],
            usage: own(&self.ebpf, names::MASQ_USAGE_MAP)?,
        })
    }
}

/// Every entry of a NAT table (IPv4 or IPv6), many per system call.
pub(super) fn read_table<K: aya::Pod, V: aya::Pod>(
    table: &HashMap<impl std::borrow::Borrow<MapData>, K, V>,
    name: &'static str,
) -> Result<Vec<(K, V)>, DatapathError> {
    lookup_all::<K, V>(table.map().fd().as_fd()).map_err(|source| DatapathError::Io {
        action: format!("read map {name}"),
        source,
    })
}

/// [`read_table`] of an IPv4 NAT table, as records.
pub(super) fn read_records(
    table: &HashMap<impl std::borrow::Borrow<MapData>, FlowKey, NatEntry>,
    name: &'static str,
) -> Result<Vec<NatRecord>, DatapathError> {
    Ok(read_table(table, name)?
        .into_iter()
        .map(|(key, entry)| NatRecord { key, entry })
        .collect())
}

impl Collector for NatCollector {
    fn scan(&mut self, now_ns: u64) -> Result<GcPlan, DatapathError> {
        // Read before the tables: see `recount`.
        let name = names::MASQ_USAGE_MAP;
        let counts_before = self
            .usage
            .iter()
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map_err(map_err(name))?;
        let mut tables = Vec::new();
        for (table, name) in self.tables.iter().zip(TABLES) {
            tables.push(read_records(table, name)?);
        }
        Ok(GcPlan::decide(counts_before, tables, now_ns))
    }

    /// The entry is taken out and read in one step; one that changed
    /// after all is put back (unless a new flow claimed the tuple in that
    /// instant). Left is a window of nanoseconds: a packet that found the
    /// entry before it was taken and writes to it after.
    fn sweep(&mut self, plan: &mut GcPlan, limit: usize) -> Result<usize, DatapathError> {
        let mut deleted = 0;
        for (table, record) in plan.next_idle(limit) {
            let (map, name) = (&mut self.tables[table], TABLES[table]);
            if delete_if_unchanged(map, name, &record.key, |now| {
                nat::unchanged(&record.entry, now)
            })? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    /// The recount comes from the NAT tables read after `counts_before`.
    /// A count that moved since belongs to a flow that started or ended
    /// during the pass (the programs count it atomically), which the
    /// tables read may or may not show: it is left as the programs keep
    /// it, for the next pass.
    fn recount(&mut self, plan: &GcPlan) -> Result<(), DatapathError> {
        let name = names::MASQ_USAGE_MAP;
        let (before, usage) = (plan.counts_before(), plan.usage());
        let map = &mut self.usage;
        let unmoved = |map: &HashMap<MapData, MasqUsageKey, u32>, key: &MasqUsageKey| {
            map.get(key, 0).ok() == before.get(key).copied()
        };
        let stale: Vec<MasqUsageKey> = map
            .keys()
            .collect::<Result<Vec<_>, _>>()
            .map_err(map_err(name))?
            .into_iter()
            .filter(|key| !usage.contains_key(key))
            .collect();
        for key in stale {
            if unmoved(map, &key) {
                removed(map.remove(&key)).map_err(write_err(name, "remove a count"))?;
            }
        }
        for (key, count) in usage {
            if unmoved(map, key) {
                map.insert(key, count, 0)
                    .map_err(write_err(name, "write a count"))?;
            }
        }
        Ok(())
    }
}
