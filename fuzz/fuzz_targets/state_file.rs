//! The state file loader on any bytes: a clear error or a state, never a
//! panic; a loaded state saves and loads back the same, and what the daemon
//! derives from it at start (the name servers' view, hostnames) is built
//! without a panic either.
#![no_main]

use std::path::Path;

use ebpfnet::dns::View;
use ebpfnet::state::{decode, encode};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let path = Path::new("/fuzz/state.json");
    let Ok(state) = decode(path, data) else {
        return;
    };
    let saved = encode(&state);
    match decode(path, &saved) {
        Ok(again) => assert_eq!(again, state, "a saved state loads back different"),
        Err(e) => panic!("a loaded state saves to a file that does not load: {e}"),
    }
    let view = View::build(&state, &["192.0.2.53".parse().expect("an address")]);
    assert!(view.networks.len() <= state.networks.len());
    for container in state.containers.values() {
        assert!(!container.hostname().is_empty() || container.id.is_empty());
    }
});
