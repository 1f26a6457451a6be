//! CNI error objects: `{"cniVersion","code","msg","details"}` on stdout.

use serde::Serialize;
use thiserror::Error;

/// The spec's well-known error codes (SPEC.md, "Error").
pub mod code {
    pub const INCOMPATIBLE_VERSION: u32 = 1;
    pub const INVALID_CONFIG: u32 = 4;
    pub const DECODE_FAILED: u32 = 5;
    pub const INVALID_ENV: u32 = 7;
    pub const TRY_AGAIN_LATER: u32 = 11;
    /// STATUS: the plugin cannot serve ADD now.
    pub const NOT_AVAILABLE: u32 = 50;
    /// Plugin-specific (100 and up): CHECK found the attachment differs
    /// from the result the runtime kept.
    pub const CHECK_FAILED: u32 = 100;
    /// Plugin-specific: the daemon refused or failed the request.
    pub const DAEMON_REFUSED: u32 = 101;
}

/// A failure of one command, as the runtime is told of it.
#[derive(Debug, Error)]
#[error("{msg}: {details}")]
pub struct CniError {
    pub code: u32,
    pub msg: String,
    pub details: String,
}

impl CniError {
    pub fn new(code: u32, msg: impl Into<String>, details: impl Into<String>) -> Self {
        Self {
            code,
            msg: msg.into(),
            details: details.into(),
        }
    }

    pub fn invalid_config(details: impl Into<String>) -> Self {
        Self::new(
            code::INVALID_CONFIG,
            "invalid network configuration",
            details,
        )
    }

    pub fn invalid_env(details: impl Into<String>) -> Self {
        Self::new(code::INVALID_ENV, "invalid environment variables", details)
    }
}

/// The error object printed on stdout.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ErrorObject<'a> {
    pub cni_version: &'a str,
    pub code: u32,
    pub msg: &'a str,
    #[serde(skip_serializing_if = "str::is_empty")]
    pub details: &'a str,
}

impl CniError {
    pub fn object<'a>(&'a self, cni_version: &'a str) -> ErrorObject<'a> {
        ErrorObject {
            cni_version,
            code: self.code,
            msg: &self.msg,
            details: &self.details,
        }
    }
}
