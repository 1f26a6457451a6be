//! The CLI ⇄ daemon protocol, shared by both sides: one JSON request line,
//! one JSON response line, over the daemon's Unix socket.
//!
//! Every line is an envelope carrying [`API_VERSION`]:
//!
//! ```text
//! → {"api_version":1,"request":{"op":"network_create","name":"web","subnet":null,…}}
//! ← {"api_version":1,"ok":"3f9c…"}
//! ← {"api_version":1,"error":"network web already exists"}
//! ```
//!
//! The request object is the whole request line of ebpfnet before
//! versioning, unchanged. It is wrapped, not extended, so that such an old
//! daemon (which reads `op` at the top and ignores unknown keys) refuses a
//! versioned request instead of acting on it and then answering in a shape
//! the CLI refuses.
//!
//! Each request is a type implementing [`Call`], whose `Answer` is the type
//! the daemon sends back for it, so both sides compile against the same
//! answer and a renamed field is a compile error rather than an empty
//! column. This module knows nothing of the controller: the daemon builds
//! these types from its state, the CLI prints them.

pub mod observe;
pub mod request;
pub mod response;
pub mod views;

#[cfg(test)]
mod answer_tests;
#[cfg(test)]
mod tests;

use serde::{Deserialize, Serialize, de::DeserializeOwned};

pub use self::{
    request::{ContainerOptions, Request, RequestEnvelope, RequestError},
    response::{BatchResult, Outcome, ResponseEnvelope, ResponseError},
};

pub const DEFAULT_SOCKET: &str = "/run/ebpfnet/ebpfnet.sock";

/// The protocol version this build speaks. A CLI and a daemon talk only
/// when theirs are equal; bump it whenever a request or an answer changes
/// in a way the other side could misread. (ebpfnet before versioning sent
/// no version at all, and is told so.)
pub const API_VERSION: u32 = 2;

/// A request the daemon answers with a value of type `Answer`.
pub trait Call: Into<Request> {
    type Answer: Serialize + DeserializeOwned;
}

/// The version of a request or response line, read before the rest so that
/// a line from another version is refused for its version, not for some
/// field it happens to lack.
#[derive(Deserialize)]
struct VersionProbe {
    api_version: Option<u32>,
}

fn probe_version(line: &str) -> Result<Option<u32>, serde_json::Error> {
    serde_json::from_str::<VersionProbe>(line).map(|probe| probe.api_version)
}
