//! Traffic runs: the load generator's clients in the variants' namespaces.

use std::path::Path;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use super::http;
use super::topology::{Kind, in_ns};
use crate::cmd::output;
use crate::interrupt::check_interrupted;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Test {
    /// Outside -> published port, request/response on one connection.
    Rr,
    /// Outside -> nginx's published port, wrk's HTTP keep-alive requests on
    /// WRK_CONNECTIONS connections (http.rs).
    Http,
    /// Outside -> published port, a new connection per request.
    Crr,
    /// Outside -> published port, bulk throughput.
    Stream,
    /// Container -> outside through masquerade, a new connection each.
    MasqCrr,
}

impl Test {
    pub const ALL: [Test; 5] = [Test::Rr, Test::Http, Test::Crr, Test::Stream, Test::MasqCrr];

    pub fn name(self) -> &'static str {
        match self {
            Test::Rr => "rr",
            Test::Http => "http",
            Test::Crr => "crr",
            Test::Stream => "stream",
            Test::MasqCrr => "masq_crr",
        }
    }

    pub fn title(self) -> &'static str {
        match self {
            Test::Rr => "request/response (trans/s)",
            Test::Http => "HTTP keep-alive, wrk (req/s)",
            Test::Crr => "new connections (conn/s)",
            Test::Stream => "throughput (Gbit/s)",
            Test::MasqCrr => "masquerade new conn. (conn/s)",
        }
    }

    pub fn unit(self) -> &'static str {
        match self {
            Test::Rr => "trans/s",
            Test::Http => "req/s",
            Test::Crr | Test::MasqCrr => "conn/s",
            Test::Stream => "Gbit/s",
        }
    }
}

/// One client run's figures.
#[derive(Clone, Copy, Debug, Default)]
pub struct Sample {
    /// trans/s, conn/s or Gbit/s, as [`Test::unit`].
    pub value: f64,
    pub p50_us: f64,
    pub p90_us: f64,
    pub p99_us: f64,
    pub errors: u64,
}

/// Runs one client of `test` against `kind` for `seconds` (wrk for
/// [`Test::Http`]: whole seconds, at least 1).
pub fn run(loadgen: &Path, kind: Kind, test: Test, seconds: f64) -> Result<Sample> {
    check_interrupted()?;
    let (ns, target) = match test {
        Test::Http => return http::run_wrk(kind, seconds),
        Test::Rr | Test::Crr | Test::Stream => (kind.out_ns(), kind.inbound_target()),
        Test::MasqCrr => (kind.srv_ns(), kind.outbound_target()),
    };
    run_client(loadgen, &ns, test, &target, seconds)
}

/// Runs the load generator's client of `test` (not [`Test::Http`]) in
/// namespace `ns` against `target` for `seconds`.
pub fn run_client(
    loadgen: &Path,
    ns: &str,
    test: Test,
    target: &str,
    seconds: f64,
) -> Result<Sample> {
    check_interrupted()?;
    let mode = match test {
        Test::Rr => "rr",
        Test::Crr | Test::MasqCrr => "crr",
        Test::Stream => "stream",
        Test::Http => bail!("the load generator has no HTTP client (wrk runs `http`)"),
    };
    let duration = format!("{seconds}");
    let mut cmd = in_ns(ns, loadgen);
    cmd.args([
        mode,
        "--target",
        target,
        "--duration",
        &duration,
        "--size",
        "64",
    ]);
    let out = output(&mut cmd);
    check_interrupted()?;
    let out = out?;
    let json: Value = serde_json::from_str(out.trim())
        .with_context(|| format!("load generator printed {out:?}"))?;
    let get = |field: &str| json.get(field).and_then(Value::as_f64).unwrap_or(0.0);
    Ok(Sample {
        value: if test == Test::Stream {
            get("gbit_s")
        } else {
            get("rate")
        },
        p50_us: get("p50_us"),
        p90_us: get("p90_us"),
        p99_us: get("p99_us"),
        errors: json.get("errors").and_then(Value::as_u64).unwrap_or(0),
    })
}
