//! `ebpfnet-cni`: the CNI plugin of ebpfnet (spec 1.0 and 1.1).
//!
//! A runtime (Podman, containerd, a kubelet's) runs it with `CNI_COMMAND`
//! and the other `CNI_*` variables set and the network configuration on
//! stdin; it asks the ebpfnet daemon to do the work through the typed API
//! and prints a result, or a CNI error object, on stdout.

mod attachment;
mod commands;
mod config;
mod daemon;
mod error;
mod result;

use std::{io::Read as _, process::ExitCode};

use serde_json::json;

use crate::{
    config::{CniEnv, Command, NetConf, SUPPORTED_VERSIONS},
    daemon::Daemon,
    error::{CniError, code},
};

fn main() -> ExitCode {
    let mut stdin = String::new();
    let outcome = match std::io::stdin().read_to_string(&mut stdin) {
        Ok(_) => run(&stdin),
        Err(e) => Err(CniError::new(
            code::DECODE_FAILED,
            "cannot read the network configuration from stdin",
            e.to_string(),
        )),
    };
    match outcome {
        Ok(Some(output)) => {
            println!("{output}");
            ExitCode::SUCCESS
        }
        Ok(None) => ExitCode::SUCCESS,
        Err(e) => {
            let version = config::version_of(&stdin);
            match serde_json::to_string(&e.object(&version)) {
                Ok(object) => println!("{object}"),
                Err(_) => println!(r#"{{"code":{},"msg":"{}"}}"#, e.code, e.msg),
            }
            eprintln!("ebpfnet-cni: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Runs the command the environment names; `Some(json)` to print.
fn run(stdin: &str) -> Result<Option<String>, CniError> {
    let command = Command::from_env(std::env::var("CNI_COMMAND").ok().as_deref())?;
    if command == Command::Version {
        return Ok(Some(version_answer(stdin)));
    }
    let conf = NetConf::parse(stdin)?;
    let env = CniEnv::from_vars(|name| std::env::var(name).ok());
    let daemon = Daemon::locate(
        std::env::var_os("EBPFNET_SOCKET")
            .filter(|s| !s.is_empty())
            .map(Into::into),
        conf.socket.as_deref(),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| {
            CniError::new(
                code::TRY_AGAIN_LATER,
                "cannot start a runtime",
                e.to_string(),
            )
        })?;
    runtime.block_on(async {
        match command {
            Command::Add => {
                let result = commands::add::run(&conf, &env, &daemon).await?;
                serde_json::to_string(&result).map(Some).map_err(|e| {
                    CniError::new(
                        code::DECODE_FAILED,
                        "cannot encode the result",
                        e.to_string(),
                    )
                })
            }
            Command::Del => commands::del::run(&conf, &env, &daemon)
                .await
                .map(|()| None),
            Command::Check => commands::check::run(&conf, &env, &daemon)
                .await
                .map(|()| None),
            Command::Gc => commands::gc::run(&conf, &daemon).await.map(|()| None),
            Command::Status => commands::status::run(&conf, &daemon).await.map(|()| None),
            Command::Version => Ok(Some(version_answer(stdin))),
        }
    })
}

/// VERSION: the versions this plugin speaks, in the version asked in.
fn version_answer(stdin: &str) -> String {
    json!({
        "cniVersion": config::version_of(stdin),
        "supportedVersions": SUPPORTED_VERSIONS,
    })
    .to_string()
}
