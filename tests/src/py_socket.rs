//! Python functions that the test programs (python3 scripts in Rust
//! strings) share, so that a read loop or a UDP retry is written once:
//! `concat!` [`py_socket_fns`] after a script's imports (the script must
//! import `socket`).

/// Defines two python functions:
/// - `recv_until(s, end=None)`: reads from socket `s` until the end of
///   the stream, or until what came ends with `end`; returns all that came
///   (a timeout of the socket raises, as `recv` does).
/// - `udp_ask(s, data, addr, tries=2)`: sends `data` to `addr` from UDP
///   socket `s` and waits the socket's timeout for an answer, `tries` times
///   at most; returns the answer, or `b""` when none came.
macro_rules! py_socket_fns {
    () => {
        r#"
def recv_until(s, end=None):
    got = bytearray()
    while end is None or not got.endswith(end):
        d = s.recv(65536)
        if not d:
            break
        got += d
    return bytes(got)
def udp_ask(s, data, addr, tries=2):
    for _ in range(tries):
        s.sendto(data, addr)
        try:
            return s.recv(65535)
        except socket.timeout:
            pass
    return b""
"#
    };
}
pub(crate) use py_socket_fns;
