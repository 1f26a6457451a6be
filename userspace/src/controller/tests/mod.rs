//! Unit tests of the controller over the in-memory host and datapath
//! (no root, no kernel): the harness and the checks every test shares,
//! then one module per area, and those of the helpers in
//! `controller/mod.rs`.

pub(crate) mod consistency;
pub(crate) mod harness;
mod lan_consistency;
mod step_failures;

mod docker;
mod ipv6;
mod ipv6_only;
mod lifecycle;
mod overlay;
mod publish6;
mod reconcile;
mod relay46;
mod rollback;

use ipnetwork::Ipv4Network;

use super::{next_ifname, overlaps};

#[test]
fn overlap() {
    let net = |s: &str| s.parse::<Ipv4Network>().expect("cidr");
    assert!(overlaps(net("10.0.0.0/8"), net("10.1.0.0/16")));
    assert!(overlaps(net("10.1.0.0/16"), net("10.0.0.0/8")));
    assert!(!overlaps(net("10.1.0.0/16"), net("10.2.0.0/16")));
    assert!(overlaps(net("10.1.2.0/24"), net("10.1.2.128/25")));
}

#[test]
fn interface_names_fill_gaps() {
    assert_eq!(next_ifname(&[]), "eth0");
    assert_eq!(next_ifname(&["eth0".into(), "eth2".into()]), "eth1");
}
