//! Namespaces ebpfnet did not make (`--netns PATH`, `--pid PID`) that go
//! away while the daemon runs: noticed by the daemon's housekeeping within
//! seconds, not at its next start.

use super::{Controller, Result, modes};
use crate::state::{Container, NetMode};

impl Controller {
    /// Removes every container whose adopted namespace is gone (its
    /// process exited, its mount was removed, another namespace is at its
    /// path), with the containers sharing it: state, published ports,
    /// files, veths, and the map entries of veths the kernel already took
    /// with the namespace. Logged. Answers their names.
    pub async fn drop_gone_namespaces(&mut self) -> Result<Vec<String>> {
        let gone: Vec<Container> = self
            .state
            .containers
            .values()
            .filter(|c| matches!(c.mode, NetMode::Adopted { .. }) && !modes::adopted_alive(&c.mode))
            .cloned()
            .collect();
        if gone.is_empty() {
            return Ok(Vec::new());
        }
        let before: Vec<String> = self.state.containers.keys().cloned().collect();
        for container in &gone {
            let NetMode::Adopted { path, .. } = &container.mode else {
                continue;
            };
            if self.state.containers.contains_key(&container.name) {
                self.drop_orphan(container, path).await?;
            }
        }
        // The endpoint entries of veths that vanished with the namespace
        // can no longer be found by name.
        self.prune_stale().await?;
        Ok(before
            .into_iter()
            .filter(|name| !self.state.containers.contains_key(name))
            .collect())
    }
}
