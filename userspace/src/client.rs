//! The CLI side of the daemon protocol.

use std::path::{Path, PathBuf};

use thiserror::Error;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::UnixStream,
};

use crate::api::{Call, RequestEnvelope, ResponseEnvelope, ResponseError};

#[derive(Debug, Error)]
pub enum ClientError {
    #[error(
        "cannot reach the ebpfnet daemon at {socket}: {source}; start one with `ebpfnet daemon` (as root)"
    )]
    Unreachable {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("lost the connection to the daemon at {socket}: {source}")]
    Io {
        socket: PathBuf,
        source: std::io::Error,
    },
    #[error("the daemon sent an answer this CLI does not understand: {0}")]
    Protocol(String),
    /// The CLI and the daemon speak different protocol versions.
    #[error("{source} (daemon at {socket})")]
    VersionMismatch {
        socket: PathBuf,
        source: ResponseError,
    },
    /// The daemon refused the request; its message says why.
    #[error("{0}")]
    Refused(String),
}

pub struct Client {
    socket: PathBuf,
}

impl Client {
    pub fn new(socket: &Path) -> Self {
        Self {
            socket: socket.to_path_buf(),
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
                socket: self.socket.clone(),
                source: mismatch,
            },
        })
    }

    /// Sends a request line and returns the response line.
    async fn exchange(&self, mut line: String) -> Result<String, ClientError> {
        let stream =
            UnixStream::connect(&self.socket)
                .await
                .map_err(|source| ClientError::Unreachable {
                    socket: self.socket.clone(),
                    source,
                })?;
        let io = |source| ClientError::Io {
            socket: self.socket.clone(),
            source,
        };
        let (read, mut write) = stream.into_split();
        line.push('\n');
        write.write_all(line.as_bytes()).await.map_err(io)?;
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
            r#"{"api_version":1,"ok":"3f9c"}"#,
            async |client| {
                client
                    .call(NetworkCreate {
                        name: "front".into(),
                        subnet: None,
                        gateway: None,
                        internal: false,
                        driver: None,
                        options: Default::default(),
                    })
                    .await
            },
        )
        .await;
        assert_eq!(result.expect("answer"), "3f9c");
        assert!(
            request
                .starts_with(r#"{"api_version":1,"request":{"op":"network_create","name":"front""#),
            "{request}"
        );
    }

    #[tokio::test]
    async fn a_daemon_of_another_version_is_refused_with_both_versions() {
        let (result, _) = against_daemon("newer", r#"{"api_version":2,"ok":[]}"#, async |c| {
            c.call(Flows).await
        })
        .await;
        let err = result.expect_err("version 2");
        assert!(
            matches!(err, ClientError::VersionMismatch { .. }),
            "{err:?}"
        );
        let message = err.to_string();
        assert!(
            message.contains("API version mismatch: this ebpfnet CLI speaks version 1")
                && message.contains("the daemon speaks version 2")
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
            r#"{"api_version":1,"error":"network front not found"}"#,
            async |c| c.call(Flows).await,
        )
        .await;
        let err = result.expect_err("refused");
        assert!(matches!(err, ClientError::Refused(_)), "{err:?}");
        assert_eq!(err.to_string(), "network front not found");
    }
}
