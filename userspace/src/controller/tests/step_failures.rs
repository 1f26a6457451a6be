//! Every step of an operation, failed in turn: the operation is run once
//! to learn its steps (the calls it makes on the host and the datapath),
//! then once per step with that step failing, on a fresh scene each time.
//! `rollback` and `ipv6` state their operations as [`Plan`]s.

use super::{
    consistency::assert_consistent,
    harness::{Harness, assert_same},
};
use crate::controller::Result;

/// An operation to fail step by step, and the scene it runs on.
pub(crate) trait Plan: std::fmt::Debug + Copy {
    /// Removals undo nothing: they finish when run again.
    fn removes(self) -> bool;
    /// A fresh scene for the operation, its failure log emptied.
    async fn scene(self) -> Harness;
    async fn run(self, h: &mut Harness) -> Result<()>;
}

/// Runs `op` once per step it takes, that step failing. A failed create,
/// connect or publish leaves host, datapath, state and saved state exactly
/// as before; a failed removal leaves the state and saved state as before
/// and finishes when run again; an operation that succeeds past a failure
/// leaves host and datapath consistent with the state.
pub(crate) async fn fail_each_step(op: impl Plan) {
    let mut h = op.scene().await;
    op.run(&mut h)
        .await
        .unwrap_or_else(|e| panic!("{op:?} without failures: {e}"));
    assert_consistent(&h.snapshot());
    let steps = h.faults.take_log();
    assert!(!steps.is_empty(), "{op:?} calls the host or the datapath");
    for (n, step) in steps.iter().enumerate() {
        let what = format!("{op:?} with step {n} ({step}) failing");
        let mut h = op.scene().await;
        let before = h.snapshot();
        h.faults.fail_call(n);
        let result = op.run(&mut h).await;
        h.faults.clear();
        let after = h.snapshot();
        match result {
            Ok(()) => assert_consistent(&after),
            Err(e) if !e.to_string().contains("injected failure") => {
                panic!("{what}: unexpected error {e}")
            }
            Err(_) if !op.removes() => assert_same(&after, &before, &what),
            Err(_) => {
                assert_eq!(after.state, before.state, "{what}");
                assert_eq!(after.saved, before.saved, "{what}");
                op.run(&mut h)
                    .await
                    .unwrap_or_else(|e| panic!("{what}, then again: {e}"));
                assert_consistent(&h.snapshot());
            }
        }
    }
}
