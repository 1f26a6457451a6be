//! The fake datapath's NAT tables of both families, decided by the same
//! pure functions (`datapath::nat`, `datapath::collector`) as the kernel
//! one's. The fake keeps no masquerade counts: its collector sweeps what
//! is unchanged.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    net::{Ipv4Addr, Ipv6Addr},
};

use ebpfnet_common::flow::FlowKeyOf;

use super::{fake_datapath::FakeDatapath, lock};
use crate::datapath::{
    Collector, DatapathError, Flows, Flows6, GcPlan, NatRecord, NatRecord6, NatRecordOf,
    collector::FamilyPlan, family::Family, nat,
};

/// Deletes `keys` from `records`; how many were there.
pub(super) fn delete<A: Family>(records: &mut Vec<NatRecordOf<A>>, keys: &[FlowKeyOf<A>]) -> usize {
    let keys: HashSet<_> = keys.iter().collect();
    let before = records.len();
    records.retain(|r| !keys.contains(&r.key));
    before - records.len()
}

/// Deletes up to `limit` of the plan's idle entries that are unchanged.
fn sweep<A: Family>(
    records: &mut Vec<NatRecordOf<A>>,
    plan: &mut FamilyPlan<A>,
    limit: usize,
) -> usize {
    let idle: HashMap<_, _> = plan
        .next_idle(limit)
        .into_iter()
        .map(|(_, r)| (r.key, r.entry))
        .collect();
    let before = records.len();
    records.retain(|now| {
        !idle
            .get(&now.key)
            .is_some_and(|read| nat::unchanged(read, &now.entry))
    });
    before - records.len()
}

impl Flows for FakeDatapath {
    fn flows(&self) -> Result<Vec<NatRecord>, DatapathError> {
        self.check("flows")?;
        Ok(lock(&self.world).flows.clone())
    }

    fn collector(&self) -> Result<Box<dyn Collector>, DatapathError> {
        self.check("collector")?;
        Ok(Box::new(self.clone()))
    }

    fn remove_flows_of(&mut self, ip: Ipv4Addr) -> Result<usize, DatapathError> {
        self.with("remove_flows_of", |w| {
            let keys = nat::flows_of_address(&w.flows, ip.octets());
            delete(&mut w.flows, &keys)
        })
    }
}

impl Flows6 for FakeDatapath {
    fn flows6(&self) -> Result<Vec<NatRecord6>, DatapathError> {
        self.check("flows6")?;
        Ok(lock(&self.world).flows6.clone())
    }

    fn remove_flows_of6(&mut self, ip: Ipv6Addr) -> Result<usize, DatapathError> {
        self.with("remove_flows_of6", |w| {
            let keys = nat::flows_of_address(&w.flows6, ip.octets());
            delete(&mut w.flows6, &keys)
        })
    }
}

impl Collector for FakeDatapath {
    fn scan(&mut self, now_ns: u64) -> Result<GcPlan, DatapathError> {
        self.check("gc")?;
        let world = lock(&self.world);
        Ok(GcPlan {
            v4: FamilyPlan::decide(BTreeMap::new(), vec![world.flows.clone()], now_ns),
            v6: FamilyPlan::decide(BTreeMap::new(), vec![world.flows6.clone()], now_ns),
        })
    }

    fn sweep(&mut self, plan: &mut GcPlan, limit: usize) -> Result<usize, DatapathError> {
        let rest = limit.saturating_sub(plan.v4.pending());
        self.with("gc", |w| {
            sweep(&mut w.flows, &mut plan.v4, limit) + sweep(&mut w.flows6, &mut plan.v6, rest)
        })
    }

    fn recount(&mut self, _plan: &GcPlan) -> Result<(), DatapathError> {
        self.check("gc")
    }
}
