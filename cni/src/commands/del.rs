//! DEL: removes the attachment's container (its veth, published ports and
//! addresses). Idempotent: a container the daemon does not know (never
//! made, removed before, or dropped with its vanished namespace) is gone
//! already.

use super::{inspect_container, remove_container};
use crate::{
    attachment::{attachment_of, container_name},
    config::{Attachment, CniEnv, NetConf},
    daemon::Daemon,
    error::CniError,
};

pub async fn run(conf: &NetConf, env: &CniEnv, daemon: &Daemon) -> Result<(), CniError> {
    let attachment = Attachment {
        container_id: env.container_id()?.to_string(),
        ifname: env.ifname()?.to_string(),
    };
    let name = container_name(&attachment.container_id);
    let Some(view) = inspect_container(daemon, &name).await? else {
        return Ok(());
    };
    if attachment_of(&view, &conf.name).as_ref() != Some(&attachment) {
        // A container of that name the plugin did not make for this
        // attachment (another configuration's, or the CLI's): not ours.
        return Ok(());
    }
    remove_container(daemon, &name).await
}
