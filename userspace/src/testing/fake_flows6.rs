//! The fake datapath's IPv6 NAT tables, decided by the same pure
//! functions (`datapath::nat6`) as the kernel one's.

use std::{collections::HashSet, net::Ipv6Addr};

use super::{fake_datapath::FakeDatapath, lock};
use crate::datapath::{DatapathError, Flows6, NatRecord6, nat6};

impl Flows6 for FakeDatapath {
    fn flows6(&self) -> Result<Vec<NatRecord6>, DatapathError> {
        self.check("flows6")?;
        Ok(lock(&self.world).flows6.clone())
    }

    fn gc6(&mut self, now_ns: u64) -> Result<usize, DatapathError> {
        self.with("gc6", |w| {
            let idle: HashSet<_> = nat6::expired(&w.flows6, now_ns)
                .iter()
                .map(|r| r.key)
                .collect();
            let before = w.flows6.len();
            w.flows6.retain(|r| !idle.contains(&r.key));
            before - w.flows6.len()
        })
    }

    fn remove_flows_of6(&mut self, ip: Ipv6Addr) -> Result<usize, DatapathError> {
        self.with("remove_flows_of6", |w| {
            let keys: HashSet<_> = nat6::flows_of_address(&w.flows6, ip.octets())
                .into_iter()
                .collect();
            let before = w.flows6.len();
            w.flows6.retain(|r| !keys.contains(&r.key));
            before - w.flows6.len()
        })
    }
}
