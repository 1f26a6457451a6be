use thiserror::Error;

use crate::{
    datapath::DatapathError, host::HostError, ids::NameError, ipam::IpamError, ipam6::Ipam6Error,
    netconf::NetconfError, state::StoreError,
};

#[derive(Debug, Error)]
pub enum ControllerError {
    #[error("{kind} {name} not found")]
    NotFound { kind: &'static str, name: String },
    #[error("{kind} {name} already exists")]
    Exists { kind: &'static str, name: String },
    #[error("{0}")]
    Refused(String),
    #[error(transparent)]
    Name(#[from] NameError),
    #[error(transparent)]
    Netconf(#[from] NetconfError),
    #[error(transparent)]
    Ipam(#[from] IpamError),
    #[error(transparent)]
    Ipam6(#[from] Ipam6Error),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error(transparent)]
    Datapath(#[from] DatapathError),
    #[error("cannot save state: {0}")]
    Store(#[from] StoreError),
}

impl ControllerError {
    pub fn not_found(kind: &'static str, name: &str) -> Self {
        Self::NotFound {
            kind,
            name: name.to_string(),
        }
    }
}

pub type Result<T, E = ControllerError> = std::result::Result<T, E>;
