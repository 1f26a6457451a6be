//! A fake relay (relay46): what it relays, in a shared world; starts can
//! be failed through the shared [`Faults`] (operation `relay_start`).

use std::{
    collections::BTreeMap,
    net::SocketAddrV6,
    sync::{Arc, Mutex},
};

use super::{Faults, lock};
use crate::relay46::{Relay46, RelayError, RelayKey};

#[derive(Clone)]
pub struct FakeRelay {
    running: Arc<Mutex<BTreeMap<RelayKey, SocketAddrV6>>>,
    faults: Faults,
}

impl FakeRelay {
    pub fn new(faults: Faults) -> Self {
        Self {
            running: Arc::default(),
            faults,
        }
    }

    /// What is relayed now, and where to.
    pub fn running(&self) -> BTreeMap<RelayKey, SocketAddrV6> {
        lock(&self.running).clone()
    }
}

impl Relay46 for FakeRelay {
    fn start(&mut self, key: RelayKey, target: SocketAddrV6) -> Result<(), RelayError> {
        let mut running = lock(&self.running);
        // A running relay is only pointed elsewhere: no bind to fail.
        if !running.contains_key(&key) {
            self.faults
                .check("relay_start")
                .map_err(|e| RelayError::Listen {
                    key,
                    source: std::io::Error::new(std::io::ErrorKind::AddrInUse, e),
                })?;
        }
        running.insert(key, target);
        Ok(())
    }

    fn stop(&mut self, key: RelayKey) {
        lock(&self.running).remove(&key);
    }
}
