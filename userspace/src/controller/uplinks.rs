//! Uplinks that come and go. wg-quick, PPP and NetworkManager delete an
//! interface and make a new one under the same name; the new one has a new
//! ifindex, no program and no `UPLINKS` entry. The controller resolves each
//! configured uplink by name again whenever the host's links change (the
//! daemon's netlink watcher calls [`Controller::refresh_host`]) and follows
//! it to its new ifindex.

use ebpfnet_common::ProgramId;

use super::{Controller, Result};

/// `Uplink::ifindex` of a configured uplink that does not exist right now.
pub const ABSENT: u32 = 0;

impl Controller {
    /// Follows each configured uplink to the interface that now has its
    /// name: a vanished one loses its attachment and `UPLINKS` entry, a new
    /// one gets the uplink program. (`UPLINKS` for the new one is written
    /// by the address pass of `refresh_host`, once it has an address.)
    pub(super) async fn follow_uplinks(&mut self) -> Result<()> {
        for slot in 0..self.uplinks.len() {
            let name = self.uplinks[slot].name.clone();
            let known = self.uplinks[slot].ifindex;
            let current = self.host.link_index(&name).await?.unwrap_or(ABSENT);
            if current == known {
                continue;
            }
            if known != ABSENT {
                log::warn!(
                    "uplink {name} (#{known}) is gone; dropping its program and UPLINKS entry"
                );
                self.datapath.detach(&name)?;
                self.datapath.remove_uplink(known)?;
                self.uplink_ips.remove(&known);
            }
            self.uplinks[slot].ifindex = current;
            if current != ABSENT {
                self.datapath
                    .attach(ProgramId::UplinkIngress, &name, current)?;
                log::info!("uplink {name} appeared as #{current}; uplink program attached");
            }
        }
        Ok(())
    }
}
