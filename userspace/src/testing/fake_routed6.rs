//! The fake datapath's `ROUTED6`.

use std::collections::BTreeMap;

use ebpfnet_common::routed6::RoutedPortKey6;

use super::{fake_datapath::FakeDatapath, lock};
use crate::datapath::{DatapathError, Routed6};

impl Routed6 for FakeDatapath {
    fn set_routed_port6(
        &mut self,
        key: RoutedPortKey6,
        mappings: u32,
    ) -> Result<(), DatapathError> {
        self.with("set_routed_port6", |w| {
            w.routed6.insert(key, mappings);
        })
    }

    fn remove_routed_port6(&mut self, key: RoutedPortKey6) -> Result<(), DatapathError> {
        self.with("remove_routed_port6", |w| {
            w.routed6.remove(&key);
        })
    }

    /// Read once, at the controller's start, outside the numbered calls:
    /// the start-up sequences the failure tests count stay as they were.
    fn routed_ports6(&self) -> Result<BTreeMap<RoutedPortKey6, u32>, DatapathError> {
        Ok(lock(&self.world).routed6.clone())
    }
}
