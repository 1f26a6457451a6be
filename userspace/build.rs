//! Embeds the eBPF object built by `cargo xtask build-ebpf`. Without it a
//! development build still succeeds (for unit tests and clippy) and the daemon
//! refuses to start; with `EBPFNET_REQUIRE_OBJECT=1` (set by `cargo xtask
//! install` and `cargo xtask build --release`) a missing object fails the
//! build. The decision lives in embed_object.rs, which is unit-tested.

#[path = "embed_object.rs"]
mod embed_object;

use std::{env, fs, path::PathBuf, process::ExitCode};

use embed_object::{Embed, REQUIRE_OBJECT_VAR, decide, object_required};

fn main() -> ExitCode {
    let (Some(manifest), Some(out_dir)) =
        (env::var_os("CARGO_MANIFEST_DIR"), env::var_os("OUT_DIR"))
    else {
        println!("cargo::error=CARGO_MANIFEST_DIR and OUT_DIR must be set (run through cargo)");
        return ExitCode::FAILURE;
    };
    // etcd-client compiles etcd's .proto files with protoc; say so plainly
    // instead of leaving it to a panic deep in its build script.
    println!("cargo::rerun-if-env-changed=PROTOC");
    let protoc = env::var_os("PROTOC").unwrap_or_else(|| "protoc".into());
    if std::process::Command::new(&protoc)
        .arg("--version")
        .output()
        .is_err()
    {
        println!(
            "cargo::error=protoc ({}) not found: the etcd client (etcd-client) needs the protobuf \
             compiler to build. Run `cargo xtask setup`, or `apt-get install protobuf-compiler` \
             (or set PROTOC to its path)",
            protoc.to_string_lossy()
        );
        return ExitCode::FAILURE;
    }
    let object = PathBuf::from(manifest).join("../target/ebpf/ebpfnet.bpf.o");
    let out = PathBuf::from(out_dir).join("ebpfnet.bpf.o");
    println!("cargo::rerun-if-changed={}", object.display());
    println!("cargo::rerun-if-env-changed={REQUIRE_OBJECT_VAR}");

    let required = object_required(env::var(REQUIRE_OBJECT_VAR).ok().as_deref());
    let bytes = match decide(&object.display().to_string(), fs::read(&object), required) {
        Ok(Embed::Object(bytes)) => bytes,
        Ok(Embed::Placeholder { warning }) => {
            println!("cargo::warning={warning}");
            Vec::new()
        }
        Err(message) => {
            println!("cargo::error={message}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = fs::write(&out, bytes) {
        println!("cargo::error=cannot write {}: {e}", out.display());
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
