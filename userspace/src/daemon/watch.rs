//! Reacting to the host's links and addresses as they change, from
//! rtnetlink notifications (`RTNLGRP_LINK`, `RTNLGRP_IPV4_IFADDR`,
//! `RTNLGRP_IPV6_IFADDR` for the uplinks' NAT66 addresses), not a poll: an uplink deleted and made again under its name is protected and
//! serves published ports again at once, and a new host address is in
//! `HOST_ADDRS` at once.

use std::sync::Arc;

use anyhow::Context as _;
use futures::{FutureExt as _, StreamExt as _};
use rtnetlink::{
    MulticastGroup,
    packet_core::{NetlinkMessage, NetlinkPayload},
    packet_route::{
        AddressFamily, RouteNetlinkMessage,
        link::{LinkAttribute, LinkMessage},
    },
};
use tokio::{sync::Mutex, task::JoinHandle};

use crate::controller::Controller;

/// Subscribes to link and IPv4 address notifications and spawns the task
/// that brings the datapath in line after each burst of them. Once
/// subscribed, it resyncs once, so a change made between the daemon's start
/// and the subscription is not missed.
pub fn spawn(controller: Arc<Mutex<Controller>>) -> anyhow::Result<JoinHandle<()>> {
    let (connection, _handle, mut notifications) = rtnetlink::new_multicast_connection(&[
        MulticastGroup::Link,
        MulticastGroup::Ipv4Ifaddr,
        MulticastGroup::Ipv6Ifaddr,
    ])
    .context("cannot subscribe to netlink link and address notifications")?;
    let connection = tokio::spawn(connection);
    Ok(tokio::spawn(async move {
        let uplinks = controller.lock().await.uplink_names();
        resync(&controller).await;
        while let Some((first, _)) = notifications.next().await {
            let mut relevant = matters(&first, &uplinks);
            // Take what is already queued too: an interface made with its
            // addresses is one resync, not one per message.
            while let Some(Some((next, _))) = notifications.next().now_or_never() {
                relevant |= matters(&next, &uplinks);
            }
            if relevant {
                resync(&controller).await;
            }
        }
        log::warn!(
            "netlink notifications ended; host changes are now seen by the safety poll only"
        );
        connection.abort();
    }))
}

async fn resync(controller: &Mutex<Controller>) {
    let mut controller = controller.lock().await;
    if let Err(e) = controller.refresh_host().await {
        log::warn!("cannot follow a host link or address change: {e}");
    }
    // A veth that went with its namespace: was it an adopted one's?
    super::drop_vanished(&mut controller).await;
}

/// Whether a notification can change what the datapath needs: any IPv4
/// address (`HOST_ADDRS` holds them all), a link named as an uplink, or
/// lost notifications (the socket overran).
fn matters(message: &NetlinkMessage<RouteNetlinkMessage>, uplinks: &[String]) -> bool {
    match &message.payload {
        NetlinkPayload::InnerMessage(inner) => match inner {
            RouteNetlinkMessage::NewAddress(a) | RouteNetlinkMessage::DelAddress(a) => {
                a.header.family == AddressFamily::Inet
                    || (a.header.family == AddressFamily::Inet6 && !is_link_local6(a))
            }
            RouteNetlinkMessage::NewLink(link) => {
                link_name(link).is_some_and(|name| uplinks.iter().any(|u| u == name))
            }
            // Any deleted link: an uplink, or the veth of a namespace that
            // went away (an adopted one, a Docker sandbox).
            RouteNetlinkMessage::DelLink(_) => true,
            _ => false,
        },
        NetlinkPayload::Overrun(_) | NetlinkPayload::Error(_) => true,
        _ => false,
    }
}

fn link_name(link: &LinkMessage) -> Option<&str> {
    link.attributes.iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name.as_str()),
        _ => None,
    })
}

/// An IPv6 address notification about a link-local address (every
/// interface that comes up gets one): nothing NAT66 uses.
fn is_link_local6(message: &rtnetlink::packet_route::address::AddressMessage) -> bool {
    use rtnetlink::packet_route::address::AddressAttribute;
    message.attributes.iter().any(|a| {
        matches!(a, AddressAttribute::Address(std::net::IpAddr::V6(ip)) if ip.is_unicast_link_local())
    })
}
