//! What the Docker driver tests share: a test daemon serving the driver
//! (by flag or by daemon.json), busybox httpd containers, and requests from
//! outside, from the host and from inside Docker's containers.

use std::time::Duration;

use serde_json::Value;

use crate::daemon::TestEnv;
use crate::docker::{Dockerd, IMAGE, PAGE, plugin_for_this_run};
use crate::netns::{netns_exec, python};
use crate::traffic::{bpftool_dump, wait_for};

/// A test env whose daemon serves the driver (`--docker-plugin=SOCKET`).
pub fn env_with_plugin(tag: &str) -> TestEnv {
    let (_, socket) = plugin_for_this_run();
    TestEnv::with_daemon_args(tag, &[&format!("--docker-plugin={}", socket.display())])
}

/// As [`env_with_plugin`], the socket given by daemon.json's
/// `docker-plugin` key instead of the flag.
pub fn env_with_plugin_key(tag: &str) -> TestEnv {
    let (_, socket) = plugin_for_this_run();
    let mut env = TestEnv::without_daemon(tag);
    let config = env.dir.join("daemon.json");
    let text = serde_json::json!({ "docker-plugin": socket }).to_string();
    std::fs::write(&config, text).unwrap_or_else(|e| panic!("write {}: {e}", config.display()));
    env.daemon_args = vec!["--config-file".into(), config.display().to_string()];
    env.start_daemon();
    env
}

/// `GET url` with python3, from `ns` or the host; the body, or "" on failure.
pub fn http_get(ns: Option<&str>, url: &str) -> String {
    let script = "import sys,urllib.request\n\
        print(urllib.request.urlopen(sys.argv[1], timeout=3).read().decode(), end='')";
    let out = match ns {
        Some(ns) => netns_exec(ns, &[python(), "-c", script, url]),
        None => std::process::Command::new(python())
            .args(["-c", script, url])
            .output()
            .expect("python3"),
    };
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Whether `url` serves the image's [`PAGE`] from `ns` (or the host)
/// within 5 s.
pub fn serves_page_soon(ns: Option<&str>, url: &str) -> bool {
    wait_for(Duration::from_secs(5), || http_get(ns, url).contains(PAGE))
}

/// `docker network create -d DRIVER ARGS... NAME` with this run's ebpfnet
/// driver.
pub fn docker_network(docker: &Dockerd, name: &str, args: &[&str]) {
    let mut create = vec!["network", "create", "-d", &docker.driver];
    create.extend_from_slice(args);
    create.push(name);
    docker.ok(&create);
}

/// A Docker container on `network` that only sleeps: clients run in it.
pub fn sleeper(docker: &Dockerd, name: &str, network: &str) {
    let run = ["run", "-d", "--name", name, "--network", network, IMAGE];
    docker.ok(&[&run[..], &["sleep", "600"]].concat());
}

/// A busybox httpd serving [`PAGE`] on port 80, publishing `publish`.
pub fn httpd(docker: &Dockerd, name: &str, network: &str, publish: &[&str]) {
    let mut args = vec!["run", "-d", "--name", name, "--network", network];
    for p in publish {
        args.extend(["-p", p]);
    }
    args.extend([IMAGE, "httpd", "-f", "-v", "-p", "80", "-h", "/www"]);
    docker.ok(&args);
}

/// `GET /` on port 80 of `target` (a name or an address) from inside a
/// Docker container, with busybox `nc` (the static busybox's `wget`
/// crashes in glibc's resolver); the response, or "" on failure.
pub fn fetch_in(docker: &Dockerd, container: &str, target: &str) -> String {
    let out = docker.docker(&[
        "exec",
        container,
        "sh",
        "-c",
        &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 {target} 80"),
    ]);
    String::from_utf8_lossy(&out.stdout).to_string()
}

/// Entries of a pinned hash map whose key is `ifindex`.
pub fn endpoint_entries(env: &TestEnv, ifindex: u32) -> Vec<Value> {
    let dump = bpftool_dump(&env.pin_dir.join("ENDPOINTS"));
    dump.as_array()
        .into_iter()
        .flatten()
        .filter(|e| e["formatted"]["key"].as_u64() == Some(u64::from(ifindex)))
        .cloned()
        .collect()
}

/// What httpd logged (`-v`: one line a request, with the client address).
pub fn docker_logs(docker: &Dockerd, container: &str) -> String {
    let out = docker.docker(&["logs", container]);
    String::from_utf8_lossy(&out.stderr).to_string() + &String::from_utf8_lossy(&out.stdout)
}
