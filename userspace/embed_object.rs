//! What `build.rs` embeds as the eBPF object: the pure decision, shared with
//! the unit tests (lib.rs includes this file under `cfg(test)`).
//!
//! A development build (`cargo build`, `cargo test`, clippy) may lack the
//! object: unit tests never load it, and the daemon then refuses to start
//! with a clear message. A build meant to be installed sets
//! [`REQUIRE_OBJECT_VAR`]`=1` (`cargo xtask install` and `cargo xtask build
//! --release` do), and then a missing or malformed object fails the build
//! instead of shipping a daemon that cannot start.

/// Set to `1` to make a missing or malformed eBPF object a build error.
pub const REQUIRE_OBJECT_VAR: &str = "EBPFNET_REQUIRE_OBJECT";

/// Every ELF file starts with these four bytes.
const ELF_MAGIC: &[u8] = b"\x7fELF";

#[derive(Debug, PartialEq, Eq)]
pub enum Embed {
    /// Embed these bytes (a real ELF object).
    Object(Vec<u8>),
    /// Embed an empty placeholder and warn: a development build.
    Placeholder { warning: String },
}

/// Whether the variable's value asks for the object ("1", "true", "yes").
pub fn object_required(value: Option<&str>) -> bool {
    matches!(
        value.map(|v| v.trim().to_ascii_lowercase()).as_deref(),
        Some("1" | "true" | "yes")
    )
}

/// Decides what to embed from what reading `path` gave. `Err` carries the
/// message that fails the build.
pub fn decide(path: &str, read: std::io::Result<Vec<u8>>, required: bool) -> Result<Embed, String> {
    let problem = match read {
        Ok(bytes) if bytes.starts_with(ELF_MAGIC) => return Ok(Embed::Object(bytes)),
        Ok(bytes) if bytes.is_empty() => format!("the eBPF object {path} is empty"),
        Ok(_) => format!("{path} is not an ELF object"),
        Err(e) => format!("no eBPF object at {path} ({e})"),
    };
    if required {
        Err(format!(
            "{problem}; {REQUIRE_OBJECT_VAR}=1 asks for a binary that can run its datapath: \
             build the object first with `cargo xtask build-ebpf` (`cargo xtask install` does)"
        ))
    } else {
        Ok(Embed::Placeholder {
            warning: format!(
                "{problem}; run `cargo xtask build-ebpf` (the daemon needs it to start)"
            ),
        })
    }
}

#[cfg(test)]
mod tests {
    use std::io::{Error, ErrorKind};

    use super::*;

    const PATH: &str = "target/ebpf/ebpfnet.bpf.o";

    fn missing() -> std::io::Result<Vec<u8>> {
        Err(Error::from(ErrorKind::NotFound))
    }

    #[test]
    fn a_real_object_is_embedded_whether_required_or_not() {
        let elf = b"\x7fELF\x02\x01\x01".to_vec();
        for required in [false, true] {
            assert_eq!(
                decide(PATH, Ok(elf.clone()), required),
                Ok(Embed::Object(elf.clone()))
            );
        }
    }

    #[test]
    fn a_development_build_gets_a_placeholder_and_a_warning() {
        match decide(PATH, missing(), false) {
            Ok(Embed::Placeholder { warning }) => {
                assert!(warning.contains(PATH), "{warning}");
                assert!(warning.contains("cargo xtask build-ebpf"), "{warning}");
            }
            other => panic!("expected a placeholder, got {other:?}"),
        }
    }

    #[test]
    fn a_required_object_that_is_missing_empty_or_not_elf_fails_the_build() {
        for read in [missing(), Ok(Vec::new()), Ok(b"not an object".to_vec())] {
            let error = decide(PATH, read, true).expect_err("must fail the build");
            assert!(error.contains(REQUIRE_OBJECT_VAR), "{error}");
            assert!(error.contains("cargo xtask build-ebpf"), "{error}");
        }
    }

    #[test]
    fn only_an_affirmative_value_requires_the_object() {
        for yes in ["1", "true", "YES", " 1\n"] {
            assert!(object_required(Some(yes)), "{yes:?}");
        }
        for no in [None, Some(""), Some("0"), Some("false"), Some("no")] {
            assert!(!object_required(no), "{no:?}");
        }
    }
}
