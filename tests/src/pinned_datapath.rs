//! A datapath loaded on a pin directory of its own, for the tests that
//! write its maps directly and run the userspace side over them (the flow
//! collector's); unloaded and its pins removed on drop, also when the
//! test fails.

use std::path::PathBuf;

use aya::maps::{HashMap, Map, MapData};
use ebpfnet::datapath::{AyaDatapath, MapSizes, TcPath, remove_pins};

pub struct PinnedDatapath {
    dp: Option<AyaDatapath>,
    pin_dir: PathBuf,
}

impl PinnedDatapath {
    /// Loads the datapath with tables of `sizes`, pinned under
    /// `/sys/fs/bpf/ebnt-TAG-PID`.
    pub fn load(tag: &str, sizes: MapSizes) -> Self {
        let pin_dir = PathBuf::from(format!("/sys/fs/bpf/ebnt-{tag}-{}", std::process::id()));
        let dp = AyaDatapath::load(&pin_dir, sizes, TcPath::Tcx)
            .unwrap_or_else(|e| panic!("loading the datapath on {}: {e}", pin_dir.display()));
        Self {
            dp: Some(dp),
            pin_dir,
        }
    }

    /// The loaded datapath.
    pub fn dp(&self) -> &AyaDatapath {
        self.dp.as_ref().expect("loaded until dropped")
    }

    /// The loaded datapath, to change.
    pub fn dp_mut(&mut self) -> &mut AyaDatapath {
        self.dp.as_mut().expect("loaded until dropped")
    }

    /// Pinned hash map `name`, opened apart from the datapath's own handle.
    pub fn hash<K: aya::Pod, V: aya::Pod>(&self, name: &str) -> HashMap<MapData, K, V> {
        let path = self.pin_dir.join(name);
        let data =
            MapData::from_pin(&path).unwrap_or_else(|e| panic!("opening {}: {e}", path.display()));
        HashMap::try_from(Map::HashMap(data)).unwrap_or_else(|e| panic!("{name}: {e}"))
    }
}

impl Drop for PinnedDatapath {
    fn drop(&mut self) {
        drop(self.dp.take());
        if let Err(e) = remove_pins(&self.pin_dir) {
            eprintln!("removing {}: {e}", self.pin_dir.display());
        }
    }
}
