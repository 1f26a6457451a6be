//! The clients: each runs for a fixed time and returns what it measured.

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use crate::IO_TIMEOUT;

#[derive(clap::Args)]
pub struct Args {
    /// Server address, e.g. 198.18.4.1:8080
    #[arg(long)]
    target: SocketAddr,
    /// Seconds to run
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Request and reply size in bytes (rr, crr)
    #[arg(long, default_value_t = 64)]
    size: usize,
}

impl Args {
    fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.duration.max(0.1))
    }
}

/// What a client measured: operations (transactions, connections) or bytes.
pub struct Report {
    ops: u64,
    bytes: u64,
    errors: u64,
    seconds: f64,
    /// One latency per operation, in ns (empty for `stream`).
    latencies: Vec<u32>,
}

impl Report {
    pub fn json(mut self, mode: &str) -> String {
        self.latencies.sort_unstable();
        let pct = |p: f64| -> f64 {
            if self.latencies.is_empty() {
                return 0.0;
            }
            let idx = ((self.latencies.len() - 1) as f64 * p).round() as usize;
            f64::from(self.latencies[idx]) / 1000.0
        };
        format!(
            "{{\"mode\":\"{mode}\",\"ops\":{},\"errors\":{},\"seconds\":{:.4},\"rate\":{:.1},\
             \"gbit_s\":{:.4},\"p50_us\":{:.2},\"p90_us\":{:.2},\"p99_us\":{:.2}}}",
            self.ops,
            self.errors,
            self.seconds,
            self.ops as f64 / self.seconds,
            self.bytes as f64 * 8.0 / self.seconds / 1e9,
            pct(0.50),
            pct(0.90),
            pct(0.99),
        )
    }
}

fn connect(target: SocketAddr) -> io::Result<TcpStream> {
    let stream = TcpStream::connect_timeout(&target, IO_TIMEOUT)?;
    stream.set_nodelay(true)?;
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    Ok(stream)
}

fn nanos_since(start: Instant) -> u32 {
    u32::try_from(start.elapsed().as_nanos()).unwrap_or(u32::MAX)
}

pub fn rr(args: &Args) -> io::Result<Report> {
    let mut stream = connect(args.target)?;
    stream.write_all(b"e")?;
    let request = vec![b'x'; args.size.max(1)];
    let mut reply = vec![0u8; request.len()];
    let mut latencies = Vec::with_capacity(1 << 16);
    let begin = Instant::now();
    let end = begin + args.duration();
    while Instant::now() < end {
        let start = Instant::now();
        stream.write_all(&request)?;
        stream.read_exact(&mut reply)?;
        latencies.push(nanos_since(start));
    }
    Ok(Report {
        ops: latencies.len() as u64,
        bytes: 0,
        errors: 0,
        seconds: begin.elapsed().as_secs_f64(),
        latencies,
    })
}

/// One connection: connect, request, reply, close (we close first).
fn one_connection(target: SocketAddr, request: &[u8], reply: &mut [u8]) -> io::Result<()> {
    let mut stream = connect(target)?;
    stream.write_all(request)?;
    stream.read_exact(reply)
}

pub fn crr(args: &Args) -> io::Result<Report> {
    let mut request = vec![b'e'];
    request.resize(args.size.max(1) + 1, b'x');
    let mut reply = vec![0u8; args.size.max(1)];
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut errors = 0;
    let begin = Instant::now();
    let end = begin + args.duration();
    while Instant::now() < end {
        let start = Instant::now();
        match one_connection(args.target, &request, &mut reply) {
            Ok(()) => latencies.push(nanos_since(start)),
            Err(_) => errors += 1,
        }
    }
    Ok(Report {
        ops: latencies.len() as u64,
        bytes: 0,
        errors,
        seconds: begin.elapsed().as_secs_f64(),
        latencies,
    })
}

pub fn stream(args: &Args) -> io::Result<Report> {
    let mut stream = connect(args.target)?;
    stream.write_all(b"s")?;
    let chunk = vec![b'x'; 128 * 1024];
    let mut bytes = 0u64;
    let begin = Instant::now();
    let end = begin + args.duration();
    while Instant::now() < end {
        stream.write_all(&chunk)?;
        bytes += chunk.len() as u64;
    }
    // Count only what arrived: the server closes once it has read it all.
    stream.shutdown(Shutdown::Write)?;
    let mut rest = [0u8; 64];
    while stream.read(&mut rest)? > 0 {}
    Ok(Report {
        ops: 0,
        bytes,
        errors: 0,
        seconds: begin.elapsed().as_secs_f64(),
        latencies: Vec::new(),
    })
}
