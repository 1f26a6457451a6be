//! The daemon's request decoder on any line a client could send: a request
//! or an error, never a panic; a decoded request survives being sent again.
#![no_main]

use ebpfnet::api::RequestEnvelope;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The daemon reads a UTF-8 line; anything else fails before decoding.
    let Ok(line) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(request) = RequestEnvelope::decode(line) else {
        return;
    };
    // What the CLI would send for this request decodes to the same request.
    let sent = serde_json::to_string(&request).expect("requests serialize");
    let again = RequestEnvelope::decode(&sent)
        .unwrap_or_else(|e| panic!("{line:?} decoded, but its re-encoding {sent:?} not: {e}"));
    let resent = serde_json::to_string(&again).expect("requests serialize");
    assert_eq!(sent, resent, "decoding {line:?} is not stable");
});
