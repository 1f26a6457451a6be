//! The etcd v3 client ebpfnet uses: connection options, the key layout and
//! the errors, which name the store.

use std::{future::Future, time::Duration};

use etcd_client::{Client, ConnectOptions};
use thiserror::Error;

use super::endpoints::ClusterStore;

/// Every key ebpfnet writes lies under this prefix (layout version 1).
pub const PREFIX: &str = "/ebpfnet/v1/";
/// `nodes/<node-id>` → [`super::liveness::NodeRecord`], under the node's lease.
pub const NODES: &str = "/ebpfnet/v1/nodes/";
/// `networks/<name>` → [`super::networks::GlobalNetwork`], no lease.
pub const NETWORKS: &str = "/ebpfnet/v1/networks/";
/// `endpoints/<network>/<address>` → [`super::overlay::EndpointRecord`],
/// under the node's lease.
pub const ENDPOINTS: &str = "/ebpfnet/v1/endpoints/";
/// `ipam/<network>/<address>` → [`super::ipam::Claim`], no lease.
pub const IPAM: &str = "/ebpfnet/v1/ipam/";

/// How long one request to etcd may take before the store counts as
/// unreachable.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(3);

#[derive(Debug, Error)]
pub enum StoreError {
    /// etcd did not answer (down, unreachable, or too slow).
    #[error("cluster store {store} is unreachable: {reason}")]
    Unreachable { store: String, reason: String },
    /// etcd answered with a value ebpfnet cannot read.
    #[error("cluster store {store}: key {key} holds an unreadable value: {reason}")]
    BadValue {
        store: String,
        key: String,
        reason: String,
    },
    /// No address for a container: reserved, taken or none left.
    #[error(transparent)]
    Ipam(#[from] crate::ipam::IpamError),
    /// No IPv6 address for a container, for the same reasons.
    #[error(transparent)]
    Ipam6(#[from] crate::ipam6::Ipam6Error),
    /// A refusal that is not the store's fault (name taken, no address left).
    #[error("{0}")]
    Refused(String),
}

/// A client of one store, with the store's name for error messages.
#[derive(Clone)]
pub struct Store {
    pub name: ClusterStore,
    pub client: Client,
}

impl Store {
    /// Makes the client; it connects lazily, so this succeeds even while
    /// etcd is down (requests fail until it is back).
    pub async fn connect(name: &ClusterStore) -> Result<Store, StoreError> {
        let options = ConnectOptions::new()
            .with_connect_timeout(Duration::from_secs(2))
            .with_timeout(REQUEST_TIMEOUT)
            .with_keep_alive(Duration::from_secs(2), Duration::from_secs(2))
            .with_keep_alive_while_idle(true);
        let client = Client::connect(name.urls(), Some(options))
            .await
            .map_err(|e| StoreError::Unreachable {
                store: name.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Store {
            name: name.clone(),
            client,
        })
    }

    /// The error for a failed request.
    pub fn unreachable(&self, error: impl std::fmt::Display) -> StoreError {
        StoreError::Unreachable {
            store: self.name.to_string(),
            reason: error.to_string(),
        }
    }

    /// Runs one request with [`REQUEST_TIMEOUT`].
    pub async fn request<T, F>(&self, request: F) -> Result<T, StoreError>
    where
        F: Future<Output = Result<T, etcd_client::Error>>,
    {
        match tokio::time::timeout(REQUEST_TIMEOUT, request).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => Err(self.unreachable(short(&e))),
            Err(_) => {
                Err(self.unreachable(format!("no answer within {} s", REQUEST_TIMEOUT.as_secs())))
            }
        }
    }

    /// The error for a broken stream.
    pub fn broken(&self, error: &etcd_client::Error) -> StoreError {
        self.unreachable(short(error))
    }

    pub fn bad_value(&self, key: &[u8], reason: impl std::fmt::Display) -> StoreError {
        StoreError::BadValue {
            store: self.name.to_string(),
            key: String::from_utf8_lossy(key).into_owned(),
            reason: reason.to_string(),
        }
    }
}

/// gRPC errors print their whole chain in Debug form; users get the
/// status message and the root cause ("tcp connect error: Connection
/// refused (os error 111)").
pub fn short(error: &etcd_client::Error) -> String {
    use std::error::Error as _;
    fn deepest<'a>(
        mut error: &'a (dyn std::error::Error + 'static),
    ) -> &'a (dyn std::error::Error + 'static) {
        while let Some(source) = error.source() {
            error = source;
        }
        error
    }
    match error {
        etcd_client::Error::GRpcStatus(status) => {
            let message = match status.message() {
                "" => status.code().description().to_string(),
                message => message.to_string(),
            };
            match status.source() {
                Some(source) => format!("{message}: {}", deepest(source)),
                None => message,
            }
        }
        etcd_client::Error::TransportError(e) => format!("{e}: {}", deepest(e)),
        other => other.to_string(),
    }
}
