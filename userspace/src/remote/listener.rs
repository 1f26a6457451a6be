//! The daemon's TCP listener: connections are served only after a TLS
//! handshake in which the client showed a certificate the CA signed.

use std::{io, net::SocketAddr, sync::Arc};

use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::{TlsAcceptor, server::TlsStream};

use super::tls::{TlsError, TlsFiles, server_config};

pub struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

#[derive(Debug, thiserror::Error)]
pub enum ListenError {
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on {address}: {source}")]
    Bind {
        address: SocketAddr,
        source: io::Error,
    },
}

impl TlsListener {
    pub async fn bind(address: SocketAddr, files: &TlsFiles) -> Result<Self, ListenError> {
        let acceptor = TlsAcceptor::from(server_config(files)?);
        let tcp = TcpListener::bind(address)
            .await
            .map_err(|source| ListenError::Bind { address, source })?;
        Ok(Self { tcp, acceptor })
    }

    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.tcp.local_addr()
    }

    /// The next TCP connection and the handshake to run on it (in a task
    /// of its own, so a slow client holds up nobody else).
    pub async fn accept(&self) -> io::Result<(Handshake, SocketAddr)> {
        let (stream, peer) = self.tcp.accept().await?;
        let handshake = Handshake {
            acceptor: self.acceptor.clone(),
            stream,
        };
        Ok((handshake, peer))
    }
}

pub struct Handshake {
    acceptor: TlsAcceptor,
    stream: TcpStream,
}

impl Handshake {
    /// The TLS stream, once the client proved who it is (a missing or
    /// foreign certificate fails here).
    pub async fn run(self) -> io::Result<TlsStream<TcpStream>> {
        self.acceptor.accept(self.stream).await
    }
}

/// The connector of a CLI that talks to `host`.
pub fn connector(files: &TlsFiles) -> Result<tokio_rustls::TlsConnector, TlsError> {
    Ok(tokio_rustls::TlsConnector::from(Arc::clone(
        &super::tls::client_config(files)?,
    )))
}
