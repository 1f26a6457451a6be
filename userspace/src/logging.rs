//! Logs through `tracing`: one line per event on stderr, as text or JSON.
//!
//! Records of the `log` crate (the older call sites, and libraries) are
//! bridged into the same subscriber, so every line has one format. The
//! level filter comes from `RUST_LOG` (default `info`).

use std::io::IsTerminal as _;

use serde::Deserialize;
use thiserror::Error;
use tracing_subscriber::EnvFilter;

/// How the log lines look (`--log-format`, `"log-format"`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Lines for people: time, level, source, message, `key=value` fields.
    #[default]
    Text,
    /// One JSON object a line: timestamp, level, target, and fields (the
    /// message and the event's own fields).
    Json,
}

#[derive(Debug, Error)]
#[error("cannot set up logging: {0}")]
pub struct LoggingError(String);

/// Installs the process-wide subscriber (and the `log` bridge). Call once,
/// before the first event worth keeping.
pub fn init(format: LogFormat) -> Result<(), LoggingError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let installed = match format {
        LogFormat::Text => builder.try_init(),
        LogFormat::Json => builder.json().try_init(),
    };
    installed.map_err(|e| LoggingError(e.to_string()))
}
