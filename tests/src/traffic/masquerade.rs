//! The masquerade-never-takes-a-published-port check of both families
//! (`isolation.rs` for IPv4, `masquerade6_published.rs` for NAT66): 1000
//! UDP ports of the masquerade range published, then many masqueraded
//! flows checked to leave on other ports of the range.

use std::collections::BTreeSet;

use super::clients::peer_of;
use super::host::masq_range;
use crate::TestEnv;

/// The masquerade range and the 1000 ports of it published.
#[derive(Clone, Copy, Debug)]
pub struct PublishedInRange {
    /// The masquerade port range, from the pinned `CONFIG` map.
    pub masq: (u16, u16),
    /// Its first 1000 ports, published as UDP.
    pub published: (u16, u16),
}

/// Publishes the first 1000 ports of the masquerade range as UDP on
/// `host` (`""`: every IPv4 address; `"[::]:"`: every IPv6 one) to ports
/// 1000-1999 of `container`.
#[track_caller]
pub fn publish_masquerade_ports(env: &TestEnv, host: &str, container: &str) -> PublishedInRange {
    let (lo, hi) = masq_range(env);
    assert!(lo > 1024 && hi >= lo + 1000, "masquerade range {lo}-{hi}");
    let (first, last) = (lo, lo + 999);
    let out = env.ok(&[
        "publish",
        &format!("{host}{first}-{last}:1000-1999/udp"),
        "--container",
        container,
    ]);
    assert_eq!(out.lines().count(), 1000, "publish printed {out}");
    PublishedInRange {
        masq: (lo, hi),
        published: (first, last),
    }
}

/// Every one of `replies` (echo replies to masqueraded flows) came back
/// from `uplink_ip` on a port of the masquerade range that is not
/// published (`what` names the masquerade in the message); none failed
/// (`why_failed` explains the failed ones); more than 150 distinct ports
/// were used.
#[track_caller]
pub fn check_masquerade_ports(
    replies: &[String],
    uplink_ip: &str,
    ports: PublishedInRange,
    what: &str,
    why_failed: impl FnOnce(&[String]) -> String,
) {
    let ((lo, hi), (first, last)) = (ports.masq, ports.published);
    let mut seen = BTreeSet::new();
    let mut failed = Vec::new();
    for r in replies {
        let Some((ip, port)) = peer_of(r) else {
            failed.push(r.clone());
            continue;
        };
        assert_eq!(ip, uplink_ip, "{r}");
        assert!(
            !(first..=last).contains(&port),
            "{what} used published port {port}: {r}"
        );
        assert!((lo..=hi).contains(&port), "{port} not in {lo}-{hi}");
        seen.insert(port);
    }
    // Skipping published ports must not make flows fail while thousands
    // of masquerade ports are free.
    assert!(failed.is_empty(), "{}", why_failed(&failed));
    assert!(
        seen.len() > 150,
        "only {} distinct masquerade ports",
        seen.len()
    );
}
