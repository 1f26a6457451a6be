//! The CLI side of the daemon protocol.

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use thiserror::Error;
use tokio::{
    io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader},
    net::UnixStream,
};

use crate::api::{Request, Response};

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

    /// Sends one request and decodes the daemon's answer into `T`.
    pub async fn call<T: DeserializeOwned>(&self, request: &Request) -> Result<T, ClientError> {
        let value = self.call_value(request).await?;
        serde_json::from_value(value).map_err(|e| ClientError::Protocol(e.to_string()))
    }

    pub async fn call_value(&self, request: &Request) -> Result<serde_json::Value, ClientError> {
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
        let mut line = serde_json::to_string(request).expect("requests serialize");
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
        match serde_json::from_str(&answer).map_err(|e| ClientError::Protocol(e.to_string()))? {
            Response::Ok(value) => Ok(value),
            Response::Error(message) => Err(ClientError::Refused(message)),
        }
    }
}
