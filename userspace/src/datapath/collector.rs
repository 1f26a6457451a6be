//! The collector of idle flows, in three steps so its caller need not hold
//! the controller across the slow one: [`Collector::scan`] reads the
//! masquerade counts and the NAT tables of both families and decides (a
//! million flows: most of a second, nothing written); [`Collector::sweep`]
//! deletes what was decided, a bounded number of entries per call, each
//! only if unchanged since it was read; [`Collector::recount`] writes the
//! masquerade counts. The kernel orders the collector's map operations with
//! the programs' and the controller's; the caller holds the controller
//! while it sweeps and recounts, so those never interleave with the
//! controller's own deletions.

use std::collections::{BTreeMap, HashSet};

use ebpfnet_common::flow::{FlowKeyOf, MasqUsageKeyOf};

use super::{DatapathError, NatRecordOf, family::Family, nat};

/// What one pass decided for one address family: the idle entries as
/// read, and the masquerade counts read before the tables and recounted
/// from what stays.
#[derive(Debug, Default)]
pub struct FamilyPlan<A: Family> {
    /// Idle entries not swept yet: (table index, entry as read).
    idle: Vec<(usize, NatRecordOf<A>)>,
    counts_before: BTreeMap<MasqUsageKeyOf<A>, u32>,
    usage: BTreeMap<MasqUsageKeyOf<A>, u32>,
}

impl<A: Family> FamilyPlan<A> {
    /// Decides from `counts_before` (the counts read before the tables)
    /// and each table's entries (read after, in `Family::TABLES` order),
    /// as of `now_ns`.
    pub fn decide(
        counts_before: BTreeMap<MasqUsageKeyOf<A>, u32>,
        tables: Vec<Vec<NatRecordOf<A>>>,
        now_ns: u64,
    ) -> Self {
        let mut plan = FamilyPlan {
            counts_before,
            idle: Vec::new(),
            usage: BTreeMap::new(),
        };
        for (table, records) in tables.into_iter().enumerate() {
            let idle = nat::expired(&records, now_ns);
            let gone: HashSet<FlowKeyOf<A>> = idle.iter().map(|r| r.key).collect();
            let left: Vec<NatRecordOf<A>> = records
                .into_iter()
                .filter(|r| !gone.contains(&r.key))
                .collect();
            for (key, count) in nat::masquerade_usage(&left) {
                *plan.usage.entry(key).or_insert(0) += count;
            }
            plan.idle.extend(idle.into_iter().map(|r| (table, r)));
        }
        // Swept from the end.
        plan.idle.reverse();
        plan
    }

    /// Whether every idle entry was swept.
    pub fn swept(&self) -> bool {
        self.idle.is_empty()
    }

    /// How many idle entries are left to sweep.
    pub fn pending(&self) -> usize {
        self.idle.len()
    }

    /// Up to `limit` idle entries, taken out of the plan.
    pub fn next_idle(&mut self, limit: usize) -> Vec<(usize, NatRecordOf<A>)> {
        let keep = self.idle.len().saturating_sub(limit);
        self.idle.split_off(keep)
    }

    pub fn counts_before(&self) -> &BTreeMap<MasqUsageKeyOf<A>, u32> {
        &self.counts_before
    }

    pub fn usage(&self) -> &BTreeMap<MasqUsageKeyOf<A>, u32> {
        &self.usage
    }

    /// The counters the recount changes: a new count (`Some`) or removal
    /// (`None`) for each counter whose recount differs from what it held
    /// before the tables were read. A counter the recount agrees with is
    /// not written at all: each write is a read-then-write from userspace
    /// that a flow counted by the programs in between would be lost to,
    /// so the fewer the better (a busy destination's counter is written
    /// only on passes that find its flows idle).
    pub fn count_changes(&self) -> Vec<(MasqUsageKeyOf<A>, Option<u32>)> {
        let stale = self
            .counts_before
            .keys()
            .filter(|key| !self.usage.contains_key(key))
            .map(|key| (*key, None));
        let changed = self
            .usage
            .iter()
            .filter(|(key, count)| self.counts_before.get(key) != Some(count))
            .map(|(key, count)| (*key, Some(*count)));
        stale.chain(changed).collect()
    }
}

/// What one pass decided, for IPv4 and IPv6.
#[derive(Debug, Default)]
pub struct GcPlan {
    pub v4: FamilyPlan<[u8; 4]>,
    pub v6: FamilyPlan<[u8; 16]>,
}

impl GcPlan {
    /// Whether every idle entry of both families was swept.
    pub fn swept(&self) -> bool {
        self.v4.swept() && self.v6.swept()
    }
}

/// A handle on the NAT tables and masquerade counts of both families of
/// its own, usable from another thread while the controller goes on.
pub trait Collector: Send {
    /// Reads the masquerade counts, then the NAT tables, and decides which
    /// flows are idle as of `now_ns` (CLOCK_MONOTONIC). Writes nothing.
    fn scan(&mut self, now_ns: u64) -> Result<GcPlan, DatapathError>;
    /// Deletes up to `limit` of the plan's idle entries (IPv4's first),
    /// each unless it changed since it was read (a packet revived the flow, or a new flow
    /// took the tuple); returns how many went.
    fn sweep(&mut self, plan: &mut GcPlan, limit: usize) -> Result<usize, DatapathError>;
    /// Makes `MASQ_USAGE` and `MASQ_USAGE6` hold the plan's recount,
    /// leaving counts that moved since they were read to the programs and
    /// the next pass.
    fn recount(&mut self, plan: &GcPlan) -> Result<(), DatapathError>;
}

/// A whole pass at once: scan, sweep everything, recount.
pub fn collect(collector: &mut dyn Collector, now_ns: u64) -> Result<usize, DatapathError> {
    let mut plan = collector.scan(now_ns)?;
    let deleted = collector.sweep(&mut plan, usize::MAX)?;
    collector.recount(&plan)?;
    Ok(deleted)
}

#[cfg(test)]
mod tests {
    use ebpfnet_common::maps::{FlowKey, MasqUsageKey, NatEntry, NatKind, proto};

    use super::*;
    use crate::datapath::NatRecord;

    /// One direction of a UDP flow from `port` with no other direction,
    /// masqueraded, last seen at `last_seen`.
    fn lone(port: u16, last_seen: u64) -> NatRecord {
        NatRecord {
            key: FlowKey::new([10, 0, 0, 2], port, [1, 1, 1, 1], 53, proto::UDP),
            entry: NatEntry {
                kind: NatKind::MasqueradeRequest as u8,
                last_seen_ns: last_seen,
                ..NatEntry::default()
            },
        }
    }

    #[test]
    fn a_plan_hands_out_the_idle_entries_of_every_table_in_batches() {
        const S: u64 = 1_000_000_000;
        let now = 1000 * S;
        // Unanswered UDP lives 30 s.
        let tables = vec![
            vec![lone(1, now - 40 * S), lone(2, now)],
            vec![lone(3, now - 40 * S), lone(4, now - 31 * S), lone(5, now)],
        ];
        let mut plan = FamilyPlan::decide(BTreeMap::new(), tables, now);
        // Only the two live flows hold a port toward 1.1.1.1:53.
        let key = MasqUsageKey::new([10, 0, 0, 2], [1, 1, 1, 1], 53, proto::UDP);
        assert_eq!(plan.usage(), &BTreeMap::from([(key, 2)]));
        let mut seen = Vec::new();
        while !plan.swept() {
            let batch = plan.next_idle(2);
            assert!(!batch.is_empty() && batch.len() <= 2);
            seen.extend(batch.iter().map(|(table, r)| (*table, r.key.src_port)));
        }
        seen.sort_unstable();
        assert_eq!(seen, [(0, 1), (1, 3), (1, 4)]);
    }

    #[test]
    fn only_counts_the_recount_disagrees_with_are_written() {
        const S: u64 = 1_000_000_000;
        let now = 1000 * S;
        let to = |dst: [u8; 4]| MasqUsageKey::new([10, 0, 0, 2], dst, 53, proto::UDP);
        let flow = |port: u16, dst: [u8; 4], last_seen: u64| {
            let mut record = lone(port, last_seen);
            record.key.dst_ip = dst;
            record
        };
        let (agreed, lowered, emptied) = (to([1, 1, 1, 1]), to([8, 8, 8, 8]), to([9, 9, 9, 9]));
        let tables = vec![vec![
            flow(1, [1, 1, 1, 1], now),
            flow(2, [1, 1, 1, 1], now),
            flow(3, [8, 8, 8, 8], now),
            flow(4, [8, 8, 8, 8], now - 40 * S),
            flow(5, [9, 9, 9, 9], now - 40 * S),
            flow(6, [7, 7, 7, 7], now),
        ]];
        let before = BTreeMap::from([(agreed, 2), (lowered, 2), (emptied, 1)]);
        let plan = FamilyPlan::decide(before, tables, now);
        let mut changes = plan.count_changes();
        changes.sort_unstable();
        // 1.1.1.1 holds what it counted: not written. 7.7.7.7 was not
        // counted (a full table) and is raised.
        let mut want = vec![
            (lowered, Some(1)),
            (emptied, None),
            (to([7, 7, 7, 7]), Some(1)),
        ];
        want.sort_unstable();
        assert_eq!(changes, want);
    }
}
