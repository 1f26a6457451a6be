//! Reaching the ebpfnet daemon as the CLI does, with the answers a runtime
//! can act on: a daemon that does not answer is "try again later".

use std::{
    path::{Path, PathBuf},
    time::Duration,
};

use ebpfnet::{
    api::{Call, DEFAULT_SOCKET},
    client::{Client, ClientError},
};

use crate::error::{CniError, code};

/// How long one request may take before the daemon counts as not answering.
const CALL_TIMEOUT: Duration = Duration::from_secs(60);

pub struct Daemon {
    client: Client,
    socket: PathBuf,
}

/// Why a request got no answer.
#[derive(Debug)]
pub enum CallError {
    /// The daemon refused; its message says why.
    Refused(String),
    /// No answer at all, or one this plugin cannot read.
    Failed(CniError),
}

impl From<CallError> for CniError {
    fn from(e: CallError) -> Self {
        match e {
            CallError::Refused(message) => CniError::new(
                code::DAEMON_REFUSED,
                "the ebpfnet daemon refused the request",
                message,
            ),
            CallError::Failed(e) => e,
        }
    }
}

impl Daemon {
    /// `EBPFNET_SOCKET`, else the configuration's `socket`, else the default.
    pub fn locate(env_socket: Option<PathBuf>, conf_socket: Option<&Path>) -> Self {
        let socket = env_socket
            .or_else(|| conf_socket.map(Path::to_path_buf))
            .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET));
        Self {
            client: Client::new(&socket),
            socket,
        }
    }

    pub async fn call<C: Call>(&self, request: C) -> Result<C::Answer, CallError> {
        let later = |details: String| {
            CallError::Failed(CniError::new(
                code::TRY_AGAIN_LATER,
                "the ebpfnet daemon does not answer",
                details,
            ))
        };
        match tokio::time::timeout(CALL_TIMEOUT, self.client.call(request)).await {
            Err(_) => Err(later(format!(
                "no answer from {} within {CALL_TIMEOUT:?}",
                self.socket.display()
            ))),
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(ClientError::Refused(message))) => Err(CallError::Refused(message)),
            Ok(Err(e @ (ClientError::Unreachable { .. } | ClientError::Io { .. }))) => {
                Err(later(e.to_string()))
            }
            Ok(Err(e)) => Err(CallError::Failed(CniError::new(
                code::DAEMON_REFUSED,
                "cannot talk to the ebpfnet daemon",
                e.to_string(),
            ))),
        }
    }
}

/// Whether a refusal says the named object does not exist (the daemon's
/// `{kind} {name} not found`).
pub fn is_not_found(message: &str, kind: &str, name: &str) -> bool {
    message == format!("{kind} {name} not found")
}
