//! The state file: written as a new file renamed over the old one, with
//! fsyncs around, read back checked.

use std::{
    fs::{self, File},
    io::Write as _,
    path::{Path, PathBuf},
};

use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::State;

pub(super) const STATE_FILE: &str = "state.json";
/// Held (flock) by the daemon that owns the directory.
const LOCK_FILE: &str = "lock";
/// Version of the file format; a newer file is refused, not misread.
const FORMAT_VERSION: u32 = 1;

#[derive(Deserialize)]
struct StateFile {
    version: u32,
    #[serde(flatten)]
    state: State,
}

/// [`StateFile`] as written: borrowing the state, not a copy of it.
#[derive(Serialize)]
struct StateFileRef<'a> {
    version: u32,
    #[serde(flatten)]
    state: &'a State,
}

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("cannot {action} {path}: {source}")]
    Io {
        action: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("state file {path} is corrupt: {source}")]
    Corrupt {
        path: PathBuf,
        source: serde_json::Error,
    },
    #[error("state file {path} is invalid: {reason}")]
    Invalid { path: PathBuf, reason: String },
    #[error(
        "state file {path} has format version {found}; this ebpfnet reads version {FORMAT_VERSION}"
    )]
    Version { path: PathBuf, found: u32 },
}

/// Persists [`State`] as JSON under a state directory.
#[derive(Debug, Clone)]
pub struct Store {
    dir: PathBuf,
}

impl Store {
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self { dir: dir.into() }
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    fn path(&self) -> PathBuf {
        self.dir.join(STATE_FILE)
    }

    /// The saved state, or an empty one when nothing was saved yet.
    pub fn load(&self) -> Result<State, StoreError> {
        let path = self.path();
        let text = match fs::read(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(State::default()),
            Err(source) => {
                return Err(StoreError::Io {
                    action: "read",
                    path,
                    source,
                });
            }
        };
        decode(&path, &text)
    }

    /// Atomically replaces the saved state.
    pub fn save(&self, state: &State) -> Result<(), StoreError> {
        let io = |action, path: &Path| {
            let path = path.to_path_buf();
            move |source| StoreError::Io {
                action,
                path,
                source,
            }
        };
        fs::create_dir_all(&self.dir).map_err(io("create", &self.dir))?;
        let path = self.path();
        let tmp = self.dir.join(format!("{STATE_FILE}.tmp"));
        let text = encode(state);
        let mut out = File::create(&tmp).map_err(io("create", &tmp))?;
        out.write_all(&text).map_err(io("write", &tmp))?;
        out.sync_all().map_err(io("sync", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("rename into", &path))?;
        // The rename itself is durable only once the directory is synced.
        File::open(&self.dir)
            .and_then(|d| d.sync_all())
            .map_err(io("sync", &self.dir))?;
        Ok(())
    }

    /// Removes the saved state and the daemon's lock (for `system reset`),
    /// and the directory itself when nothing else is in it.
    pub fn remove(&self) -> Result<(), StoreError> {
        for name in [STATE_FILE, "state.json.tmp", LOCK_FILE] {
            let path = self.dir.join(name);
            match fs::remove_file(&path) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    return Err(StoreError::Io {
                        action: "remove",
                        path,
                        source: e,
                    });
                }
                _ => {}
            }
        }
        // Anything else in the directory is not ours: then it stays.
        let _ = fs::remove_dir(&self.dir);
        Ok(())
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir.join(LOCK_FILE)
    }
}

/// The state in the bytes of a state file read from `path` (named in
/// errors only). Pure, so the fuzz targets can feed it anything.
pub fn decode(path: &Path, text: &[u8]) -> Result<State, StoreError> {
    let file: StateFile = serde_json::from_slice(text).map_err(|source| StoreError::Corrupt {
        path: path.to_path_buf(),
        source,
    })?;
    if file.version != FORMAT_VERSION {
        return Err(StoreError::Version {
            path: path.to_path_buf(),
            found: file.version,
        });
    }
    if let Some(network) = file.state.networks.values().find(|n| {
        n.subnet.is_some() != n.gateway.is_some() || (n.subnet.is_none() && n.ipv6.is_none())
    }) {
        return Err(StoreError::Invalid {
            path: path.to_path_buf(),
            reason: format!(
                "network {} needs an IPv4 subnet with its gateway, or IPv6",
                network.name
            ),
        });
    }
    Ok(file.state)
}

/// The bytes [`Store::save`] writes for `state`.
pub fn encode(state: &State) -> Vec<u8> {
    let file = StateFileRef {
        version: FORMAT_VERSION,
        state,
    };
    serde_json::to_vec_pretty(&file).expect("state serializes to JSON")
}
