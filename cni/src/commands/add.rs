//! ADD: a container adopting the runtime's namespace, with the interface
//! named as the runtime asks; nothing is left behind when a step fails.

use ebpfnet::api::{request::ContainerCreate, views::ContainerView};

use super::{inspect_container, remove_container, require_network};
use crate::{
    attachment::{self, container_name},
    config::{ARG_POD_NAME, Attachment, CniEnv, NetConf},
    daemon::Daemon,
    error::{CniError, code},
    result::{self, CniResult},
};

pub async fn run(conf: &NetConf, env: &CniEnv, daemon: &Daemon) -> Result<CniResult, CniError> {
    let attachment = Attachment {
        container_id: env.container_id()?.to_string(),
        ifname: env.ifname()?.to_string(),
    };
    let netns = env.netns()?;
    let pod_name = env.arg(ARG_POD_NAME);
    let options = attachment::create_options(conf, &attachment, netns, pod_name)?;
    require_network(daemon, conf.network()).await?;
    let name = container_name(&attachment.container_id);
    if let Some(existing) = inspect_container(daemon, &name).await? {
        return Err(second_attachment(&existing, &name, &attachment));
    }
    daemon
        .call(ContainerCreate {
            name: name.clone(),
            options,
        })
        .await?;
    let made = async {
        let view = inspect_container(daemon, &name).await?.ok_or_else(|| {
            CniError::new(
                code::DAEMON_REFUSED,
                "the container vanished right after it was made",
                name.clone(),
            )
        })?;
        // A daemon from before `ifname`/`labels` ignores them (the request
        // format is otherwise unchanged): refuse what it made.
        if attachment::attachment_of(&view, &conf.name).as_ref() != Some(&attachment) {
            return Err(CniError::new(
                code::DAEMON_REFUSED,
                "the ebpfnet daemon is older than this plugin",
                format!(
                    "it ignored the interface name and labels of container {name}; \
                     run the daemon of the same ebpfnet release"
                ),
            ));
        }
        result::build(
            &conf.cni_version,
            &view,
            conf.network(),
            netns,
            attachment::runtime_dns(conf),
        )
    };
    match made.await {
        Ok(result) => Ok(result),
        Err(e) => {
            if let Err(undo) = remove_container(daemon, &name).await {
                eprintln!("ebpfnet-cni: cannot remove {name} after a failed ADD: {undo}");
            }
            Err(e)
        }
    }
}

/// The error for an ADD whose container already has an attachment (or
/// whose name an ebpfnet container already has): one attachment per
/// container, so a second network (another `CNI_IFNAME`) is refused.
fn second_attachment(existing: &ContainerView, name: &str, attachment: &Attachment) -> CniError {
    let labels = &existing.config.labels;
    let details = match (
        labels.get(attachment::LABEL_CONTAINER_ID),
        labels.get(attachment::LABEL_IFNAME),
        labels.get(attachment::LABEL_CONFIG),
    ) {
        (Some(id), Some(ifname), Some(config)) if *id == attachment.container_id => format!(
            "container {id} is already attached as {ifname} by configuration {config}; \
             ebpfnet-cni attaches a container to one network only"
        ),
        _ => format!("ebpfnet already has a container named {name} that this plugin did not make"),
    };
    CniError::new(
        code::DAEMON_REFUSED,
        format!(
            "cannot attach {} as {}",
            attachment.container_id, attachment.ifname
        ),
        details,
    )
}
