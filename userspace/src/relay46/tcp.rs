//! TCP: accept on the mapping's IPv4 address, connect to the container's
//! IPv6 address, copy both ways; each side's end of stream is passed on
//! as a shutdown of the other's writing side (half-close), and the
//! connection ends when both directions have.

use std::{
    io,
    net::{SocketAddr, SocketAddrV4, SocketAddrV6},
    time::Duration,
};

use tokio::{
    net::{TcpListener, TcpStream},
    sync::watch,
    task::{AbortHandle, JoinSet},
};

/// How long a connection to the container may take before the client's
/// is closed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// Binds `listen` and serves it in a task of the current runtime.
pub fn spawn(
    listen: SocketAddrV4,
    target: watch::Receiver<SocketAddrV6>,
) -> io::Result<AbortHandle> {
    // std's bind sets SO_REUSEADDR, so the connections of a relay before a
    // daemon restart, in TIME_WAIT, do not keep the port.
    let listener = std::net::TcpListener::bind(listen)?;
    listener.set_nonblocking(true)?;
    let listener = TcpListener::from_std(listener)?;
    Ok(tokio::spawn(serve(listener, target)).abort_handle())
}

/// Accepts until aborted; the connections are tasks of a set dropped (so
/// aborted) with this one.
async fn serve(listener: TcpListener, target: watch::Receiver<SocketAddrV6>) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((client, peer)) => {
                    let to = *target.borrow();
                    connections.spawn(relay(client, peer, to));
                }
                Err(e) => {
                    // Out of descriptors and the like: wait, do not spin.
                    log::warn!("relay: cannot accept a connection: {e}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn relay(mut client: TcpStream, peer: SocketAddr, to: SocketAddrV6) {
    let mut upstream = match tokio::time::timeout(CONNECT_TIMEOUT, TcpStream::connect(to)).await {
        Ok(Ok(upstream)) => upstream,
        Ok(Err(e)) => {
            log::debug!("relay: {peer} -> {to}: {e}");
            return;
        }
        Err(_) => {
            log::debug!("relay: {peer} -> {to}: no answer in {CONNECT_TIMEOUT:?}");
            return;
        }
    };
    let _ = client.set_nodelay(true);
    let _ = upstream.set_nodelay(true);
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut upstream).await {
        log::debug!("relay: {peer} -> {to}: {e}");
    }
}
