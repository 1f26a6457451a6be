//! The fake datapath's `PUBLISHED6` and `HOST_ADDRS6`, its flows cut by
//! the same pure function (`datapath::published6`) as the kernel one's.

use std::{collections::HashSet, net::Ipv6Addr};

use ebpfnet_common::published6::{PublishedKey6, PublishedValue6};

use super::{fake_datapath::FakeDatapath, lock};
use crate::datapath::{DatapathError, Publishing6, published6::flows_of_mappings6};

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
            for key in keys {
                w.published6.remove(key);
            }
            let cut: HashSet<_> = flows_of_mappings6(&w.flows6, keys).into_iter().collect();
            let before = w.flows6.len();
            w.flows6.retain(|r| !cut.contains(&r.key));
            before - w.flows6.len()
        })
    }

    fn published6(&self) -> Result<Vec<(PublishedKey6, PublishedValue6)>, DatapathError> {
        self.check("published6")?;
        Ok(lock(&self.world)
            .published6
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect())
    }

    fn set_host_addrs6(&mut self, addrs: &[(Ipv6Addr, u32)]) -> Result<(), DatapathError> {
        self.with("set_host_addrs6", |w| {
            w.host_addrs6 = addrs.iter().copied().collect();
        })
    }
}
