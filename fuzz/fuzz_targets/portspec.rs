//! `-p` specs: any text parses to a well-formed list of requests or gives
//! an error; what parses means the same when written back canonically.
#![no_main]

use std::net::IpAddr;

use ebpfnet::portspec::PortSpec;
use libfuzzer_sys::fuzz_target;

/// The address part of a canonical spec: none, `1.2.3.4` or `[::1]`.
fn address(ip: Option<IpAddr>) -> String {
    match ip {
        None => String::new(),
        Some(IpAddr::V4(ip)) => ip.to_string(),
        Some(IpAddr::V6(ip)) => format!("[{ip}]"),
    }
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(PortSpec(requests)) = text.parse::<PortSpec>() else {
        return;
    };
    let (Some(first), Some(last)) = (requests.first(), requests.last()) else {
        panic!("{text:?} parsed to no request at all");
    };
    if let Some(end) = first.host_port_end {
        // `START-END:PORT`: one request, a free host port of the range.
        let start = first.host_port.expect("a range has a start");
        assert!(requests.len() == 1 && start < end, "{text:?}: {requests:?}");
        let canonical = format!(
            "{}:{start}-{end}:{}/{}",
            address(first.host_ip),
            first.container_port,
            first.protocol
        );
        match canonical.parse::<PortSpec>() {
            Ok(PortSpec(again)) => assert_eq!(again, requests, "{text:?} vs {canonical:?}"),
            Err(e) => panic!("{text:?} parsed, but its canonical form does not: {e}"),
        }
        return;
    }
    for (i, request) in requests.iter().enumerate() {
        let step = u16::try_from(i).expect("at most 65535 ports");
        assert_eq!(
            (request.host_ip, request.protocol),
            (first.host_ip, first.protocol),
            "{text:?}: one spec, one address and protocol"
        );
        assert_eq!(
            request.container_port,
            first.container_port + step,
            "{text:?}"
        );
        assert_ne!(request.container_port, 0, "{text:?}: port 0 accepted");
        match (first.host_port, request.host_port) {
            (None, None) => {}
            (Some(start), Some(port)) => assert_eq!(port, start + step, "{text:?}"),
            _ => panic!("{text:?}: host ports given for only some requests"),
        }
    }
    // Written back in full (`IP:HOST-END:CONTAINER-END/PROTO`) it parses to
    // the same requests.
    let host = match (first.host_port, last.host_port) {
        (Some(start), Some(end)) => format!("{start}-{end}"),
        _ => String::new(),
    };
    let canonical = format!(
        "{}:{host}:{}-{}/{}",
        address(first.host_ip),
        first.container_port,
        last.container_port,
        first.protocol
    );
    match canonical.parse::<PortSpec>() {
        Ok(PortSpec(again)) => assert_eq!(again, requests, "{text:?} vs {canonical:?}"),
        Err(e) => panic!("{text:?} parsed, but its canonical form does not: {e}"),
    }
});
