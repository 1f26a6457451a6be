//! The fake datapath's overlay maps: `OVERLAY_NETWORKS` and the peers of
//! either family.

use std::collections::BTreeMap;

use ebpfnet_common::overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey, OverlayPeerKey6};

use super::{fake_datapath::FakeDatapath, lock};
use crate::datapath::{DatapathError, Overlay};

impl Overlay for FakeDatapath {
    fn set_overlay_network(
        &mut self,
        network_id: u32,
        info: OverlayNetwork,
    ) -> Result<(), DatapathError> {
        self.with("set_overlay_network", |w| {
            w.overlay_networks.insert(network_id, info);
        })
    }

    fn remove_overlay_network(&mut self, network_id: u32) -> Result<(), DatapathError> {
        self.with("remove_overlay_network", |w| {
            w.overlay_networks.remove(&network_id);
            w.overlay_peers.retain(|k, _| k.network_id != network_id);
            w.overlay_peers6.retain(|k, _| k.network_id != network_id);
        })
    }

    fn set_overlay_peers(
        &mut self,
        peers: &BTreeMap<OverlayPeerKey, OverlayPeer>,
    ) -> Result<usize, DatapathError> {
        self.with("set_overlay_peers", |w| {
            let changed = w.overlay_peers.len().abs_diff(peers.len());
            w.overlay_peers = peers.clone();
            changed
        })
    }

    fn overlay_peers(&self) -> Result<BTreeMap<OverlayPeerKey, OverlayPeer>, DatapathError> {
        self.check("overlay_peers")?;
        Ok(lock(&self.world).overlay_peers.clone())
    }

    fn set_overlay_peers6(
        &mut self,
        peers: &BTreeMap<OverlayPeerKey6, OverlayPeer>,
    ) -> Result<usize, DatapathError> {
        self.with("set_overlay_peers6", |w| {
            let changed = w.overlay_peers6.len().abs_diff(peers.len());
            w.overlay_peers6 = peers.clone();
            changed
        })
    }

    fn overlay_peers6(&self) -> Result<BTreeMap<OverlayPeerKey6, OverlayPeer>, DatapathError> {
        self.check("overlay_peers6")?;
        Ok(lock(&self.world).overlay_peers6.clone())
    }
}
