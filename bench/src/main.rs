//! `ebpfnet-bench`: the load generator of `cargo xtask bench`.
//!
//! One server (`server`) answers every client mode on one port: the client's
//! first byte picks echo (`e`) or sink (`s`). Clients use blocking sockets,
//! run for a fixed time and print one JSON line of results:
//! - `rr`: one connection, SIZE-byte request, SIZE-byte reply, repeat (TCP_RR);
//! - `crr`: connect, one request/reply, close, repeat (TCP_CRR);
//! - `stream`: one connection, write as fast as possible (bulk throughput);
//! - `spray`: one UDP datagram from each of many source pairs (flows resident).
//!
//! The server also discards UDP datagrams on its port (the sprayed flows' end).

mod client;
mod server;
mod spray;

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "ebpfnet-bench",
    about = "TCP load generator for `cargo xtask bench`"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand)]
enum Mode {
    /// Accept connections; echo those that start with `e`, discard `s` ones
    Server {
        #[arg(long, default_value = "0.0.0.0:80")]
        listen: SocketAddr,
        /// Threads blocked in accept(); each serves its connection to the end
        #[arg(long, default_value_t = 8)]
        threads: usize,
    },
    /// Request/response on one connection (TCP_RR-like)
    Rr(client::Args),
    /// Connect, one request/response, close, in a loop (TCP_CRR-like)
    Crr(client::Args),
    /// Bulk transfer on one connection
    Stream(client::Args),
    /// One UDP datagram from each of many (address, port) sources
    Spray(spray::Args),
}

fn main() -> ExitCode {
    let result = match Cli::parse().mode {
        Mode::Server { listen, threads } => server::serve(listen, threads),
        Mode::Rr(args) => client::rr(&args).map(|r| println!("{}", r.json("rr"))),
        Mode::Crr(args) => client::crr(&args).map(|r| println!("{}", r.json("crr"))),
        Mode::Stream(args) => client::stream(&args).map(|r| println!("{}", r.json("stream"))),
        Mode::Spray(args) => spray::spray(&args).map(|(sent, seconds)| {
            println!("{{\"mode\":\"spray\",\"sent\":{sent},\"seconds\":{seconds:.4}}}")
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("Error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Timeout for a connect or a reply: a lost SYN costs a retransmit (1 s),
/// which the results show as an error rather than a hang.
pub const IO_TIMEOUT: Duration = Duration::from_secs(2);
