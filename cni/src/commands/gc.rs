//! GC: removes the containers this configuration made for attachments the
//! runtime no longer lists in `cni.dev/valid-attachments`.

use ebpfnet::api::request::ContainerList;

use super::{inspect_container, remove_container};
use crate::{
    attachment::attachment_of,
    config::NetConf,
    daemon::Daemon,
    error::{CniError, code},
};

pub async fn run(conf: &NetConf, daemon: &Daemon) -> Result<(), CniError> {
    let valid = conf.valid_attachments().ok_or_else(|| {
        CniError::invalid_config("GC needs cni.dev/valid-attachments in the configuration")
    })?;
    let mut failures = Vec::new();
    for summary in daemon.call(ContainerList).await? {
        // Gone since the listing: nothing to collect.
        let Some(view) = inspect_container(daemon, &summary.name).await? else {
            continue;
        };
        let Some(attachment) = attachment_of(&view, &conf.name) else {
            continue;
        };
        if valid.contains(&attachment) {
            continue;
        }
        if let Err(e) = remove_container(daemon, &view.name).await {
            failures.push(e.to_string());
        }
    }
    if failures.is_empty() {
        Ok(())
    } else {
        Err(CniError::new(
            code::DAEMON_REFUSED,
            "cannot remove every stale attachment",
            failures.join("; "),
        ))
    }
}
