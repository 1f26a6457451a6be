//! UDP: one socket on the mapping's IPv4 address; per client address a
//! session with its own socket connected to the container's IPv6
//! address, so the container's answers find their client. A session ends
//! after [`IDLE`] without a datagram either way (as conntrack's UDP).

use std::{
    collections::HashMap,
    io,
    net::{SocketAddr, SocketAddrV4, SocketAddrV6},
    sync::Arc,
    time::Duration,
};

use tokio::{
    net::UdpSocket,
    sync::{mpsc, watch},
    task::{AbortHandle, JoinSet},
};

/// A session's idle timeout.
pub const IDLE: Duration = Duration::from_secs(30);
/// Sessions at once; datagrams of further clients are dropped until one
/// ends.
const MAX_SESSIONS: usize = 4096;
/// Datagrams queued towards the container per session.
const QUEUE: usize = 256;

/// Binds `listen` and serves it in a task of the current runtime.
pub fn spawn(
    listen: SocketAddrV4,
    target: watch::Receiver<SocketAddrV6>,
) -> io::Result<AbortHandle> {
    let socket = std::net::UdpSocket::bind(listen)?;
    socket.set_nonblocking(true)?;
    let socket = Arc::new(UdpSocket::from_std(socket)?);
    Ok(tokio::spawn(serve(socket, target)).abort_handle())
}

/// Receives until aborted; the sessions are tasks of a set dropped (so
/// aborted) with this one.
async fn serve(socket: Arc<UdpSocket>, target: watch::Receiver<SocketAddrV6>) {
    let mut sessions: HashMap<SocketAddr, mpsc::Sender<Vec<u8>>> = HashMap::new();
    let mut tasks = JoinSet::new();
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            got = socket.recv_from(&mut buf) => {
                let (n, client) = match got {
                    Ok(got) => got,
                    Err(e) => {
                        log::debug!("relay: UDP receive failed: {e}");
                        continue;
                    }
                };
                let mut datagram = buf[..n].to_vec();
                if let Some(queue) = sessions.get(&client) {
                    match queue.try_send(datagram) {
                        // Full: dropped, as a full socket buffer would.
                        Ok(()) | Err(mpsc::error::TrySendError::Full(_)) => continue,
                        Err(mpsc::error::TrySendError::Closed(back)) => {
                            sessions.remove(&client);
                            datagram = back;
                        }
                    }
                }
                if sessions.len() >= MAX_SESSIONS {
                    continue;
                }
                let to = *target.borrow();
                match open(to).await {
                    Ok(upstream) => {
                        let (queue, datagrams) = mpsc::channel(QUEUE);
                        let _ = queue.try_send(datagram);
                        sessions.insert(client, queue);
                        tasks.spawn(session(socket.clone(), upstream, client, datagrams));
                    }
                    Err(e) => log::debug!("relay: UDP {client} -> {to}: {e}"),
                }
            }
            Some(ended) = tasks.join_next(), if !tasks.is_empty() => {
                if let Ok(client) = ended
                    && sessions.get(&client).is_some_and(|q| q.is_closed())
                {
                    sessions.remove(&client);
                }
            }
        }
    }
}

/// A socket of its own towards `to`.
async fn open(to: SocketAddrV6) -> io::Result<UdpSocket> {
    let socket = UdpSocket::bind(SocketAddr::from((std::net::Ipv6Addr::UNSPECIFIED, 0))).await?;
    socket.connect(to).await?;
    Ok(socket)
}

/// Carries one client's datagrams both ways until [`IDLE`] passes without
/// one; returns the client.
async fn session(
    socket: Arc<UdpSocket>,
    upstream: UdpSocket,
    client: SocketAddr,
    mut datagrams: mpsc::Receiver<Vec<u8>>,
) -> SocketAddr {
    let mut buf = vec![0u8; 65536];
    loop {
        tokio::select! {
            datagram = datagrams.recv() => match datagram {
                Some(d) => {
                    if let Err(e) = upstream.send(&d).await {
                        log::debug!("relay: UDP {client} -> container: {e}");
                    }
                }
                None => break,
            },
            answer = upstream.recv(&mut buf) => match answer {
                Ok(n) => {
                    if let Err(e) = socket.send_to(&buf[..n], client).await {
                        log::debug!("relay: UDP answer to {client}: {e}");
                    }
                }
                // An ICMP error for an earlier datagram (nothing listens
                // in the container): the next datagram tries again.
                Err(e) => log::debug!("relay: UDP from the container for {client}: {e}"),
            },
            () = tokio::time::sleep(IDLE) => break,
        }
    }
    client
}
