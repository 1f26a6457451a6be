//! One pass of the idle-flow collector (both address families) without
//! stopping the controller: the tables are read and judged on a blocking
//! thread with the controller free (a million flows take most of a
//! second), and the
//! controller is held only while the pass deletes, a bounded batch at a
//! time, and recounts — so a command waits for at most one batch, and
//! never sees the collector's deletions interleaved with its own (a flow
//! the collector puts back because a packet revived it can never come back
//! after the controller removed the flows of its address).

use std::sync::Arc;

use anyhow::Context as _;
use tokio::sync::Mutex;

use crate::{controller::Controller, host::monotonic_ns};

/// Idle entries deleted per hold of the controller (two system calls
/// each: a few milliseconds).
const SWEEP_BATCH: usize = 2048;

/// Removes the flows idle past their timeout; returns how many NAT
/// entries went.
pub async fn collect_garbage(controller: &Arc<Mutex<Controller>>) -> anyhow::Result<usize> {
    let mut collector = controller.lock().await.flow_collector()?;
    let now = monotonic_ns().context("read the monotonic clock")?;
    let (mut collector, plan) = tokio::task::spawn_blocking(move || {
        let plan = collector.scan(now);
        (collector, plan)
    })
    .await
    .context("the collector's reading thread failed")?;
    let mut plan = plan?;
    let mut deleted = 0;
    while !plan.swept() {
        let _held = controller.lock().await;
        deleted += collector.sweep(&mut plan, SWEEP_BATCH)?;
    }
    let _held = controller.lock().await;
    collector.recount(&plan)?;
    Ok(deleted)
}
