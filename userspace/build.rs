//! Embeds the eBPF object built by `cargo xtask build-ebpf`, when there is one.
//! Without it the binary still builds (for unit tests and clippy); the daemon
//! then refuses to start and says how to build the object.

use std::{env, fs, path::PathBuf};

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("set by cargo"));
    let object = manifest.join("../target/ebpf/ebpfnet.bpf.o");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("set by cargo")).join("ebpfnet.bpf.o");
    println!("cargo::rerun-if-changed={}", object.display());
    match fs::read(&object) {
        Ok(bytes) => fs::write(&out, bytes).expect("write OUT_DIR copy of the eBPF object"),
        Err(_) => {
            println!(
                "cargo::warning=no eBPF object at {}; run `cargo xtask build-ebpf` (the daemon needs it)",
                object.display()
            );
            fs::write(&out, []).expect("write empty eBPF placeholder");
        }
    }
}
