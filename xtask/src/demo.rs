//! `cargo xtask demo`: the main job end to end — a daemon, a web container
//! with a published port fetched from an outside namespace through the
//! uplink and from the host, a client on the same network, the flows and
//! counters, the pinned maps through bpftool — in an isolated setup that is
//! removed afterwards, printing each command like a shell transcript.

use std::fs;
use std::net::Ipv4Addr;
use std::path::Path;
use std::process::Command;

use anyhow::{Context, Result, bail};
use serde_json::Value;

use crate::build::{build, ebpfnet_binary};
use crate::cmd::{command, display, is_root, output, run, run_echo};
use crate::demo_env::{DemoEnv, OUTSIDE_NETNS, UPLINK, UPLINK_IP, netns_exists};
use crate::interrupt::{catch_interrupt, check_interrupted, interrupted};
use crate::process::link_exists;
use crate::setup::setup;

const NETWORK: &str = "demo-net";
const GREETING: &str = "hello from web";

pub fn demo() -> Result<()> {
    if !is_root() {
        bail!(
            "`cargo xtask demo` must run as root: it creates network namespaces and eBPF programs"
        );
    }
    // bpftool and python3 too, even where the eBPF toolchain is ready.
    setup()?;
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

    section("a network, a web server and a client");
    step(&mut env.ebpfnet(["network", "create", NETWORK]))?;
    step(&mut env.ebpfnet(["container", "create", "web", "--network", NETWORK]))?;
    step(&mut env.ebpfnet(["container", "create", "client", "--network", NETWORK]))?;
    let inspect = step_echo(&mut env.ebpfnet(["container", "inspect", "web"]))?;
    let web_ip = container_ip(&inspect, NETWORK).context("reading web's address")?;
    println!("(web's address on {NETWORK} is {web_ip})");
    let www = env.dir.join("www");
    fs::create_dir_all(&www).with_context(|| format!("creating {}", www.display()))?;
    fs::write(www.join("index.html"), GREETING).context("writing index.html")?;
    env.start_http_server("web", &www)?;

    section("publish web's port 80 on the host's port 8080");
    step(&mut env.ebpfnet(["publish", "8080:80", "--container", "web"]))?;
    step(&mut env.ebpfnet(["port", "web"]))?;

    section("the outside fetches the page through the uplink");
    let published = format!("http://{UPLINK_IP}:8080/");
    fetch(&mut in_netns(OUTSIDE_NETNS, &fetch_script(&published)))?;

    section("the host fetches it on 127.0.0.1:8080 (socket hook, no NAT)");
    fetch(&mut python(&fetch_script("http://127.0.0.1:8080/")))?;

    section("client fetches web by its address (same network, no NAT)");
    let direct = fetch_script(&format!("http://{web_ip}/"));
    let exec = env.ebpfnet(["exec", "client", "--", "python3", "-c", &direct]);
    fetch(&mut without_proxy(exec))?;

    section("what the datapath saw");
    step(&mut env.ebpfnet(["flows"]))?;
    step(&mut env.ebpfnet(["stats"]))?;
    bpftool_dump(&env.pin_dir().join("PUBLISHED"), None)?;
    bpftool_dump(&env.pin_dir().join("NAT_TCP"), Some(34))?;

    section("unpublish: the outside is refused again");
    step(&mut env.ebpfnet(["unpublish", "8080:80", "--container", "web"]))?;
    let mut refused = in_netns(OUTSIDE_NETNS, &fetch_script(&published));
    check_interrupted()?;
    println!("$ {}", display(&refused));
    match output(&mut refused) {
        Ok(_) => bail!("{published} still answers after unpublish"),
        Err(err) => {
            let error = format!("{err:#}");
            println!("{}", error.lines().last().unwrap_or_default());
            println!("(refused, as expected: nothing is published on 8080 any more)");
        }
    }
    step(&mut env.ebpfnet(["status"]))
}

/// Python that prints the page at `url` (urllib, 5 s timeout).
fn fetch_script(url: &str) -> String {
    format!(
        "import urllib.request;print(urllib.request.urlopen('{url}', timeout=5).read().decode())"
    )
}

/// `python3 -c SCRIPT` on the host.
fn python(script: &str) -> Command {
    let mut cmd = command("python3");
    cmd.args(["-c", script]);
    without_proxy(cmd)
}

/// `ip netns exec NETNS python3 -c SCRIPT`.
fn in_netns(netns: &str, script: &str) -> Command {
    let mut cmd = command("ip");
    cmd.args(["netns", "exec", netns, "python3", "-c", script]);
    without_proxy(cmd)
}

/// urllib would send the demo's requests to a proxy set in the environment.
fn without_proxy(mut cmd: Command) -> Command {
    for var in ["http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"] {
        cmd.env_remove(var);
    }
    cmd
}

/// Runs a fetch and fails unless the page is the greeting.
fn fetch(cmd: &mut Command) -> Result<()> {
    let page = step_echo(cmd)?;
    if !page.contains(GREETING) {
        bail!("`{}` did not return `{GREETING}`", display(cmd));
    }
    Ok(())
}

/// `bpftool map dump pinned PATH`, all of it or its first `lines`.
fn bpftool_dump(path: &Path, lines: Option<usize>) -> Result<()> {
    check_interrupted()?;
    let mut cmd = command("bpftool");
    cmd.args(["map", "dump", "pinned"]).arg(path);
    let Some(lines) = lines else {
        return run(&mut cmd);
    };
    println!("$ {} | head -{lines}", display(&cmd));
    let dump = output(&mut cmd)?;
    let all: Vec<&str> = dump.lines().collect();
    for line in all.iter().take(lines) {
        println!("{line}");
    }
    if all.len() > lines {
        println!("(… {} more lines)", all.len() - lines);
    }
    Ok(())
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
