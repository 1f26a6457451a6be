//! In-memory fakes of the host and the datapath, for unit tests of the
//! controller without root or a kernel, and the failure injection they
//! share: one numbered sequence of calls over both, so a test can fail
//! "the Nth call" wherever it lands, or every call of a named operation.

mod fake_datapath;
mod fake_flows;
mod fake_host;
mod fake_lan_hosts;
mod fake_overlay;
mod fake_published;
mod fake_relay;
mod fake_routed6;
pub mod fixtures;
mod host_world;
mod lan_world;
mod ns_world;

use std::sync::{Arc, Mutex, MutexGuard};

pub use fake_datapath::{DatapathWorld, FakeDatapath};
pub use fake_host::FakeHost;
pub use fake_relay::FakeRelay;
pub use host_world::{HostWorld, Link, LinkKind, Namespace, NsLink};

/// Failure injection shared by the fakes. Every call that can fail takes
/// the next number and is logged by its operation's name.
#[derive(Clone, Default)]
pub struct Faults(Arc<Mutex<FaultPlan>>);

#[derive(Default)]
struct FaultPlan {
    calls: usize,
    fail_call: Option<usize>,
    fail_op: Option<String>,
    log: Vec<String>,
}

impl Faults {
    fn plan(&self) -> MutexGuard<'_, FaultPlan> {
        // A test that panicked while holding it has failed already.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Fails the call numbered `n` from now on (0 is the next call).
    pub fn fail_call(&self, n: usize) {
        let mut plan = self.plan();
        plan.fail_call = Some(plan.calls + n);
    }

    /// Fails every call of the operation `op` (e.g. `"create_veth"`).
    pub fn fail_op(&self, op: &str) {
        self.plan().fail_op = Some(op.to_string());
    }

    /// No more failures.
    pub fn clear(&self) {
        let mut plan = self.plan();
        plan.fail_call = None;
        plan.fail_op = None;
    }

    /// The operations called since the last `take_log`, in order.
    pub fn take_log(&self) -> Vec<String> {
        std::mem::take(&mut self.plan().log)
    }

    /// Counts and logs a call of `op`; `Err` when it is to fail.
    pub(crate) fn check(&self, op: &str) -> Result<(), String> {
        let mut plan = self.plan();
        let n = plan.calls;
        plan.calls += 1;
        plan.log.push(op.to_string());
        if plan.fail_call == Some(n) || plan.fail_op.as_deref() == Some(op) {
            return Err(format!("injected failure of {op} (call {n})"));
        }
        Ok(())
    }
}

/// A shared, inspectable world behind a fake.
pub(crate) fn lock<T>(world: &Mutex<T>) -> MutexGuard<'_, T> {
    world
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_nth_call_and_named_operations_fail() {
        let faults = Faults::default();
        faults.fail_call(1);
        assert!(faults.check("a").is_ok());
        let err = faults.check("b").expect_err("the second call fails");
        assert!(err.contains("injected failure of b (call 1)"), "{err}");
        assert!(faults.check("c").is_ok());
        faults.fail_op("c");
        assert!(faults.check("a").is_ok());
        assert!(faults.check("c").is_err());
        assert!(faults.check("c").is_err(), "every call of it");
        faults.clear();
        assert!(faults.check("c").is_ok());
        assert_eq!(faults.take_log(), ["a", "b", "c", "a", "c", "c", "c"]);
        assert!(faults.take_log().is_empty());
    }
}
