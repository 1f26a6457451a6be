//! The fake datapath's `PUBLISHED`, `PUBLISHED6` and `HOST_ADDRS6`, both
//! families' flows cut by the same pure function (`nat::flows_of_mappings`)
//! as the kernel one's.

use std::{collections::BTreeMap, net::Ipv6Addr};

use ebpfnet_common::{
    maps::{PublishedKey, PublishedValue},
    published::{PublishedKeyOf, PublishedValueOf},
    published6::{PublishedKey6, PublishedValue6},
};

use super::{fake_datapath::FakeDatapath, fake_flows, lock};
use crate::datapath::{DatapathError, NatRecordOf, Publishing, Publishing6, family::Family, nat};

/// A family's mappings as the fake holds them.
type Mappings<A> = BTreeMap<PublishedKeyOf<A>, PublishedValueOf<A>>;

/// Removes `keys` from `mappings` and the flows that came in through them
/// from `flows`; how many NAT entries went.
fn unpublish_in<A: Family>(
    mappings: &mut Mappings<A>,
    flows: &mut Vec<NatRecordOf<A>>,
    keys: &[PublishedKeyOf<A>],
) -> usize {
    for key in keys {
        mappings.remove(key);
    }
    let cut = nat::flows_of_mappings(flows, keys);
    fake_flows::delete(flows, &cut)
}

fn entries<A: Family>(mappings: &Mappings<A>) -> Vec<(PublishedKeyOf<A>, PublishedValueOf<A>)> {
    mappings.iter().map(|(k, v)| (*k, *v)).collect()
}

impl Publishing for FakeDatapath {
    fn publish(&mut self, key: PublishedKey, value: PublishedValue) -> Result<(), DatapathError> {
        self.with("publish", |w| {
            w.published.insert(key, value);
        })
    }

    fn unpublish(&mut self, keys: &[PublishedKey]) -> Result<usize, DatapathError> {
        self.with("unpublish", |w| {
            unpublish_in(&mut w.published, &mut w.flows, keys)
        })
    }

    fn published(&self) -> Result<Vec<(PublishedKey, PublishedValue)>, DatapathError> {
        self.check("published")?;
        Ok(entries(&lock(&self.world).published))
    }
}

impl Publishing6 for FakeDatapath {
    fn publish6(
        &mut self,
        key: PublishedKey6,
        value: PublishedValue6,
    ) -> Result<(), DatapathError> {
        self.with("publish6", |w| {
            w.published6.insert(key, value);
        })
    }

    fn unpublish6(&mut self, keys: &[PublishedKey6]) -> Result<usize, DatapathError> {
        self.with("unpublish6", |w| {
            unpublish_in(&mut w.published6, &mut w.flows6, keys)
        })
    }

    fn published6(&self) -> Result<Vec<(PublishedKey6, PublishedValue6)>, DatapathError> {
        self.check("published6")?;
        Ok(entries(&lock(&self.world).published6))
    }

    fn set_host_addrs6(&mut self, addrs: &[(Ipv6Addr, u32)]) -> Result<(), DatapathError> {
        self.with("set_host_addrs6", |w| {
            w.host_addrs6 = addrs.iter().copied().collect();
        })
    }
}
