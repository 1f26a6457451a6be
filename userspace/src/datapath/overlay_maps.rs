//! `OVERLAY_NETWORKS`, `OVERLAY_VNIS`, `OVERLAY_PEERS` and
//! `OVERLAY_PEERS6`: which local networks are overlay networks (VNI,
//! VXLAN device) and where the containers of those networks on other
//! hosts live (by IPv4 and by IPv6 address).

use std::{
    collections::BTreeMap,
    net::{Ipv4Addr, Ipv6Addr},
};

use ebpfnet_common::{
    names,
    overlay::{OverlayNetwork, OverlayPeer, OverlayPeerKey, OverlayPeerKey6},
};

use super::{
    AyaDatapath, DatapathError, Overlay,
    maps::{hash, hash_mut, map_err, removed, write_err},
};

impl Overlay for AyaDatapath {
    fn set_overlay_network(
        &mut self,
        network_id: u32,
        info: OverlayNetwork,
    ) -> Result<(), DatapathError> {
        let what = format!("add overlay network #{network_id} (VNI {})", info.vni);
        let name = names::OVERLAY_VNIS_MAP;
        hash_mut::<u32, u32>(&mut self.ebpf, name)?
            .insert(info.vni, network_id, 0)
            .map_err(write_err(name, &what))?;
        let name = names::OVERLAY_NETWORKS_MAP;
        hash_mut::<u32, OverlayNetwork>(&mut self.ebpf, name)?
            .insert(network_id, info, 0)
            .map_err(write_err(name, &what))
    }

    fn remove_overlay_network(&mut self, network_id: u32) -> Result<(), DatapathError> {
        let what = format!("remove overlay network #{network_id}");
        // Its remote containers first: nothing is sent towards them after.
        let mut peers = self.overlay_peers()?;
        peers.retain(|key, _| key.network_id != network_id);
        self.set_overlay_peers(&peers)?;
        let mut peers6 = self.overlay_peers6()?;
        peers6.retain(|key, _| key.network_id != network_id);
        self.set_overlay_peers6(&peers6)?;
        let name = names::OVERLAY_NETWORKS_MAP;
        let info = hash::<u32, OverlayNetwork>(&self.ebpf, name)?
            .get(&network_id, 0)
            .ok();
        removed(hash_mut::<u32, OverlayNetwork>(&mut self.ebpf, name)?.remove(&network_id))
            .map_err(write_err(name, &what))?;
        if let Some(info) = info {
            let name = names::OVERLAY_VNIS_MAP;
            removed(hash_mut::<u32, u32>(&mut self.ebpf, name)?.remove(&info.vni))
                .map_err(write_err(name, &what))?;
        }
        Ok(())
    }

    fn set_overlay_peers(
        &mut self,
        peers: &BTreeMap<OverlayPeerKey, OverlayPeer>,
    ) -> Result<usize, DatapathError> {
        let current = self.overlay_peers()?;
        sync(self, names::OVERLAY_PEERS_MAP, &current, peers, |key| {
            format!(
                "{} of overlay network #{}",
                Ipv4Addr::from(key.ip),
                key.network_id
            )
        })
    }

    fn overlay_peers(&self) -> Result<BTreeMap<OverlayPeerKey, OverlayPeer>, DatapathError> {
        read(self, names::OVERLAY_PEERS_MAP)
    }

    fn set_overlay_peers6(
        &mut self,
        peers: &BTreeMap<OverlayPeerKey6, OverlayPeer>,
    ) -> Result<usize, DatapathError> {
        let current = self.overlay_peers6()?;
        sync(self, names::OVERLAY_PEERS6_MAP, &current, peers, |key| {
            format!(
                "{} of overlay network #{}",
                Ipv6Addr::from(key.ip),
                key.network_id
            )
        })
    }

    fn overlay_peers6(&self) -> Result<BTreeMap<OverlayPeerKey6, OverlayPeer>, DatapathError> {
        read(self, names::OVERLAY_PEERS6_MAP)
    }
}

fn read<K: aya::Pod + Ord>(
    dp: &AyaDatapath,
    name: &'static str,
) -> Result<BTreeMap<K, OverlayPeer>, DatapathError> {
    hash::<K, OverlayPeer>(&dp.ebpf, name)?
        .iter()
        .collect::<Result<_, _>>()
        .map_err(map_err(name))
}

/// Makes map `name` (holding `current`) exactly `peers`; answers how
/// many entries changed.
fn sync<K: aya::Pod + Ord>(
    dp: &mut AyaDatapath,
    name: &'static str,
    current: &BTreeMap<K, OverlayPeer>,
    peers: &BTreeMap<K, OverlayPeer>,
    describe: impl Fn(&K) -> String,
) -> Result<usize, DatapathError> {
    let mut map = hash_mut::<K, OverlayPeer>(&mut dp.ebpf, name)?;
    let mut changed = 0;
    for key in current.keys().filter(|k| !peers.contains_key(k)) {
        let what = format!("remove {}", describe(key));
        removed(map.remove(key)).map_err(write_err(name, what))?;
        changed += 1;
    }
    for (key, peer) in peers {
        if current.get(key) != Some(peer) {
            let what = format!("add {}", describe(key));
            map.insert(key, peer, 0).map_err(write_err(name, what))?;
            changed += 1;
        }
    }
    Ok(changed)
}
