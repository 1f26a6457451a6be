//! `ROUTED6`: the container ports open on IPv6 routed networks (see
//! `controller::routed6`).

use std::collections::BTreeMap;

use ebpfnet_common::routed6::{ROUTED6_MAP, RoutedPortKey6};

use super::{
    AyaDatapath, DatapathError,
    maps::{hash, hash_mut, map_err, removed, write_err},
};

/// The open ports of routed networks' containers.
pub trait Routed6 {
    /// Opens `key`, counted by `mappings` port mappings.
    fn set_routed_port6(&mut self, key: RoutedPortKey6, mappings: u32)
    -> Result<(), DatapathError>;
    fn remove_routed_port6(&mut self, key: RoutedPortKey6) -> Result<(), DatapathError>;
    fn routed_ports6(&self) -> Result<BTreeMap<RoutedPortKey6, u32>, DatapathError>;
}

fn describe(key: &RoutedPortKey6) -> String {
    format!(
        "[{}]:{}/{}",
        std::net::Ipv6Addr::from(key.ip),
        key.port,
        super::encoding::protocol_name(key.protocol)
    )
}

impl Routed6 for AyaDatapath {
    fn set_routed_port6(
        &mut self,
        key: RoutedPortKey6,
        mappings: u32,
    ) -> Result<(), DatapathError> {
        hash_mut::<RoutedPortKey6, u32>(&mut self.ebpf, ROUTED6_MAP)?
            .insert(key, mappings, 0)
            .map_err(write_err(ROUTED6_MAP, format!("open {}", describe(&key))))
    }

    fn remove_routed_port6(&mut self, key: RoutedPortKey6) -> Result<(), DatapathError> {
        removed(hash_mut::<RoutedPortKey6, u32>(&mut self.ebpf, ROUTED6_MAP)?.remove(&key))
            .map_err(write_err(ROUTED6_MAP, format!("close {}", describe(&key))))
    }

    fn routed_ports6(&self) -> Result<BTreeMap<RoutedPortKey6, u32>, DatapathError> {
        hash::<RoutedPortKey6, u32>(&self.ebpf, ROUTED6_MAP)?
            .iter()
            .collect::<Result<_, _>>()
            .map_err(map_err(ROUTED6_MAP))
    }
}
