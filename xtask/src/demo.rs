//! `cargo xtask demo`: the main job end to end — a daemon, a network, two
//! containers, HTTP and ping between them — in an isolated setup that is
//! removed afterwards, printing each command like a shell transcript.

use std::fs;
use std::net::Ipv4Addr;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::build::{build, ebpfnet_binary};
use crate::cmd::{is_root, run, run_echo};
use crate::demo_env::{DemoEnv, OUTSIDE_NETNS, UPLINK, link_exists, netns_exists};
use crate::interrupt::{catch_interrupt, check_interrupted, interrupted};

const NETWORK: &str = "demo-net";
const GREETING: &str = "hello from web";

pub fn demo() -> Result<()> {
    if !is_root() {
        bail!(
            "`cargo xtask demo` must run as root: it creates network namespaces and eBPF programs"
        );
    }
    build(false)?;
    check_host_is_free()?;
    catch_interrupt()?;

    let ebpfnet = ebpfnet_binary(false);
    println!("\n(`ebpfnet` below is {})", ebpfnet.display());
    section("an outside namespace as uplink");
    let mut env = DemoEnv::create(ebpfnet)?;
    let result = run_steps(&mut env);
    if let Err(err) = &result {
        eprintln!("\ndemo failed: {err:#}");
        if !interrupted() {
            env.print_logs();
        }
    }
    let cleanup_errors = env.cleanup();
    for err in &cleanup_errors {
        eprintln!("cleanup: {err}");
    }
    result?;
    if !cleanup_errors.is_empty() {
        bail!("the demo ran, but cleaning up failed (see above)");
    }
    println!("\ndemo finished, everything it made is removed");
    Ok(())
}

/// The container names are namespace names, and the daemon makes bridge
/// `ebpfnet0`: refuse to run over anything that is not the demo's own.
fn check_host_is_free() -> Result<()> {
    for netns in ["web", "client", OUTSIDE_NETNS] {
        if netns_exists(netns) {
            bail!(
                "network namespace `{netns}` already exists; the demo needs that name and will \
                 not touch it (remove it with `ip netns del {netns}` if it is left over)"
            );
        }
    }
    if link_exists(UPLINK) {
        bail!("interface `{UPLINK}` already exists (left over? `ip link del {UPLINK}`)");
    }
    if link_exists("ebpfnet0") {
        bail!(
            "bridge `ebpfnet0` exists: ebpfnet seems to be in use on this host, and the demo's \
             daemon would create the same bridge; stop it and run `ebpfnet system reset` first"
        );
    }
    Ok(())
}

fn section(title: &str) {
    println!("\n== {title} ==");
}

fn run_steps(env: &mut DemoEnv) -> Result<()> {
    section("start the daemon");
    println!("$ {}", env.socket_export());
    env.start_daemon()?;

    section("a network and two containers");
    step(&mut env.ebpfnet(["network", "create", NETWORK]))?;
    step(&mut env.ebpfnet(["container", "create", "web", "--network", NETWORK]))?;
    step(&mut env.ebpfnet(["container", "create", "client", "--network", NETWORK]))?;
    let inspect = step_echo(&mut env.ebpfnet(["container", "inspect", "web"]))?;
    let web_ip = container_ip(&inspect, NETWORK).context("reading web's address")?;
    println!("(web's address on {NETWORK} is {web_ip})");

    section("an HTTP server in web");
    let www = env.dir.join("www");
    fs::create_dir_all(&www).with_context(|| format!("creating {}", www.display()))?;
    fs::write(www.join("index.html"), GREETING).context("writing index.html")?;
    env.start_http_server("web", &www)?;

    section("client reaches web");
    let fetch = format!(
        "import urllib.request;print(urllib.request.urlopen('http://{web_ip}/', timeout=5).read().decode())"
    );
    let page = step_echo(&mut env.ebpfnet(["exec", "client", "--", "python3", "-c", &fetch]))?;
    if !page.contains(GREETING) {
        bail!("client fetched {web_ip} but did not get `{GREETING}`");
    }
    let ip = web_ip.to_string();
    step(&mut env.ebpfnet(["exec", "client", "--", "ping", "-c", "2", &ip]))?;

    section("what ebpfnet knows");
    step(&mut env.ebpfnet(["network", "inspect", NETWORK]))?;
    step(&mut env.ebpfnet(["status"]))
}

/// A demo step: stops first if Ctrl-C was pressed (a command that got the
/// SIGINT, like ping, may still have exited 0).
fn step(cmd: &mut Command) -> Result<()> {
    check_interrupted()?;
    run(cmd)
}

fn step_echo(cmd: &mut Command) -> Result<String> {
    check_interrupted()?;
    run_echo(cmd)
}

/// The container's IPv4 address on `network`, from `container inspect` JSON.
fn container_ip(inspect_json: &str, network: &str) -> Result<Ipv4Addr> {
    let value: Value = serde_json::from_str(inspect_json).context("not JSON")?;
    let address = value
        .pointer(&format!("/0/NetworkSettings/Networks/{network}/IPAddress"))
        .and_then(Value::as_str)
        .with_context(|| format!("no NetworkSettings.Networks.{network}.IPAddress"))?;
    address
        .parse()
        .with_context(|| format!("`{address}` is not an IPv4 address"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_address_from_inspect_json() {
        let json = r#"[{"Name":"web","NetworkSettings":{"Networks":
            {"demo-net":{"IPAddress":"10.215.0.2","IPPrefixLen":16}}}}]"#;
        assert_eq!(
            container_ip(json, "demo-net").ok(),
            Some(Ipv4Addr::new(10, 215, 0, 2))
        );
        assert!(container_ip(json, "other").is_err());
        assert!(container_ip("[]", "demo-net").is_err());
    }
}
