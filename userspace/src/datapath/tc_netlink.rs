//! The few rtnetlink requests of the netlink attach path that aya does not
//! offer: list the filters of a clsact hook, delete one filter, delete the
//! clsact qdisc. Synchronous (a plain netlink socket), as the rest of the
//! datapath.

use std::io;

use rtnetlink::{
    packet_core::{
        NLM_F_ACK, NLM_F_DUMP, NLM_F_REQUEST, NetlinkHeader, NetlinkMessage, NetlinkPayload,
    },
    packet_route::{
        RouteNetlinkMessage,
        tc::{TcAttribute, TcHandle, TcMessage},
    },
    sys::{Socket, SocketAddr, protocols::NETLINK_ROUTE},
};

/// `ETH_P_ALL`, the protocol aya's filters match (in network byte order in
/// `tcm_info`).
const ETH_P_ALL: u16 = 0x0003;

/// One filter on a clsact hook, as the kernel lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filter {
    pub priority: u16,
    pub handle: u32,
    pub kind: String,
}

/// The ingress or egress hook of the clsact qdisc.
fn hook(egress: bool) -> TcHandle {
    TcHandle {
        major: TcHandle::CLSACT.major,
        minor: if egress {
            TcHandle::MIN_EGRESS
        } else {
            TcHandle::MIN_INGRESS
        },
    }
}

/// Sends `message` and collects the answers until the dump ends or the
/// kernel acknowledges; a negative acknowledgement is the error.
fn request(message: RouteNetlinkMessage, flags: u16) -> io::Result<Vec<RouteNetlinkMessage>> {
    let mut socket = Socket::new(NETLINK_ROUTE)?;
    socket.bind_auto()?;
    socket.connect(&SocketAddr::new(0, 0))?;
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | flags;
    header.sequence_number = 1;
    let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
    packet.finalize();
    let mut buf = vec![0; packet.buffer_len()];
    packet.serialize(&mut buf);
    socket.send(&buf, 0)?;

    let mut answers = Vec::new();
    loop {
        let (bytes, _) = socket.recv_from_full()?;
        let mut offset = 0;
        while offset < bytes.len() {
            let answer = NetlinkMessage::<RouteNetlinkMessage>::deserialize(&bytes[offset..])
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e.to_string()))?;
            let length = answer.header.length as usize;
            match answer.payload {
                NetlinkPayload::Done(_) => return Ok(answers),
                NetlinkPayload::Error(error) => match error.code {
                    None => return Ok(answers),
                    Some(_) => return Err(error.to_io()),
                },
                NetlinkPayload::InnerMessage(inner) => answers.push(inner),
                _ => {}
            }
            if length == 0 {
                break;
            }
            offset += length;
        }
    }
}

fn tc_message(
    ifindex: u32,
    parent: TcHandle,
    handle: TcHandle,
    info: u32,
) -> io::Result<TcMessage> {
    let mut message = TcMessage::with_index(
        i32::try_from(ifindex)
            .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "ifindex out of range"))?,
    );
    message.header.parent = parent;
    message.header.handle = handle;
    message.header.info = info;
    Ok(message)
}

/// Every filter on the ingress or egress hook of the interface's clsact
/// qdisc (none when the interface or the qdisc is gone).
pub fn filters(ifindex: u32, egress: bool) -> io::Result<Vec<Filter>> {
    let message = tc_message(ifindex, hook(egress), TcHandle::UNSPEC, 0)?;
    let answers = request(RouteNetlinkMessage::GetTrafficFilter(message), NLM_F_DUMP)?;
    Ok(answers
        .into_iter()
        .filter_map(|answer| match answer {
            RouteNetlinkMessage::NewTrafficFilter(m) if m.header.index as u32 == ifindex => Some(m),
            _ => None,
        })
        // The kernel lists each priority once on its own (handle 0), then
        // its filters.
        .filter(|m| u32::from(m.header.handle) != 0)
        .map(|m| Filter {
            priority: (m.header.info >> 16) as u16,
            handle: m.header.handle.into(),
            kind: m
                .attributes
                .iter()
                .find_map(|a| match a {
                    TcAttribute::Kind(kind) => Some(kind.clone()),
                    _ => None,
                })
                .unwrap_or_default(),
        })
        .collect())
}

/// Deletes the bpf filter at (`priority`, `handle`) of the hook. `false`
/// when it was not there (nor the qdisc, nor the interface).
pub fn delete_filter(ifindex: u32, egress: bool, priority: u16, handle: u32) -> io::Result<bool> {
    let present = filters(ifindex, egress)?
        .iter()
        .any(|f| f.priority == priority && f.handle == handle && f.kind == "bpf");
    if !present {
        return Ok(false);
    }
    let info = (u32::from(priority) << 16) | u32::from(ETH_P_ALL.to_be());
    let mut message = tc_message(ifindex, hook(egress), TcHandle::from(handle), info)?;
    message.attributes.push(TcAttribute::Kind("bpf".into()));
    match request(RouteNetlinkMessage::DelTrafficFilter(message), NLM_F_ACK) {
        Ok(_) => Ok(true),
        // Gone in the meantime (the interface, say).
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENODEV)) => Ok(false),
        Err(e) => Err(e),
    }
}

/// Deletes the interface's clsact qdisc (and with it any filter left).
/// `false` when there was none.
pub fn delete_clsact(ifindex: u32) -> io::Result<bool> {
    let handle = TcHandle {
        major: TcHandle::CLSACT.major,
        minor: 0,
    };
    let message = tc_message(ifindex, TcHandle::CLSACT, handle, 0)?;
    match request(RouteNetlinkMessage::DelQueueDiscipline(message), NLM_F_ACK) {
        Ok(_) => Ok(true),
        Err(e)
            if matches!(
                e.raw_os_error(),
                Some(libc::ENOENT | libc::ENODEV | libc::EINVAL)
            ) =>
        {
            Ok(false)
        }
        Err(e) => Err(e),
    }
}
