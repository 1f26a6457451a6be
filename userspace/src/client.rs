//! The CLI side of the daemon protocol: one request line, one answer
//! line, over the daemon's Unix socket or (remote control) a mutual-TLS
//! connection to `tcp://HOST:PORT`.

use std::path::{Path, PathBuf};

use rustls_pki_types::ServerName;
use thiserror::Error;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncRead, AsyncWrite, AsyncWriteExt as _, BufReader},
    net::{TcpStream, UnixStream},
};
use tokio_rustls::TlsConnector;

use crate::{
    api::{Call, RequestEnvelope, ResponseEnvelope, ResponseError},
    remote::{self, DaemonAddress, TlsError, TlsFiles},
};

#[derive(Debug, Error)]
pub enum ClientError {
    #[error(
        "cannot reach the ebpfnet daemon at {daemon}: {source}; start one with `ebpfnet daemon` (as root)"
    )]
    Unreachable {
        daemon: String,
        source: std::io::Error,
    },
    #[error(
        "the ebpfnet daemon at {daemon} refused this client's TLS connection or its certificate: {source}"
    )]
    Handshake {
        daemon: String,
        source: std::io::Error,
    },
    #[error("lost the connection to the daemon at {daemon}: {source}")]
    Io {
        daemon: String,
        source: std::io::Error,
    },
    #[error("the daemon sent an answer this CLI does not understand: {0}")]
    Protocol(String),
    /// The CLI and the daemon speak different protocol versions.
    #[error("{source} (daemon at {daemon})")]
    VersionMismatch {
        daemon: String,
        source: ResponseError,
    },
    /// The daemon refused the request; its message says why.
    #[error("{0}")]
    Refused(String),
}

/// How the CLI reaches the daemon.
enum Transport {
    Unix(PathBuf),
    Tls {
        host: String,
        port: u16,
        name: ServerName<'static>,
        connector: TlsConnector,
    },
}

pub struct Client {
    transport: Transport,
}

impl Client {
    /// A client of the daemon listening on the Unix socket `socket`.
    pub fn new(socket: &Path) -> Self {
        Self {
            transport: Transport::Unix(socket.to_path_buf()),
        }
    }

    /// A client of the daemon at `address`; `tcp://` only with `tls` (the
    /// CA, and this client's certificate and key).
    pub fn at(address: &DaemonAddress, tls: Option<&TlsFiles>) -> Result<Self, RemoteSetupError> {
        let transport = match (address, tls) {
            (DaemonAddress::Unix(path), _) => Transport::Unix(path.clone()),
            (DaemonAddress::Tcp { host, port }, Some(files)) => Transport::Tls {
                host: host.clone(),
                port: *port,
                name: remote::server_name(host)?,
                connector: remote::connector(files)?,
            },
            (DaemonAddress::Tcp { .. }, None) => {
                return Err(RemoteSetupError::NoTls(address.to_string()));
            }
        };
        Ok(Self { transport })
    }

    /// Where the daemon is, as the user would name it.
    fn daemon(&self) -> String {
        match &self.transport {
            Transport::Unix(path) => path.display().to_string(),
            Transport::Tls { host, port, .. } => DaemonAddress::Tcp {
                host: host.clone(),
                port: *port,
            }
            .to_string(),
        }
    }

    /// Sends one request and reads the daemon's answer to it.
    pub async fn call<C: Call>(&self, request: C) -> Result<C::Answer, ClientError> {
        let line = RequestEnvelope::new(request)
            .encode()
            .map_err(|e| ClientError::Protocol(format!("cannot encode the request: {e}")))?;
        let answer = self.exchange(line).await?;
        ResponseEnvelope::<C::Answer>::decode(&answer).map_err(|e| match e {
            ResponseError::Refused(message) => ClientError::Refused(message),
            ResponseError::Malformed(e) => ClientError::Protocol(e.to_string()),
            mismatch @ ResponseError::VersionMismatch { .. } => ClientError::VersionMismatch {
                daemon: self.daemon(),
                source: mismatch,
            },
        })
    }

    /// Sends a request line and returns the response line.
    async fn exchange(&self, line: String) -> Result<String, ClientError> {
        let unreachable = |source| ClientError::Unreachable {
            daemon: self.daemon(),
            source,
        };
        match &self.transport {
            Transport::Unix(path) => {
                let stream = UnixStream::connect(path).await.map_err(unreachable)?;
                self.talk(stream, line).await
            }
            Transport::Tls {
                host,
                port,
                name,
                connector,
            } => {
                let tcp = TcpStream::connect((host.as_str(), *port))
                    .await
                    .map_err(unreachable)?;
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|source| ClientError::Handshake {
                        daemon: self.daemon(),
                        source,
                    })?;
                self.talk(stream, line).await
            }
        }
    }

    async fn talk<S: AsyncRead + AsyncWrite>(
        &self,
        stream: S,
        mut line: String,
    ) -> Result<String, ClientError> {
        let io = |source| ClientError::Io {
            daemon: self.daemon(),
            source,
        };
        let (read, mut write) = tokio::io::split(stream);
        line.push('\n');
        write.write_all(line.as_bytes()).await.map_err(io)?;
        write.flush().await.map_err(io)?;
        let mut answer = String::new();
        BufReader::new(read)
            .read_line(&mut answer)
            .await
            .map_err(io)?;
        if answer.is_empty() {
            return Err(ClientError::Protocol(
                "the daemon closed the connection without answering".into(),
            ));
        }
        Ok(answer)
    }
}

/// Why a client of a remote daemon cannot be made.
#[derive(Debug, Error)]
pub enum RemoteSetupError {
    #[error(
        "{0} needs mutual TLS: give --tlscacert, --tlscert and --tlskey, or EBPFNET_CERT_PATH (a directory with ca.pem, cert.pem and key.pem)"
    )]
    NoTls(String),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

#[cfg(test)]
mod tests {
    use tokio::net::UnixListener;

    use super::*;
    use crate::api::request::{Flows, NetworkCreate};

    /// Runs `call` against a stand-in daemon that answers one connection
    /// with `answer`; returns what the call gave and the request line the
    /// stand-in received.
    async fn against_daemon<T>(
        test: &str,
        answer: &'static str,
        call: impl AsyncFnOnce(Client) -> T,
    ) -> (T, String) {
        let dir =
            std::env::temp_dir().join(format!("ebpfnet-client-{test}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let socket = dir.join("daemon.sock");
        let listener = UnixListener::bind(&socket).expect("bind");
        let daemon = tokio::spawn(async move {
            let (stream, _) = listener.accept().await.expect("accept");
            let (read, mut write) = stream.into_split();
            let mut request = String::new();
            BufReader::new(read)
                .read_line(&mut request)
                .await
                .expect("request");
            write
                .write_all(format!("{answer}\n").as_bytes())
                .await
                .expect("answer");
            request
        });
        let result = call(Client::new(&socket)).await;
        let request = daemon.await.expect("stand-in daemon");
        let _ = std::fs::remove_dir_all(&dir);
        (result, request)
    }

    #[tokio::test]
    async fn sends_a_versioned_request_and_reads_the_typed_answer() {
        let (result, request) = against_daemon(
            "typed",
            r#"{"api_version":2,"ok":"3f9c"}"#,
            async |client| {
                client
                    .call(NetworkCreate {
                        name: "front".into(),
                        subnet: None,
                        gateway: None,
                        internal: false,
                        driver: None,
                        options: Default::default(),
                        ipv6: Default::default(),
                    })
                    .await
            },
        )
        .await;
        assert_eq!(result.expect("answer"), "3f9c");
        assert!(
            request
                .starts_with(r#"{"api_version":2,"request":{"op":"network_create","name":"front""#),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_daemon_of_another_version_is_refused_with_both_versions() {
        let (result, _) = against_daemon("newer", r#"{"api_version":3,"ok":[]}"#, async |c| {
            c.call(Flows).await
        })
        .await;
        let err = result.expect_err("version 3");
        assert!(
            matches!(err, ClientError::VersionMismatch { .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("API version mismatch: this ebpfnet CLI speaks version 2")
                && message.contains("the daemon speaks version 3")
                && message.contains("daemon.sock"),
            "{message}"
        );
    }

    #[tokio::test]
    async fn a_daemon_from_before_versioning_is_named_as_such() {
        let (result, _) =
            against_daemon("unversioned", r#"{"ok":[]}"#, async |c| c.call(Flows).await).await;
        let err = result.expect_err("unversioned");
        assert!(err.to_string().contains("older than versioning"), "{err}");
    }

    #[tokio::test]
    async fn a_refusal_is_the_daemons_message_alone() {
        let (result, _) = against_daemon(
            "refused",
            r#"{"api_version":2,"error":"network front not found"}"#,
            async |c| c.call(Flows).await,
        )
        .await;
        let err = result.expect_err("refused");
        assert!(matches!(err, ClientError::Refused(_)), "{err:?}");
        assert_eq!(err.to_string(), "network front not found");
    }
}
