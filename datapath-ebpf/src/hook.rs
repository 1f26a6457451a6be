//! Which NAT entries a hook may apply: only those whose packets enter
//! there. An uplink applies the directions that come from other hosts, a
//! container's veth every direction a container starts or answers.

use ebpfnet_common::maps::{NatEntry, NatKind};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Uplink,
    Container,
}

impl Hook {
    #[inline(always)]
    pub fn applies(self, entry: &NatEntry) -> bool {
        match self {
            Hook::Uplink => {
                entry.kind == NatKind::PublishedRequest as u8
                    || entry.kind == NatKind::MasqueradeReply as u8
            }
            Hook::Container => entry.kind != NatKind::MasqueradeReply as u8,
        }
    }
}
