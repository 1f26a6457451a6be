//! Response lines: the answer to a request, or why there is none.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use thiserror::Error;

use super::{API_VERSION, probe_version};

/// A response line: `{"api_version":1,"ok":ANSWER}` or
/// `{"api_version":1,"error":"why"}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ResponseEnvelope<T> {
    pub api_version: u32,
    #[serde(flatten)]
    pub outcome: Outcome<T>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome<T> {
    Ok(T),
    /// The daemon refused or failed; the message says why.
    Error(String),
}

impl<T: Serialize> ResponseEnvelope<T> {
    /// `outcome` in this build's version.
    pub fn new(outcome: Outcome<T>) -> Self {
        Self {
            api_version: API_VERSION,
            outcome,
        }
    }

    /// The line to send, without its newline.
    pub fn encode(&self) -> Result<String, serde_json::Error> {
        serde_json::to_string(self)
    }
}

impl<T: DeserializeOwned> ResponseEnvelope<T> {
    /// Reads the answer from a response line, refusing a line of another
    /// protocol version before looking at anything else in it.
    pub fn decode(line: &str) -> Result<T, ResponseError> {
        match probe_version(line).map_err(ResponseError::Malformed)? {
            Some(API_VERSION) => {}
            daemon => return Err(ResponseError::VersionMismatch { daemon }),
        }
        let envelope: Self = serde_json::from_str(line).map_err(ResponseError::Malformed)?;
        match envelope.outcome {
            Outcome::Ok(answer) => Ok(answer),
            Outcome::Error(message) => Err(ResponseError::Refused(message)),
        }
    }
}

/// The refusal sent to a CLI from before versioning, in the only response
/// shape it reads (`{"error":"…"}`), so it prints the reason.
pub fn unversioned_refusal(message: &str) -> Result<String, serde_json::Error> {
    #[derive(Serialize)]
    struct UnversionedError<'a> {
        error: &'a str,
    }
    serde_json::to_string(&UnversionedError { error: message })
}

/// Why a response line carries no answer.
#[derive(Debug, Error)]
pub enum ResponseError {
    #[error("the daemon sent an answer this CLI does not understand: {0}")]
    Malformed(#[source] serde_json::Error),
    /// `daemon` is `None` for a daemon from before versioning.
    #[error(
        "API version mismatch: this ebpfnet CLI speaks version {API_VERSION}, the daemon speaks {}; \
         use the ebpfnet binary that started the daemon",
        describe_version(*.daemon)
    )]
    VersionMismatch { daemon: Option<u32> },
    /// The daemon refused the request; its message says why.
    #[error("{0}")]
    Refused(String),
}

fn describe_version(version: Option<u32>) -> String {
    match version {
        Some(version) => format!("version {version}"),
        None => "no version (it is older than versioning)".into(),
    }
}

/// Result of commands that act on several names and go on past failures,
/// as Docker's `rm` does.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct BatchResult {
    pub done: Vec<String>,
    pub errors: Vec<String>,
}

impl BatchResult {
    pub fn record<E: std::fmt::Display>(&mut self, name: String, outcome: Result<(), E>) {
        match outcome {
            Ok(()) => self.done.push(name),
            Err(e) => self.errors.push(e.to_string()),
        }
    }
}
