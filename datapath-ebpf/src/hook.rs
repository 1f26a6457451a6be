//! Which NAT entries a hook may apply: only those whose packets enter
//! there. An uplink applies the directions that come from other hosts, a
//! container's veth every direction a container starts or answers.
//!
//! This check is also what lets the uplink skip its anti-spoof LPM lookup
//! for established flows (uplink.rs): the only entries an uplink applies
//! are keyed by an outside source (a client of a published port, or the
//! destination of a masqueraded flow, which is never in a container
//! subnet), once the published requests of container clients
//! ([`FROM_CONTAINER`]) are refused here.

use ebpfnet_common::maps::{FROM_CONTAINER, NatEntryOf, NatKind};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Uplink,
    Container,
}

impl Hook {
    #[inline(always)]
    pub fn applies<A>(self, entry: &NatEntryOf<A>) -> bool {
        match self {
            Hook::Uplink => {
                (entry.kind == NatKind::PublishedRequest as u8
                    && entry.tcp_flags & FROM_CONTAINER == 0)
                    || entry.kind == NatKind::MasqueradeReply as u8
            }
            Hook::Container => entry.kind != NatKind::MasqueradeReply as u8,
        }
    }
}
