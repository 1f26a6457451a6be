//! Pure decisions over IPv6 NAT entries: `nat`'s, which serve both
//! address families (names kept for the IPv6 callers).

pub use super::nat::{
    expired, flows, flows_of_address, idle_timeout_ns, masquerade_usage, unchanged,
};

#[cfg(test)]
#[path = "nat6_tests.rs"]
mod tests;
