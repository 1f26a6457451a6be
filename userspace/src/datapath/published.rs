//! `PUBLISHED`/`PUBLISHED6` and their counters in the kernel, for both
//! families at once: mappings written, read and removed (with the flows
//! that came in through them), and `HOST_ADDRS6`, the host's IPv6
//! addresses that mappings on `::` answer on.

use std::net::Ipv6Addr;

use aya::maps::PerCpuHashMap;
use ebpfnet_common::{
    maps::{PublishedKey, PublishedStats, PublishedValue},
    names,
    published::{PublishedKeyOf, PublishedValueOf},
    published6::{PublishedKey6, PublishedValue6},
};

use super::{
    AyaDatapath, DatapathError, Publishing, Publishing6,
    encoding::describe_key,
    family::Family,
    maps::{hash, hash_mut, map_err, map_mut, removed, sync_host_addrs, write_err},
    nat,
};

/// A family's mapping as its map holds it.
type Mapping<A> = (PublishedKeyOf<A>, PublishedValueOf<A>);

impl AyaDatapath {
    fn publish_of<A: Family>(
        &mut self,
        key: PublishedKeyOf<A>,
        value: PublishedValueOf<A>,
    ) -> Result<(), DatapathError> {
        let [name, _] = A::PUBLISHED;
        hash_mut::<PublishedKeyOf<A>, PublishedValueOf<A>>(&mut self.ebpf, name)?
            .insert(key, value, 0)
            .map_err(write_err(name, format!("publish {}", describe_key(&key))))
    }

    fn published_of<A: Family>(&self) -> Result<Vec<Mapping<A>>, DatapathError> {
        let [name, _] = A::PUBLISHED;
        hash::<PublishedKeyOf<A>, PublishedValueOf<A>>(&self.ebpf, name)?
            .iter()
            .collect::<Result<_, _>>()
            .map_err(map_err(name))
    }

    /// Takes one mapping and its counters out of the family's maps.
    fn remove_mapping<A: Family>(&mut self, key: &PublishedKeyOf<A>) -> Result<(), DatapathError> {
        let [name, stats] = A::PUBLISHED;
        let mut mapping = hash_mut::<PublishedKeyOf<A>, PublishedValueOf<A>>(&mut self.ebpf, name)?;
        removed(mapping.remove(key))
            .map_err(write_err(name, format!("unpublish {}", describe_key(key))))?;
        let mut counters: PerCpuHashMap<_, PublishedKeyOf<A>, PublishedStats> =
            PerCpuHashMap::try_from(map_mut(&mut self.ebpf, stats)?).map_err(map_err(stats))?;
        removed(counters.remove(key)).map_err(write_err(
            stats,
            format!("remove the counters of {}", describe_key(key)),
        ))
    }

    /// [`Publishing::unpublish`] for either family.
    fn unpublish_of<A: Family>(
        &mut self,
        keys: &[PublishedKeyOf<A>],
    ) -> Result<usize, DatapathError> {
        // The mappings go first: no new flow can start through them meanwhile.
        let mut first_error = None;
        for key in keys {
            if let Err(e) = self.remove_mapping(key) {
                log::error!("{e}");
                first_error.get_or_insert(e);
            }
        }
        let mut deleted = 0;
        for table in A::TABLES {
            let of_table: Vec<_> = keys
                .iter()
                .filter(|k| A::table(k.protocol) == table)
                .copied()
                .collect();
            if of_table.is_empty() {
                continue;
            }
            let records = self.nat_records::<A>(table)?;
            let mut flows = nat::flows_of_mappings(&records, &of_table);
            flows.extend(A::translated_flows(&records, &of_table));
            deleted += self.delete_flows(table, &flows)?;
        }
        first_error.map_or(Ok(deleted), Err)
    }
}

impl Publishing for AyaDatapath {
    fn publish(&mut self, key: PublishedKey, value: PublishedValue) -> Result<(), DatapathError> {
        self.publish_of(key, value)
    }

    fn published(&self) -> Result<Vec<(PublishedKey, PublishedValue)>, DatapathError> {
        self.published_of()
    }

    fn unpublish(&mut self, keys: &[PublishedKey]) -> Result<usize, DatapathError> {
        self.unpublish_of(keys)
    }
}

impl Publishing6 for AyaDatapath {
    fn publish6(
        &mut self,
        key: PublishedKey6,
        value: PublishedValue6,
    ) -> Result<(), DatapathError> {
        self.publish_of(key, value)?;
        self.mark_nat46(&key)
    }

    fn unpublish6(&mut self, keys: &[PublishedKey6]) -> Result<usize, DatapathError> {
        let cut = self.unpublish_of(keys);
        self.unmark_nat46(keys, cut.is_ok())?;
        cut
    }

    fn published6(&self) -> Result<Vec<(PublishedKey6, PublishedValue6)>, DatapathError> {
        self.published_of()
    }

    fn set_host_addrs6(&mut self, addrs: &[(Ipv6Addr, u32)]) -> Result<(), DatapathError> {
        let wanted = addrs.iter().map(|(ip, index)| (ip.octets(), *index));
        sync_host_addrs(&mut self.ebpf, names::HOST_ADDRS6_MAP, wanted.collect())
    }
}
