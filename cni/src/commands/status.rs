//! STATUS: whether ADD can be served now: the daemon answers and has the
//! configured network. Containers attached already keep their traffic while
//! the daemon is down (the datapath stays pinned), so the code is 50.

use ebpfnet::api::request::Status;

use super::require_network;
use crate::{
    config::NetConf,
    daemon::Daemon,
    error::{CniError, code},
};

pub async fn run(conf: &NetConf, daemon: &Daemon) -> Result<(), CniError> {
    let not_available = |e: CniError| {
        CniError::new(
            code::NOT_AVAILABLE,
            "the ebpfnet plugin is not available",
            e.to_string(),
        )
    };
    daemon
        .call(Status)
        .await
        .map_err(|e| not_available(e.into()))?;
    require_network(daemon, conf.network())
        .await
        .map_err(not_available)
}
