//! One file per verb; each gets the parsed configuration, the environment
//! and the daemon, and returns what to print on success.

pub mod add;
pub mod check;
pub mod del;
pub mod gc;
pub mod status;

use ebpfnet::api::{
    request::{ContainerInspect, ContainerRemove, NetworkInspect},
    views::ContainerView,
};

use crate::{
    daemon::{CallError, Daemon, is_not_found},
    error::{CniError, code},
};

/// `container inspect NAME`; `None` when the daemon has no such container.
pub async fn inspect_container(
    daemon: &Daemon,
    name: &str,
) -> Result<Option<ContainerView>, CniError> {
    match daemon
        .call(ContainerInspect {
            names: vec![name.to_string()],
        })
        .await
    {
        Ok(mut views) => Ok(views.pop()),
        Err(CallError::Refused(message)) if is_not_found(&message, "container", name) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// Removes container `name`; one already gone counts as removed.
pub async fn remove_container(daemon: &Daemon, name: &str) -> Result<(), CniError> {
    let result = daemon
        .call(ContainerRemove {
            names: vec![name.to_string()],
        })
        .await?;
    let errors: Vec<String> = result
        .errors
        .into_iter()
        .filter(|e| !is_not_found(e, "container", name))
        .collect();
    if errors.is_empty() {
        Ok(())
    } else {
        Err(CniError::new(
            code::DAEMON_REFUSED,
            format!("cannot remove container {name}"),
            errors.join("; "),
        ))
    }
}

/// Refuses a network the daemon does not have, as invalid configuration.
pub async fn require_network(daemon: &Daemon, network: &str) -> Result<(), CniError> {
    match daemon
        .call(NetworkInspect {
            names: vec![network.to_string()],
        })
        .await
    {
        Ok(_) => Ok(()),
        Err(CallError::Refused(message)) if is_not_found(&message, "network", network) => {
            Err(CniError::invalid_config(format!(
                "ebpfnet has no network {network}; create it with `ebpfnet network create {network}`"
            )))
        }
        Err(e) => Err(e.into()),
    }
}
