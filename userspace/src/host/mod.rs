//! The host's network: namespaces, links, addresses and routes over netlink.

pub mod netlink;
pub mod netns;

use thiserror::Error;

#[derive(Debug, Error)]
pub enum HostError {
    #[error("netlink: cannot {action}: {source}")]
    Netlink {
        action: String,
        source: rtnetlink::Error,
    },
    #[error("cannot {action}: {source}")]
    Io {
        action: String,
        source: std::io::Error,
    },
    #[error("cannot {action}: {source}")]
    Sys { action: String, source: nix::Error },
    #[error("network namespace {0} already exists")]
    NetnsExists(String),
    #[error("interface {0} not found")]
    NoSuchLink(String),
    #[error("netns worker thread for {0} died")]
    WorkerDied(String),
}

impl HostError {
    pub fn netlink(action: impl Into<String>) -> impl FnOnce(rtnetlink::Error) -> Self {
        let action = action.into();
        move |source| HostError::Netlink { action, source }
    }

    pub fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| HostError::Io { action, source }
    }

    pub fn sys(action: impl Into<String>) -> impl FnOnce(nix::Error) -> Self {
        let action = action.into();
        move |source| HostError::Sys { action, source }
    }
}
