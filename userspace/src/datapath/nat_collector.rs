//! The kernel [`Collector`]: its own descriptors of both families' NAT
//! tables (`NAT_TCP`, `NAT_OTHER`, `NAT6_TCP`, `NAT6_OTHER`) and masquerade
//! counts (`MASQ_USAGE`, `MASQ_USAGE6`), so a pass runs apart from the
//! [`AyaDatapath`] (and the controller) that made it.

use std::{collections::BTreeMap, os::fd::AsFd};

use aya::{
    Ebpf,
    maps::{HashMap, IterableMap, Map, MapData},
};
use ebpfnet_common::flow::{FlowKeyOf, MasqUsageKeyOf, NatEntryOf};

use super::{
    AyaDatapath, DatapathError, NatRecordOf,
    batch::lookup_all,
    collector::{Collector, FamilyPlan, GcPlan},
    family::Family,
    maps::{hash, map_err, removed, write_err},
    nat,
    take::delete_if_unchanged,
};

type Table<A> = HashMap<MapData, FlowKeyOf<A>, NatEntryOf<A>>;
type Usage<A> = HashMap<MapData, MasqUsageKeyOf<A>, u32>;

/// One family's tables, in `Family::TABLES` order, and its counts.
struct FamilyMaps<A: Family> {
    tables: [Table<A>; 2],
    usage: Usage<A>,
}

pub struct NatCollector {
    v4: FamilyMaps<[u8; 4]>,
    v6: FamilyMaps<[u8; 16]>,
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
            v4: FamilyMaps::own(&self.ebpf)?,
            v6: FamilyMaps::own(&self.ebpf)?,
        })
    }
}

/// Every entry of a NAT table (either family), many per system call.
pub(super) fn read_table<K: aya::Pod, V: aya::Pod>(
    table: &HashMap<impl std::borrow::Borrow<MapData>, K, V>,
    name: &'static str,
) -> Result<Vec<(K, V)>, DatapathError> {
    lookup_all::<K, V>(table.map().fd().as_fd()).map_err(|source| DatapathError::Io {
        action: format!("read map {name}"),
        source,
    })
}

/// [`read_table`], as records.
pub(super) fn read_records<A: Family>(
    table: &HashMap<impl std::borrow::Borrow<MapData>, FlowKeyOf<A>, NatEntryOf<A>>,
    name: &'static str,
) -> Result<Vec<NatRecordOf<A>>, DatapathError> {
    Ok(read_table(table, name)?
        .into_iter()
        .map(|(key, entry)| NatRecordOf { key, entry })
        .collect())
}

impl<A: Family> FamilyMaps<A> {
    fn own(ebpf: &Ebpf) -> Result<Self, DatapathError> {
        let [tcp, other] = A::TABLES;
        Ok(Self {
            tables: [own(ebpf, tcp)?, own(ebpf, other)?],
            usage: own(ebpf, A::USAGE)?,
        })
    }

    fn scan(&self, now_ns: u64) -> Result<FamilyPlan<A>, DatapathError> {
        // Read before the tables: see `recount`.
        let counts_before = self
            .usage
            .iter()
            .collect::<Result<BTreeMap<_, _>, _>>()
            .map_err(map_err(A::USAGE))?;
        let mut tables = Vec::new();
        for (table, name) in self.tables.iter().zip(A::TABLES) {
            tables.push(read_records(table, name)?);
        }
        Ok(FamilyPlan::decide(counts_before, tables, now_ns))
    }

    fn sweep(&mut self, plan: &mut FamilyPlan<A>, limit: usize) -> Result<usize, DatapathError> {
        let mut deleted = 0;
        for (table, record) in plan.next_idle(limit) {
            let (map, name) = (&mut self.tables[table], A::TABLES[table]);
            if delete_if_unchanged(map, name, &record.key, |now| {
                nat::unchanged(&record.entry, now)
            })? {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    fn recount(&mut self, plan: &FamilyPlan<A>) -> Result<(), DatapathError> {
        let name = A::USAGE;
        let before = plan.counts_before();
        let map = &mut self.usage;
        for (key, count) in plan.count_changes() {
            // A count that moved since it was read belongs to a flow that
            // started or ended during the pass: left for the next one.
            if map.get(&key, 0).ok() != before.get(&key).copied() {
                continue;
            }
            match count {
                Some(count) => map
                    .insert(key, count, 0)
                    .map_err(write_err(name, "write a count"))?,
                None => removed(map.remove(&key)).map_err(write_err(name, "remove a count"))?,
            }
        }
        Ok(())
    }
}

impl Collector for NatCollector {
    fn scan(&mut self, now_ns: u64) -> Result<GcPlan, DatapathError> {
        Ok(GcPlan {
            v4: self.v4.scan(now_ns)?,
            v6: self.v6.scan(now_ns)?,
        })
    }

    /// The entry is taken out and read in one step; one that changed
    /// after all is put back (unless a new flow claimed the tuple in that
    /// instant). Left is a window of nanoseconds: a packet that found the
    /// entry before it was taken and writes to it after.
    fn sweep(&mut self, plan: &mut GcPlan, limit: usize) -> Result<usize, DatapathError> {
        // What IPv4's entries leave of the batch goes to IPv6's.
        let rest = limit.saturating_sub(plan.v4.pending());
        let deleted = self.v4.sweep(&mut plan.v4, limit)?;
        Ok(deleted + self.v6.sweep(&mut plan.v6, rest)?)
    }

    /// The recount comes from the NAT tables read after the counts. A
    /// count that moved since belongs to a flow that started or ended
    /// during the pass (the programs count it atomically), which the
    /// tables read may or may not show: it is left as the programs keep
    /// it, for the next pass.
    fn recount(&mut self, plan: &GcPlan) -> Result<(), DatapathError> {
        self.v4.recount(&plan.v4)?;
        self.v6.recount(&plan.v6)
    }
}
